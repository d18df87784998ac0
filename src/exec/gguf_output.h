// The GGUF output of a merge plan (`alloy merge --out-format gguf`): each output tensor's llama.cpp
// name, dimensions, ggml type and row order, and the file's metadata, laid out as one file or a
// split set (io/gguf_writer.h). From Hugging Face (safetensors) inputs of the Llama family: the
// names, q/k row permutation, llama.* keys and tokenizer keys of llama.cpp's convert_hf_to_gguf.py;
// from GGUF inputs: the donor's names and metadata, with the keys a merge changes set anew.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "io/output_layout.h"
#include "plan/merge_plan.h"

namespace alloy {

struct GgufOutputOptions {
  std::string file_name = "model.gguf";  // or the stem of split parts: "model-00001-of-00002.gguf"
  std::string model_name;                // general.name
  uint64_t max_split_bytes = 0;          // 0: one file
  // The file type (--out-type); none: each tensor's merge dtype (f32, f16 or bf16), or the stored
  // type of a quantised input written unchanged. Either way the type rules of llama.cpp's tools
  // (tensor/ggml_type_rules.h) pick each merged tensor's type.
  std::optional<GgmlType> out_type;
  bool tokenizer = true;                     // write the donor's tokenizer keys (--copy-tokenizer)
  std::optional<std::string> chat_template;  // the recipe's, over the donor's
};

// Lays out the GGUF output of `plan`. Jobs that were byte copies but whose bytes change on the way
// (another type, llama.cpp's row order) become passthrough merges; jobs that write one input
// unchanged whose stored bytes already are the output's (same type, rotary orders that cancel)
// become byte copies, so quantised blocks pass through without being dequantised. Throws Error naming the tensor
// or key when the output cannot be written as llama.cpp would read it.
OutputLayout layout_gguf_output(MergePlan& plan, const GgufOutputOptions& options);

}  // namespace alloy
