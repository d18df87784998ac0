// Page hints for mapped input bytes: inputs are read through memory maps, and a mapped page
// stays in the process's resident set once touched. Releasing the pages of rows already merged
// keeps resident memory at a few blocks per thread whatever the tensor's size (the pages stay in
// the page cache, so a later pass over them is a minor fault, not a read); prefetching starts
// reading a tensor from disk before a thread needs it.
#pragma once
#include <cstdint>

namespace alloy {

// Drops the whole pages inside [p, p + len) from this process's resident set. No-op on failure.
// Only for read-only file mappings: dropped pages of private memory would read back as zeros.
void release_pages(const void* p, uint64_t len);
// Asks the kernel to read the pages overlapping [p, p + len) ahead (asynchronously).
void prefetch_pages(const void* p, uint64_t len);

}  // namespace alloy
