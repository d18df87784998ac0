// The machine's own bounds, measured in the same run as the merges they bound: memory copy
// bandwidth with the merge's thread count, sequential reads of the input files from the page
// cache, and durable (write + fsync) disk bandwidth. Bandwidths are bytes per second; a copy
// counts the bytes read plus the bytes written, as a merge's effective bandwidth does.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace alloy::bench {

// Each of `threads` threads memcpy's its own `bytes_per_thread` buffer into another, `reps` times;
// the best repetition's (read + written) / seconds.
double copy_bandwidth(int threads, uint64_t bytes_per_thread, int reps);

// read() of every file into a 1 MiB buffer, each file split into `threads` contiguous parts read
// in parallel; the files must already be cached (see warm_page_cache). Best of `reps`.
double page_cache_read_bandwidth(const std::vector<std::filesystem::path>& files, int threads, int reps);

// The same reads through a fresh read-only mapping of each part (memcpy of 1 MiB pieces out of
// it), as an engine reading its inputs through mmap does: page-table setup and TLB misses
// included. Not a bound; a diagnostic for the read path.
double mapped_read_bandwidth(const std::vector<std::filesystem::path>& files, int threads, int reps);

// Reads every file once, so that it is in the page cache; returns the bytes read.
uint64_t warm_page_cache(const std::vector<std::filesystem::path>& files);

// write() of `bytes` to a new file in `dir` in 8 MiB pieces, then fsync; the file is removed.
double durable_write_bandwidth(const std::filesystem::path& dir, uint64_t bytes);

// pwrite() of `bytes` into one new file in `dir` (e.g. the tmpfs of the memory regime) by `threads`
// threads, each writing 128 KiB pieces of its own contiguous part, as the executor writes blocks;
// no fsync. The file is removed.
double buffered_write_bandwidth(const std::filesystem::path& dir, uint64_t bytes, int threads);

// Cold start. Evicts the files' pages from the page cache (sync, then posix_fadvise DONTNEED on
// each file: needs no privileges, and works for files no process has mapped), and returns the
// fraction of their pages still cached afterwards (mincore), 0 when the eviction worked.
double evict_from_page_cache(const std::vector<std::filesystem::path>& files);
// Seconds to read every file once, sequentially in 1 MiB reads, as `cat files > /dev/null` does
// (call evict_from_page_cache first for a cold read). With a `drop_lag`, each file's pages leave the
// page cache that many bytes behind the reads, as `alloy merge --input-cache drop` drops its
// inputs: the reads then reuse the pages they freed instead of taking new ones from the kernel.
double sequential_read_seconds(const std::vector<std::filesystem::path>& files, uint64_t drop_lag = 0);
// Bytes available to unprivileged users on the filesystem holding `dir`.
uint64_t free_bytes(const std::filesystem::path& dir);

}  // namespace alloy::bench
