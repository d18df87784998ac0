#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace alloy {

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir) {
  // tokenizer.json first: where both exist it is what transformers loads (the fast tokenizer).
  if (std::filesystem::exists(model_dir / "tokenizer.json"))
    return std::make_unique<HfTokenizer>(model_dir / "tokenizer.json", model_dir / "tokenizer_config.json");
  if (std::filesystem::exists(model_dir / "tokenizer.model"))
    return std::make_unique<SentencePieceTokenizer>(model_dir / "tokenizer.model");
  fail(model_dir.string(), ": no tokenizer.json or tokenizer.model in this directory");
}

}  // namespace alloy
