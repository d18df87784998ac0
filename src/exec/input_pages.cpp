#include "exec/input_pages.h"

#include <algorithm>

#include "os/page_hints.h"

namespace alloy {

namespace {

// fn(file) for each mapped file of each input model.
template <class Fn>
void for_each_input_shard(const MergePlan& plan, Fn fn) {
  for (const auto& model : plan.models)
    if (model.checkpoint)
      for (const InputFile& file : model.checkpoint->files()) fn(file);
}

}  // namespace

InputPages::InputPages(const MergePlan& plan, bool drop, uint64_t drop_lag_per_input) : plan_(plan) {
  for_each_input_shard(plan_, [&](const InputFile& input) {
    const MappedFile& file = *input.mapping;
    if (file.data()) files_.push_back({file.data(), file.size(), file.fd()});
  });
  std::sort(files_.begin(), files_.end(), [](const MappedInput& a, const MappedInput& b) { return a.begin < b.begin; });
  if (!drop) return;
  size_t inputs = 1;
  for (const auto& job : plan_.jobs) inputs = std::max(inputs, job.call.inputs.size());
  drops_ = std::make_unique<DeferredDrops>(drop_lag_per_input * inputs);
  for_each_input_shard(plan_, [&](const InputFile& input) {
    drops_->expect_file(input.mapping->fd(), input.data_start, input.mapping->size());
  });
  std::set<const std::byte*> seen;
  for (const auto& job : plan_.jobs)
    for (const auto& in : job.call.inputs)
      if (in.view.file_mapped && !seen.insert(in.view.data).second) shared_views_.insert(in.view.data);
}

const InputPages::MappedInput* InputPages::file_of(const std::byte* p) const {
  auto it = std::upper_bound(files_.begin(), files_.end(), p,
                             [](const std::byte* q, const MappedInput& f) { return q < f.begin; });
  if (it == files_.begin()) return nullptr;
  --it;
  return p < it->begin + it->size ? &*it : nullptr;
}

bool InputPages::dropping_after_read(const TensorView& v) const {
  return drops_ && v.file_mapped && !shared_views_.count(v.data);
}

void InputPages::release(const TensorView& v, int64_t row_begin, int64_t row_end, bool last_read) const {
  const int64_t rows = std::min(row_end, v.rows()) - row_begin;
  if (rows <= 0 || !v.file_mapped) return;
  const uint64_t row_bytes = v.row_bytes();
  const uint64_t offset = static_cast<uint64_t>(row_begin) * row_bytes, len = static_cast<uint64_t>(rows) * row_bytes;
  release_pages(v.data + offset, len);
  if (last_read && dropping_after_read(v))
    if (const MappedInput* file = file_of(v.data))
      drops_->add(file->fd, static_cast<uint64_t>(v.data - file->begin) + offset, len);
}

void InputPages::prefetch(const TensorView& v) const {
  if (!v.file_mapped) return;
  const MappedInput* file = file_of(v.data);
  prefetch_pages(v.data, v.nbytes, file ? file->fd : -1);
}

void InputPages::rows_done(const MergeCall& call, size_t input, int64_t row_begin, int64_t row_end) {
  constexpr uint64_t kKeepMappedBytes = uint64_t{128} << 20;
  uint64_t mapped = 0;
  for (const MergeInput& in : call.inputs) mapped += in.view.nbytes;
  if (mapped > kKeepMappedBytes) release(call.inputs[input].view, row_begin, row_end, false);
}

// Each tensor dropped its own pages (and the folios it shares with tensors dropped too), but the
// page cache drops no page that is mapped: a fault maps up to 64 KB of cached pages around itself,
// of the tensors beside it too; a folio shared with bytes no job drops (a tensor read by several
// jobs, or by none) stays. So at the end, each input file read is unmapped and dropped whole.
void InputPages::finish() const {
  if (!drops_) return;
  drops_->drop_all();
  std::set<int> read;  // descriptors of the files the jobs read
  for (const auto& job : plan_.jobs)
    for (const auto& in : job.call.inputs)
      if (const MappedInput* file = in.view.file_mapped ? file_of(in.view.data) : nullptr) read.insert(file->fd);
  for (const MappedInput& file : files_) {
    if (file.fd < 0 || !read.count(file.fd)) continue;
    release_pages(file.begin, file.size);
    drop_from_page_cache(file.fd, 0, file.size);
  }
}

}  // namespace alloy
