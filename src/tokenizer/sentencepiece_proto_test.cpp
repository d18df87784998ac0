// model_pieces against libsentencepiece's own reading of a real tokenizer.model, and on ModelProtos
// built here byte by byte from the protobuf wire format; SentencePieceTokenizer's refusal of the
// pieces libsentencepiece would abort on (the sentencepiece_model fuzzer's finding).
#include "tokenizer/sentencepiece_proto.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tokenizer/sentencepiece_tokenizer.h"
#include "util/error.h"
#include "util/read_whole_file.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

std::string varint(uint64_t value) {
  std::string out;
  for (; value >= 0x80; value >>= 7) out += static_cast<char>((value & 0x7f) | 0x80);
  out += static_cast<char>(value);
  return out;
}

std::string bytes_field(int number, std::string_view bytes) {
  return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(bytes.size()) + std::string(bytes);
}

// A SentencePiece message: piece (1), score (2, float) and type (3; 2 is UNKNOWN).
std::string piece_entry(std::string_view piece, bool unknown = false) {
  std::string entry = bytes_field(1, piece) + '\x15' + std::string(4, '\0');
  if (unknown) entry += std::string{'\x18', '\x02'};
  return bytes_field(1, entry);
}

// A Unigram model (the default model type) with an unknown piece and `piece`.
std::string unigram_model(std::string_view piece) { return piece_entry("<unk>", true) + piece_entry(piece); }

TEST(ModelPieces, ReadsTheVocabularyAsLibsentencepieceDoes) {
  const auto file = std::filesystem::path(ALLOY_SHARED_DIR) / "stories260K/base/tokenizer.model";
  const std::string proto = read_whole_file(file, "SentencePiece model", kMaxSentencePieceModelBytes);
  sentencepiece::SentencePieceProcessor processor;
  ASSERT_TRUE(processor.LoadFromSerializedProto(proto).ok());
  const auto pieces = model_pieces(proto);
  ASSERT_TRUE(pieces);
  ASSERT_EQ(pieces->size(), static_cast<size_t>(processor.GetPieceSize()));
  for (size_t id = 0; id < pieces->size(); ++id) EXPECT_EQ((*pieces)[id], processor.IdToPiece(static_cast<int>(id))) << id;
}

TEST(ModelPieces, FollowsProtobufsRules) {
  // The last piece field of an entry wins; an entry without one has the empty piece.
  EXPECT_EQ(*model_pieces(bytes_field(1, bytes_field(1, "a") + bytes_field(1, "b"))), std::vector<std::string_view>{"b"});
  EXPECT_EQ(*model_pieces(bytes_field(1, "")), std::vector<std::string_view>{""});
  // Other fields, a group (field 9: start key 0x4b, end key 0x4c) and a 2-byte length are skipped or read.
  const std::string long_piece(200, 'x');
  const std::string other = std::string{'\x10', '\x05'} + "\x4b\x08\x01\x4c" + bytes_field(2, "spec");
  EXPECT_EQ(*model_pieces(other + piece_entry(long_piece) + other), std::vector<std::string_view>{long_piece});
  // Malformed: a length past the end, a varint that never ends, an unmatched group, wire type 7.
  EXPECT_FALSE(model_pieces("\x0a\x05" "ab"));
  EXPECT_FALSE(model_pieces(std::string(11, '\xff')));
  EXPECT_FALSE(model_pieces("\x4b\x08\x01"));
  EXPECT_FALSE(model_pieces("\x0f"));
}

std::string refusal(const std::string& proto) {
  const auto file = std::filesystem::temp_directory_path() / ("alloy_pieces_" + std::to_string(::getpid()) + ".model");
  std::ofstream(file, std::ios::binary) << proto;
  std::string message;
  try {
    SentencePieceTokenizer tokenizer(file);
  } catch (const Error& e) {
    message = e.what();
  }
  std::filesystem::remove(file);
  if (!message.empty()) {
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  }
  return message;
}

// libsentencepiece keys its trie by C strings: a piece starting with NUL (the fuzzer's input) is an
// empty key, on which the library aborts the process inside LoadFromSerializedProto. It refuses an
// empty piece itself, and takes a NUL later in a piece (the key is cut there).
TEST(SentencePieceModel, RefusesPiecesTheLibraryCannotIndex) {
  EXPECT_EQ(refusal(unigram_model("a")), "");  // the same model with an ordinary piece loads
  EXPECT_EQ(refusal(unigram_model(std::string("a\0b", 3))), "");
  EXPECT_NE(refusal(unigram_model("")).find("piece 1 of the vocabulary is empty"), std::string::npos);
  EXPECT_NE(refusal(unigram_model(std::string("\0\0\0", 3))).find("piece 1 of the vocabulary is a string that starts with a NUL byte"),
            std::string::npos);
  EXPECT_NE(refusal(piece_entry(std::string("\0", 1), true) + piece_entry("a")).find("piece 0 "), std::string::npos);
}

// Malformed bytes are refused before the llama.cpp normalizer edit, whose appended bytes could
// complete a truncated last field into a piece the checks above never saw.
TEST(SentencePieceModel, RefusesMalformedProtobufBeforeEditingIt) {
  const std::string truncated = unigram_model("a") + "\x0a\x28" + piece_entry(std::string("\0", 1));
  EXPECT_NE(refusal(truncated).find("not well-formed protobuf"), std::string::npos);
}

}  // namespace ALLOY_TEST_FILE_NAMESPACE
}  // namespace alloy
