// InputPages: the executor's care of the pages its inputs map. Rows a job has merged leave the
// process's resident set (os/page_hints.h); with drop_input_pages, rows read for the last time
// also leave the page cache some way behind the reads (os/deferred_drops.h), and each input file
// read goes whole at the end. Methods see none of this: they tell rows done (methods/merge_call.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "os/deferred_drops.h"
#include "plan/merge_plan.h"

namespace alloy {

class InputPages final : public RowsDone {
 public:
  // `drop`: drop input pages from the page cache once read, `drop_lag_per_input` bytes per input
  // of the widest job behind the reads.
  InputPages(const MergePlan& plan, bool drop, uint64_t drop_lag_per_input);

  // Releases rows [row_begin, row_end) of input view v from this process's memory; with
  // `last_read`, queues them to leave the page cache too where dropping_after_read(v).
  void release(const TensorView& v, int64_t row_begin, int64_t row_end, bool last_read) const;
  // Whether v's pages leave the page cache once read for the last time: with `drop`, for inputs
  // of one job (those of several, a frankenmerge's repeated layers, go only at the end).
  bool dropping_after_read(const TensorView& v) const;
  // Starts reading v from disk (a no-op for pages already cached).
  void prefetch(const TensorView& v) const;
  // At the end of a run: drops what is still queued, and each input file read, whole.
  void finish() const;

  // A pass's rows done (for_each_block): released, except for tensors whose inputs map at most
  // 128 MiB together: those keep their pages for the next pass, usually the merge (mapping them
  // again costs more than the passes' reading).
  void rows_done(const MergeCall& call, size_t input, int64_t row_begin, int64_t row_end) override;

 private:
  struct MappedInput {
    const std::byte* begin;
    uint64_t size;
    int fd;
  };
  // The input file whose mapping holds p; nullptr for bytes no input shard maps.
  const MappedInput* file_of(const std::byte* p) const;

  const MergePlan& plan_;
  std::vector<MappedInput> files_;  // every input shard's mapping, by address
  std::unique_ptr<DeferredDrops> drops_;     // with `drop`
  std::set<const std::byte*> shared_views_;  // with `drop`: inputs of more than one job
};

}  // namespace alloy
