#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "tokenizer/sentencepiece_proto.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {
namespace {

std::optional<int32_t> id_if_set(int id) {
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file,
                                               Normalizer normalizer)
    : file_(model_file), processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  std::string proto = read_whole_file(model_file, "SentencePiece model", kMaxSentencePieceModelBytes);
  // Refused before the normalizer edit, which appends bytes that could complete a truncated field.
  const auto pieces = model_pieces(proto);
  if (!pieces) fail(model_file.string(), ": not a SentencePiece model (not well-formed protobuf)");
  for (size_t i = 0; i < pieces->size(); ++i)
    if ((*pieces)[i].empty() || (*pieces)[i].front() == '\0')
      fail(model_file.string(), ": piece ", i, " of the vocabulary is ",
           (*pieces)[i].empty() ? "empty" : "a string that starts with a NUL byte",
           "; SentencePiece cannot index it (the file is damaged or not a tokenizer.model)");
  if (normalizer == Normalizer::like_llama_cpp) proto = with_llama_cpp_normalizer(proto);
  const auto status = processor_->LoadFromSerializedProto(proto);
  if (!status.ok())
    fail(model_file.string(), ": not a SentencePiece model (", status.ToString(), ")");
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  if (!status.ok()) fail(file_.string(), ": cannot encode text (", status.ToString(), ")");
  return {ids.begin(), ids.end()};
}

std::string SentencePieceTokenizer::decode(std::span<const int32_t> ids) const {
  const int size = processor_->GetPieceSize();
  for (int32_t id : ids)
    if (id < 0 || id >= size) fail(file_.string(), ": token id ", id, " is outside the vocabulary of ", size);
  std::string text;
  const auto status = processor_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!status.ok()) fail(file_.string(), ": cannot decode ids (", status.ToString(), ")");
  return text;
}

int32_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }
std::optional<int32_t> SentencePieceTokenizer::bos_id() const { return id_if_set(processor_->bos_id()); }
std::optional<int32_t> SentencePieceTokenizer::eos_id() const { return id_if_set(processor_->eos_id()); }
std::optional<int32_t> SentencePieceTokenizer::pad_id() const { return id_if_set(processor_->pad_id()); }

std::optional<int32_t> SentencePieceTokenizer::token_to_id(std::string_view token) const {
  // PieceToId answers unk_id for a piece it lacks: only an id whose piece is `token` is a match.
  const int id = processor_->PieceToId(token);
  if (id < 0 || processor_->IdToPiece(id) != token) return std::nullopt;
  return id;
}

}  // namespace alloy
