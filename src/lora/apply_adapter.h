// Applying a PEFT LoRA adapter to its base model as the base is opened for a merge
// (`model+path/to/adapter` in a recipe): each adapted weight W reads as W + scale·B·A
// (tensor/low_rank_addend.h, tensor/adapted_views.h), computed row by row while merging, and
// modules_to_save tensors read from the adapter file instead of the base. Nothing is written to disk.
#pragma once
#include <filesystem>
#include <memory>

#include "io/checkpoint.h"

namespace alloy {

// The adapter directory holds adapter_config.json and adapter_model.safetensors (or
// adapter_model.bin). Throws Error naming the adapter file and the tensor or key for every
// adapter tensor it cannot place on the base, shape mismatches (naming both tensors) and refused
// configuration keys (lora/adapter_config.h).
// The base is opened here, for the adapted checkpoint alone: its views are told apart from other
// views of the same files by their addresses.
std::shared_ptr<const Checkpoint> open_with_lora_adapter(const std::filesystem::path& base,
                                                         const CheckpointOptions& options,
                                                         const std::filesystem::path& adapter_dir);

}  // namespace alloy
