#include "cli/output_options.h"

#include "tensor/ggml_type_rules.h"
#include "util/error.h"
#include "util/size_text.h"

namespace alloy {

void add_output_options(CLI::App& cmd, OutputOptionText& text) {
  text.shard_size_option =
      cmd.add_option("--out-shard-size", text.shard_size,
                     "largest output shard, bytes; suffixes K/M/B (x1e3/1e6/1e9), KB/MB/GB, KiB/MiB/GiB (GGUF: "
                     "split parts as gguf-split cuts them, none unless given)")
          ->capture_default_str();
  cmd.add_option("--out-format", text.out_format,
                 "safetensors, or gguf (llama.cpp: OUT/model.gguf, split parts with --out-shard-size, or the one "
                 "file OUT when it ends in .gguf); auto: gguf when OUT ends in .gguf")
      ->check(CLI::IsMember({"auto", "safetensors", "gguf"}))
      ->capture_default_str();
  cmd.add_option("--out-type", text.out_type,
                 std::string(out_type_names()) + ": GGUF output quantised on the way out, each tensor in the type "
                 "llama.cpp's tools give it (docs/gguf.md); safetensors output takes f32, f16 and bf16");
}

void apply_output_options(const OutputOptionText& text, MergeOptions& opt) {
  try {
    opt.out_shard_size = parse_size_text(text.shard_size, SizeUnit::Bytes);
  } catch (const Error& e) {
    rethrow_with("--out-shard-size", e);
  }
  if (!text.out_type.empty()) {
    opt.out_type = parse_out_type(text.out_type);
    if (!opt.out_type) fail("--out-type: unknown type '", text.out_type, "' (", out_type_names(), ")");
  }
  const bool gguf_name = opt.out.extension() == ".gguf";
  if (text.out_format == "safetensors" && gguf_name)
    fail("--out-format safetensors: OUT ", opt.out.string(), " ends in .gguf; name a directory");
  if (text.out_format == "gguf" || (text.out_format == "auto" && gguf_name)) {
    opt.out_format = OutFormat::Gguf;
    // llama.cpp's tools write one file unless asked to split.
    if (text.shard_size_option->count() == 0) opt.out_shard_size = 0;
  }
}

}  // namespace alloy
