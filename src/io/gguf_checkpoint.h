// A GGUF model (one file or a split set) as a Checkpoint. With llama.cpp names (merging GGUF into
// GGUF) its tensors keep their names and its metadata stands in for config.json, nested at the
// dots ("llama.block_count" is config["llama"]["block_count"]). Otherwise a Llama-family model is
// presented as its Hugging Face twin: HF tensor names, q/k rows read back in HF order, and the
// config.json convert_hf_to_gguf.py read, rebuilt from the metadata. Quantised tensors are views
// of their blocks, dequantised row by row when read (tensor/view_rows.h).
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/gguf_model.h"

namespace alloy {

// Throws Error naming the file and the tensor, key or type that cannot be read as asked.
std::shared_ptr<const Checkpoint> open_gguf_checkpoint(const std::filesystem::path& path,
                                                       const CheckpointOptions& options);

// The Hugging Face config.json of a Llama-family GGUF (llama.* or qwen2.* keys); throws Error
// naming the key that is missing or that has no config.json equivalent alloy writes.
nlohmann::json hf_config_from_gguf(const GgufModel& model);

}  // namespace alloy
