// Page hints for mapped input bytes: inputs are read through memory maps, and a mapped page
// stays in the process's resident set once touched. Releasing the pages of rows already merged
// keeps resident memory at a few blocks per thread whatever the tensor's size (the pages stay in
// the page cache, so a later pass over them is a minor fault, not a read); prefetching starts
// reading a tensor from disk before a thread needs it.
#pragma once
#include <cstdint>

namespace alloy {

// Drops every page overlapping [p, p + len) from this process's resident set, the pages it shares
// with the bytes on either side included. No-op on failure. Only for read-only file mappings: a
// dropped page of one is mapped again from the page cache by the next read (a minor fault), while
// dropped pages of private memory would read back as zeros.
// Why outward: a page-cache folio of 2 MB is mapped whole by one fault, so a small tensor (a norm's
// weights, a few KB) would hold its folio mapped if only the pages inside it were dropped.
void release_pages(const void* p, uint64_t len);
// Asks the kernel to read the pages overlapping [p, p + len) of a file mapping ahead
// (asynchronously), all of them. Given the open file (`fd`), and where the kernel tells this
// process the truth about its pages, parts already in the page cache are skipped.
void prefetch_pages(const void* p, uint64_t len, int fd = -1);

// Drops the page-cache pages wholly inside bytes [offset, offset + len) of the open file `fd`
// that no process maps (the kernel keeps the others, and those at the range's partial ends), so
// that reading inputs once does not fill the page cache with them: a later read goes to the disk.
// No-op on failure.
void drop_from_page_cache(int fd, uint64_t offset, uint64_t len);

}  // namespace alloy
