// Executor: runs a MergePlan's jobs on a pool of threads, writing each output tensor straight into
// its place in the pre-laid-out shard files. Jobs start largest first; a job's prepare (whole-tensor
// reductions) runs on one thread; its rows are then split into blocks that any thread may compute,
// and one writer thread makes the writes (write_queue.h). Output bytes do not depend on the thread
// count or the order: kernels are pure functions of their prepared state and the rows.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "io/output_layout.h"
#include "plan/merge_plan.h"

namespace alloy {

struct ExecOptions {
  int threads = 1;
  int64_t block_elements = 1 << 16;          // target elements per work block (one write)
  int64_t chunk_elements = 1 << 14;          // computed at a time inside a block (stays in L2)
  const std::atomic<bool>* cancel = nullptr;  // set (e.g. by a signal handler) to stop early
  // Start write-back of each finished tensor at once (sync_file_range), and with the writer thread
  // also flush the files in the background as the merge goes (background_flush.h), so the final
  // fsync has little left to do and dirty pages do not pile up.
  bool early_write_back = false;
  // With early_write_back and the writer thread: hand written bytes to the disk in ranges of this
  // many, and flush a file in the background each time this many more of it were handed over
  // (fewer flushes cost less but leave more to the final fsync; requests coalesce where the disk
  // is slower than the merge).
  uint64_t write_back_bytes = uint64_t{8} << 20;
  uint64_t flush_every_bytes = uint64_t{64} << 20;
  // Make every output write on one extra thread (write_queue.h), so that compute threads never
  // wait for the output file or the disk.
  bool writer_thread = true;
  // Drop the input pages from the page cache once a tensor's merge has read them for the last
  // time (deferred_drops.h), instead of leaving them cached (run_merge.h decides).
  bool drop_input_pages = false;
  // With drop_input_pages: how far behind the reads the pages go, per input of the widest job
  // (deferred_drops.h says why they wait).
  uint64_t drop_lag_per_input = uint64_t{32} << 20;
  // With early_write_back and the writer thread: drop the output's pages from the page cache once
  // a background flush has made them durable (run_merge.h decides).
  bool drop_output_pages = false;
  // Called from worker threads with (bytes written so far, total bytes); may be empty.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct ExecStats {
  uint64_t bytes_written = 0;
  uint64_t bytes_read = 0;
  double seconds = 0;
  int hand_overs = 0;  // ranges handed to the disk early (sync_file_range calls of the writer)
  int flushes = 0;     // background flushes made
};

// `shard_fds[s]` is an open, writable descriptor for layout.shards[s] (header already written or
// not: this writes tensor data only). Throws Error (the first one any thread hit) on failure,
// or "interrupted" when cancelled.
ExecStats execute(const MergePlan& plan, const OutputLayout& layout, const std::vector<int>& shard_fds,
                  const ExecOptions& options);

}  // namespace alloy
