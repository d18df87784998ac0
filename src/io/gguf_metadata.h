// The metadata of a GGUF output. From a Hugging Face Llama-family config.json: the general.* and
// llama.* keys llama.cpp's convert_hf_to_gguf.py writes, in its order (the tokenizer keys follow,
// gguf_vocab.h). From a GGUF donor: its metadata as it is, with the keys a merge changes set anew.
// Both get the merge's provenance: general.base_model.count and general.base_model.N.*.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf_file.h"

namespace alloy {

// What a merge says about its output, whatever the inputs.
struct GgufGeneral {
  std::string name;                      // general.name: the output's name
  uint64_t parameters = 0;               // general.size_label, as the converter rounds it ("293K")
  uint32_t file_type = 0;                // general.file_type (llama_ftype)
  std::vector<std::string> base_models;  // recipe labels of the merged models: "org/name" or paths
};

// llama_ftype of a file whose bulk is `type` (F32 -> ALL_F32, F16 -> MOSTLY_F16, Q4_K -> MOSTLY_Q4_K_S, ...).
uint32_t gguf_file_type(GgmlType type);

// The converter's size label: 292800 -> "293K", 6.74e9 -> "6.7B".
std::string gguf_size_label(uint64_t parameters);

// Keys for a LlamaForCausalLM-shaped config.json (llama, mistral): general.architecture .. general.
// quantization_version. Throws Error naming the key for a missing hyper-parameter or a RoPE scaling
// the converter would write extra tensors for (llama3).
std::vector<GgufKeyValue> gguf_llama_metadata(const nlohmann::json& config, const GgufGeneral& general);

// The donor's metadata with split.* keys dropped, general.name, general.size_label,
// general.file_type and <arch>.block_count set, and its general.base_model.* replaced by the merge's.
std::vector<GgufKeyValue> gguf_donor_metadata(const std::vector<GgufKeyValue>& donor, const GgufGeneral& general,
                                              uint32_t block_count);

}  // namespace alloy
