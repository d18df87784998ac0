// WeightSource: where the engine gets a model's weights, as f32, one named tensor at a time.
// The engine asks for a block's tensors when the block runs and lets them go after, so a source
// that converts on demand (CheckpointWeights) keeps only one block in f32 beside the mapped files;
// MemoryWeights serves tensors a caller holds (merged weights computed in memory).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tensor/tensor_view.h"

namespace alloy {

class Checkpoint;
struct ExpectedTensor;

// The f32 values of one tensor: borrowed from the source or owned by this handle.
struct Weight {
  Shape shape;
  std::span<const float> values;
  std::vector<float> owned;  // backs `values` where the source converted
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool has(const std::string& name) const = 0;
  // Throws Error naming the tensor when the source lacks it.
  virtual Shape shape(const std::string& name) const = 0;
  virtual Weight get(const std::string& name) const = 0;
};

// Tensors of a checkpoint, converted to f32 from any float dtype when asked.
class CheckpointWeights : public WeightSource {
 public:
  explicit CheckpointWeights(std::shared_ptr<const Checkpoint> checkpoint);
  bool has(const std::string& name) const override;
  Shape shape(const std::string& name) const override;
  Weight get(const std::string& name) const override;
  const Checkpoint& checkpoint() const { return *checkpoint_; }

 private:
  std::shared_ptr<const Checkpoint> checkpoint_;
};

struct MemoryTensor {
  Shape shape;
  std::vector<float> values;
};

// Tensors held in memory by name; get() borrows them (no copy).
class MemoryWeights : public WeightSource {
 public:
  MemoryWeights() = default;
  explicit MemoryWeights(std::map<std::string, MemoryTensor> tensors);
  // Adds or replaces a tensor; throws Error when values and shape disagree.
  void set(const std::string& name, Shape shape, std::vector<float> values);
  bool has(const std::string& name) const override;
  Shape shape(const std::string& name) const override;
  Weight get(const std::string& name) const override;
  const std::map<std::string, MemoryTensor>& tensors() const { return tensors_; }
  std::map<std::string, MemoryTensor>& tensors() { return tensors_; }

 private:
  const MemoryTensor& find(const std::string& name) const;
  std::map<std::string, MemoryTensor> tensors_;
};

// Checks that `weights` has every expected tensor in its expected shape; throws Error naming the
// first that is missing or differs, and what needs it (`model`: "LlamaForCausalLM", ...).
void require_tensors(const WeightSource& weights, const std::vector<ExpectedTensor>& expected,
                     const std::string& model);

}  // namespace alloy
