#include "model/weight_source.h"

#include "io/checkpoint.h"
#include "model/model_config.h"
#include "tensor/convert.h"
#include "tensor/view_rows.h"
#include "util/error.h"

namespace alloy {

CheckpointWeights::CheckpointWeights(std::shared_ptr<const Checkpoint> checkpoint)
    : checkpoint_(std::move(checkpoint)) {}

bool CheckpointWeights::has(const std::string& name) const { return checkpoint_->has(name); }

Shape CheckpointWeights::shape(const std::string& name) const { return checkpoint_->tensor(name).shape; }

Weight CheckpointWeights::get(const std::string& name) const {
  const TensorView view = checkpoint_->tensor(name);
  if (!traits(view.dtype).is_float)
    fail(checkpoint_->path().string(), ": tensor ", name, " has dtype ", dtype_name(view.dtype),
         "; the engine reads float weights only");
  Weight w;
  w.shape = view.shape;
  w.owned.resize(static_cast<size_t>(view.numel()));
  read_view_rows(view, 0, view.rows(), w.owned.data());
  w.values = w.owned;
  return w;
}

MemoryWeights::MemoryWeights(std::map<std::string, MemoryTensor> tensors) : tensors_(std::move(tensors)) {
  for (const auto& [name, t] : tensors_)
    if (numel(t.shape) != static_cast<int64_t>(t.values.size()))
      fail("in-memory weights: tensor ", name, " has ", t.values.size(), " values for shape ", shape_str(t.shape));
}

void MemoryWeights::set(const std::string& name, Shape shape, std::vector<float> values) {
  if (numel(shape) != static_cast<int64_t>(values.size()))
    fail("in-memory weights: tensor ", name, " has ", values.size(), " values for shape ", shape_str(shape));
  tensors_[name] = MemoryTensor{std::move(shape), std::move(values)};
}

const MemoryTensor& MemoryWeights::find(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("in-memory weights: no tensor ", name);
  return it->second;
}

bool MemoryWeights::has(const std::string& name) const { return tensors_.count(name) != 0; }
Shape MemoryWeights::shape(const std::string& name) const { return find(name).shape; }

Weight MemoryWeights::get(const std::string& name) const {
  const MemoryTensor& t = find(name);
  Weight w;
  w.shape = t.shape;
  w.values = t.values;
  return w;
}

void require_tensors(const WeightSource& weights, const std::vector<ExpectedTensor>& expected,
                     const std::string& model) {
  for (const ExpectedTensor& t : expected) {
    if (!weights.has(t.name))
      fail("model weights: tensor ", t.name, " is missing (", model, " with this config.json needs it)");
    const Shape shape = weights.shape(t.name);
    if (shape != t.shape)
      fail("model weights: tensor ", t.name, " has shape ", shape_str(shape), ", config.json implies ",
           shape_str(t.shape));
  }
}

}  // namespace alloy
