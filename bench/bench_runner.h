// Runs one merge in a forked child so that its peak resident memory (ru_maxrss: anonymous memory
// plus every mapped file page it touched) and CPU time (ru_utime, ru_stime) come from wait4 and
// belong to that merge alone. The parent keeps its own memory small (the child inherits it).
#pragma once
#include <cstdint>
#include <string>

#include "bench_cgroup.h"
#include "exec/run_merge.h"
#include "tensor/convert_simd.h"

namespace alloy::bench {

struct MergeRun {
  enum class Status { Ok, Skipped, Failed };
  Status status = Status::Failed;
  std::string message;         // the error, for Skipped and Failed
  double wall_s = 0;           // fork to reap, as the parent's clock sees it
  double merge_s = 0;          // run_merge's own timing (plan to rename)
  double user_s = 0, sys_s = 0;
  // The whole machine's CPU time over the run, from /proc/stat (all cores together; -1 when
  // unknown): steal is time a virtual CPU was ready to run and the hypervisor ran something else
  // (its own emulation of our disk writes, among others), idle + iowait what nothing wanted.
  double machine_steal_s = -1, machine_idle_s = -1;
  uint64_t max_rss_bytes = 0;
  uint64_t cgroup_peak_bytes = 0;  // in a memory cgroup: the most it held, page cache included
  uint64_t bytes_read = 0, bytes_written = 0;
};

// `kernels`: the conversion kernels the child uses (nullptr: the automatic choice).
// `cgroup`: the memory cgroup the child joins before it merges (nullptr: none).
MergeRun run_merge_in_child(const MergeOptions& options, const ConvertKernels* kernels,
                            const MemoryCgroup* cgroup = nullptr);

// This process's resident set size now (from /proc/self/statm), bytes; 0 when unknown.
uint64_t current_rss_bytes();

}  // namespace alloy::bench
