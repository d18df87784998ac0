// Targets of the parsers that take a path: the shard index, config.json, tokenizers, PyTorch .bin
// files. The input is written to a scratch file first, so the whole reading path (open, size,
// parse) is exercised.
#include <cstring>
#include <string>

#include "fuzz_target.h"
#include "eval/pairs.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/encoder_config.h"
#include "model/model_config.h"
#include "read_every_tensor.h"
#include "scratch_file.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/special_tokens.h"

namespace alloy::fuzz {
namespace {

// Text with ASCII, accents, CJK, digits and whitespace runs: reaches every tokenizer stage.
constexpr std::string_view kSampleText = "Hello  world, h\xc3\xa9llo \xe4\xb8\xad\xe6\x96\x87 123!\n\tend";

// A directory holding one real shard with tensors "a" and "b"; the fuzzed index points into it.
const std::filesystem::path& index_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = scratch_dir() / "checkpoint";
    std::filesystem::create_directories(d);
    static const float values[6] = {1, 2, 3, 4, 5, 6};
    TensorView a, b;
    a.shape = {2, 2};
    a.data = reinterpret_cast<const std::byte*>(values);
    a.nbytes = 4 * sizeof(float);
    b.shape = {2};
    b.data = a.data + a.nbytes;
    b.nbytes = 2 * sizeof(float);
    write_safetensors(d / "model-00001-of-00001.safetensors", {{"a", a}, {"b", b}});
    return d;
  }();
  return dir;
}

// A model directory whose pytorch_model.bin is rewritten with each input.
const std::filesystem::path& torch_model_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = scratch_dir() / "torch_model";
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

void exercise(const Tokenizer& tokenizer) {
  std::vector<int32_t> ids = tokenizer.encode(kSampleText);
  tokenizer.decode(ids);
  tokenizer.vocab_size();
}

}  // namespace

Outcome fuzz_safetensors_index(std::span<const uint8_t> input) {
  const std::filesystem::path& dir = index_dir();
  write_scratch("checkpoint/model.safetensors.index.json", input);
  auto checkpoint = Checkpoint::open(dir);
  for (const std::string& name : checkpoint->tensor_names()) checkpoint->tensor(name);
  return Outcome::accepted;
}

// As a merge reads a model given as a directory: open, list, then every tensor's values as f32
// through the reader every merge input goes through.
Outcome fuzz_torch_bin(std::span<const uint8_t> input) {
  const std::filesystem::path& dir = torch_model_dir();
  write_scratch("torch_model/pytorch_model.bin", input);
  read_every_tensor(*Checkpoint::open(dir));
  return Outcome::accepted;
}

Outcome fuzz_config_json(std::span<const uint8_t> input) {
  nlohmann::json config = read_json_file(write_scratch("config.json", input));
  if (is_encoder_config(config))
    encoder_tensors(encoder_config_from_json(config, [](const std::string&) { return false; }));
  else
    decoder_tensors(decoder_config_from_json(config, true));
  return Outcome::accepted;
}

Outcome fuzz_tokenizer_json(std::span<const uint8_t> input) {
  exercise(HfTokenizer(write_scratch("tokenizer.json", input)));
  return Outcome::accepted;
}

Outcome fuzz_sentencepiece_model(std::span<const uint8_t> input) {
  exercise(SentencePieceTokenizer(write_scratch("tokenizer.model", input)));
  return Outcome::accepted;
}

// The special tokens a model's tokenizer_config.json names, looked up in the fixture family's
// tokenizer.json (a seed of tokenizer_json that must be accepted), read once.
Outcome fuzz_tokenizer_config(std::span<const uint8_t> input) {
  static const std::string tokenizer_file =
      (std::filesystem::path(ALLOY_SOURCE_DIR) / "tests/corpus/tokenizer_json/ok-fixture-family").string();
  static const HfTokenizer tokenizer(tokenizer_file);
  read_special_token_ids(write_scratch("tokenizer_config.json", input), tokenizer, tokenizer_file);
  return Outcome::accepted;
}

Outcome fuzz_probe_pairs(std::span<const uint8_t> input) {
  read_pairs(write_scratch("pairs.jsonl", input));
  return Outcome::accepted;
}

}  // namespace alloy::fuzz
