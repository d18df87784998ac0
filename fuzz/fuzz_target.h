// Fuzz targets: one per parser of files alloy reads from strangers. Each takes arbitrary bytes,
// runs the parser as alloy would on a file holding them, and says whether they were accepted.
// A refusal must be an alloy::Error; anything else that escapes (another exception, a crash, a
// sanitizer report, a hang, an allocation past the fuzzer's limit) is a finding. The same table
// drives the libFuzzer binaries (fuzz/libfuzzer_entry.cpp) and the corpus replay of `make test`
// (tests/corpus_replay_test.cpp). A new parser adds one file in fuzz/targets/ and one row here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace alloy::fuzz {

enum class Outcome { accepted, refused };

struct FuzzTarget {
  std::string_view name;  // also the corpus folder: tests/corpus/<name>/
  Outcome (*run)(std::span<const uint8_t> input);
};

Outcome fuzz_safetensors_header(std::span<const uint8_t> input);
Outcome fuzz_safetensors_index(std::span<const uint8_t> input);
Outcome fuzz_gguf(std::span<const uint8_t> input);
Outcome fuzz_recipe_yaml(std::span<const uint8_t> input);
Outcome fuzz_moe_yaml(std::span<const uint8_t> input);
Outcome fuzz_config_json(std::span<const uint8_t> input);
Outcome fuzz_tokenizer_json(std::span<const uint8_t> input);
Outcome fuzz_sentencepiece_model(std::span<const uint8_t> input);
Outcome fuzz_tokenizer_config(std::span<const uint8_t> input);
Outcome fuzz_probe_pairs(std::span<const uint8_t> input);
Outcome fuzz_torch_bin(std::span<const uint8_t> input);
Outcome fuzz_torch_pickle(std::span<const uint8_t> input);
Outcome fuzz_lora_adapter(std::span<const uint8_t> input);
Outcome fuzz_gguf_model(std::span<const uint8_t> input);

inline constexpr FuzzTarget kFuzzTargets[] = {
    {"safetensors_header", fuzz_safetensors_header},
    {"safetensors_index", fuzz_safetensors_index},
    {"gguf", fuzz_gguf},
    {"recipe_yaml", fuzz_recipe_yaml},
    {"moe_yaml", fuzz_moe_yaml},
    {"config_json", fuzz_config_json},
    {"tokenizer_json", fuzz_tokenizer_json},
    {"sentencepiece_model", fuzz_sentencepiece_model},
    {"tokenizer_config", fuzz_tokenizer_config},
    {"probe_pairs", fuzz_probe_pairs},
    {"torch_bin", fuzz_torch_bin},
    {"torch_pickle", fuzz_torch_pickle},
    {"lora_adapter", fuzz_lora_adapter},
    {"gguf_model", fuzz_gguf_model},
};

}  // namespace alloy::fuzz
