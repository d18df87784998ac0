// GgufFile: GGUF images written byte by byte in the tests (tests/gguf_bytes.h) are read back with
// every value type, tensor infos in both dimension orders and the alignment; then broken on purpose
// (truncated, bad counts, misaligned offsets, huge strings, nested-array bombs, bad types) and
// each break must give an Error that says what is wrong, never a crash or a huge allocation.
#include "io/gguf_file.h"

#include <gtest/gtest.h>

#include <cstring>

#include "../../tests/gguf_bytes.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using namespace alloy::testing;

GgufHeader parse(const std::string& bytes) {
  return parse_gguf_header(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
}

// The error message parsing `bytes` gives ("" and a test failure when it parses).
std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "the file was accepted";
  return "";
}

#define EXPECT_ERROR(bytes, text) EXPECT_NE(error_of(bytes).find(text), std::string::npos) << error_of(bytes)

std::string repeat_byte(size_t n, int value) { return std::string(n, static_cast<char>(value)); }

// A small valid file: three tensors of different types, the last one 32 bytes long so that the
// file ends exactly where its data does (no trailing padding).
GgufBuilder three_tensors() {
  GgufBuilder b;
  b.kv_string("general.architecture", "llama");
  b.tensor("token_embd.weight", {4, 3}, 0, f32_data({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  b.tensor("blk.0.attn_q.weight", {256, 2}, 12, repeat_byte(2 * 144, 0x5A));
  b.tensor("output_norm.weight", {16}, 1, repeat_byte(32, 0x3C));
  return b;
}

TEST(GgufFile, ReadsEveryMetadataType) {
  GgufBuilder b;
  b.kv("v.u8", kU8, u8_bytes(200))
      .kv("v.i8", kI8, u8_bytes(static_cast<uint8_t>(-5)))
      .kv("v.u16", kU16, u16_bytes(65535))
      .kv("v.i16", kI16, u16_bytes(static_cast<uint16_t>(-300)))
      .kv("v.u32", kU32, u32_bytes(4000000000u))
      .kv("v.i32", kI32, u32_bytes(static_cast<uint32_t>(-70000)))
      .kv("v.f32", kF32, f32_bytes(1.5f))
      .kv("v.bool", kBool, u8_bytes(1))
      .kv("v.string", kString, gguf_string("héllo"))
      .kv("v.u64", kU64, u64_bytes((1ULL << 63) + 5))
      .kv("v.i64", kI64, u64_bytes(static_cast<uint64_t>(-(1LL << 40))))
      .kv("v.f64", kF64, f64_bytes(0.1))
      .kv("v.u32s", kArray, array_payload(kU32, 3, u32_bytes(7) + u32_bytes(8) + u32_bytes(4000000000u)))
      .kv("v.strings", kArray, array_payload(kString, 2, gguf_string("a") + gguf_string("hello")))
      .kv("v.nested", kArray,
          array_payload(kArray, 2,
                        array_payload(kI16, 2, u16_bytes(static_cast<uint16_t>(-1)) + u16_bytes(2)) +
                            array_payload(kString, 1, gguf_string("x"))))
      .kv("v.empty", kArray, array_payload(kF32, 0, ""));
  GgufHeader h = parse(b.build());
  ASSERT_EQ(h.metadata.size(), 16u);
  EXPECT_EQ(h.metadata[0].key, "v.u8");
  EXPECT_EQ(h.find("v.u8")->as_int(), 200);
  EXPECT_EQ(h.find("v.i8")->as_int(), -5);
  EXPECT_EQ(h.find("v.u16")->as_int(), 65535);
  EXPECT_EQ(h.find("v.i16")->as_int(), -300);
  EXPECT_EQ(h.find("v.u32")->as_int(), 4000000000LL);
  EXPECT_EQ(h.find("v.i32")->as_int(), -70000);
  EXPECT_EQ(h.find("v.f32")->real, 1.5);
  EXPECT_EQ(h.find("v.f32")->type, GgufType::F32);
  EXPECT_EQ(h.find("v.bool")->as_int(), 1);
  EXPECT_EQ(h.find("v.string")->text, "héllo");
  EXPECT_EQ(h.find("v.u64")->unsigned_integer, (1ULL << 63) + 5);
  EXPECT_FALSE(h.find("v.u64")->as_int());  // beyond int64
  EXPECT_EQ(h.find("v.i64")->as_int(), -(1LL << 40));
  EXPECT_EQ(h.find("v.f64")->real, 0.1);
  const GgufValue& u32s = *h.find("v.u32s");
  EXPECT_EQ(u32s.type, GgufType::ARRAY);
  EXPECT_EQ(u32s.element_type, GgufType::U32);
  ASSERT_EQ(u32s.count, 3u);
  EXPECT_EQ(u32s.element(1).as_int(), 8);
  EXPECT_EQ(u32s.element(2).as_int(), 4000000000LL);
  EXPECT_EQ(h.find("v.strings")->strings, (std::vector<std::string>{"a", "hello"}));
  const GgufValue& nested = *h.find("v.nested");
  ASSERT_EQ(nested.arrays.size(), 2u);
  EXPECT_EQ(nested.arrays[0].element_type, GgufType::I16);
  EXPECT_EQ(nested.arrays[0].element(0).as_int(), -1);
  EXPECT_EQ(nested.arrays[0].element(1).as_int(), 2);
  EXPECT_EQ(nested.arrays[1].strings, std::vector<std::string>{"x"});
  EXPECT_EQ(h.find("v.empty")->count, 0u);
  EXPECT_EQ(gguf_value_text(u32s), "[u32 × 3: 7, 8, 4000000000]");
  EXPECT_EQ(gguf_value_text(*h.find("v.i8")), "-5");
  EXPECT_EQ(h.find("missing"), nullptr);
  EXPECT_TRUE(h.tensors.empty());
}

TEST(GgufFile, TensorInfosInGgmlAndPyTorchOrder) {
  const std::string bytes = three_tensors().build();
  GgufHeader h = parse(bytes);
  EXPECT_EQ(h.version, 3u);
  EXPECT_EQ(h.alignment, 32u);
  ASSERT_EQ(h.tensors.size(), 3u);
  const GgufTensorInfo& embd = h.tensors[0];
  EXPECT_EQ(embd.ne, (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(embd.shape, (Shape{3, 4}));
  EXPECT_EQ(embd.numel, 12u);
  EXPECT_EQ(embd.nbytes, 48u);
  EXPECT_EQ(embd.row_length(), 4u);
  EXPECT_EQ(embd.row_count(), 3u);
  const GgufTensorInfo& q = h.tensors[1];
  EXPECT_EQ(q.type, GgmlType::Q4_K);
  EXPECT_EQ(q.shape, (Shape{2, 256}));
  EXPECT_EQ(q.nbytes, 2u * 144);
  EXPECT_EQ(q.row_bytes(), 144u);
  EXPECT_EQ(q.offset, 64u);  // 48 bytes, padded to 32
  EXPECT_EQ(h.tensors[2].offset, 64u + 288);
  EXPECT_EQ(h.tensors[2].type, GgmlType::F16);
  // The data section starts at the first multiple of 32 after the infos, and the file ends with
  // the last tensor's 32 bytes.
  EXPECT_EQ(h.data_start % 32, 0u);
  EXPECT_EQ(h.data_start + 64 + 288 + 32, bytes.size());
  float second_row[4];
  std::memcpy(second_row, bytes.data() + embd.file_offset + 16, 16);
  EXPECT_EQ(second_row[0], 4.0f);
  EXPECT_EQ(second_row[3], 7.0f);
  EXPECT_EQ(static_cast<uint8_t>(bytes[q.file_offset]), 0x5A);
}

TEST(GgufFile, GeneralAlignmentMovesTheDataSection) {
  GgufBuilder b = three_tensors();
  b.alignment = 256;
  b.kv_u32("general.alignment", 256);
  const std::string bytes = b.build();
  GgufHeader h = parse(bytes);
  EXPECT_EQ(h.alignment, 256u);
  EXPECT_EQ(h.data_start % 256, 0u);
  EXPECT_EQ(h.tensors[1].offset, 256u);
  EXPECT_EQ(h.tensors[2].offset, 768u);  // 256 + 288, padded to 256
  float first;
  std::memcpy(&first, bytes.data() + h.tensors[0].file_offset + 4, 4);
  EXPECT_EQ(first, 1.0f);
}

TEST(GgufFile, VersionTwoIsReadVersionOneAndOthersAreRefused) {
  GgufBuilder b = three_tensors();
  b.version = 2;
  EXPECT_EQ(parse(b.build()).tensors.size(), 3u);
  b.version = 1;
  EXPECT_ERROR(b.build(), "GGUF version 1 is not supported");
  b.version = 0x03000000;  // version 3 written big-endian
  EXPECT_ERROR(b.build(), "big-endian");
  b.version = 7;
  EXPECT_ERROR(b.build(), "unsupported GGUF version 7");
  EXPECT_ERROR("GGML" + std::string(20, '\0'), "not a GGUF file");
}

TEST(GgufFile, EveryTruncationIsAnError) {
  const std::string bytes = three_tensors().build();
  ASSERT_NO_THROW(parse(bytes));
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      parse(bytes.substr(0, n));
      ADD_FAILURE() << "a file cut to " << n << " of " << bytes.size() << " bytes was accepted";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_TRUE(m.find("ends") != std::string::npos || m.find("past the end") != std::string::npos ||
                  m.find("impossible") != std::string::npos || m.find("bytes left") != std::string::npos)
          << "cut to " << n << ": " << m;
    }
  }
}

TEST(GgufFile, BadCountsAreRefused) {
  GgufBuilder b = three_tensors();
  b.tensor_count = 1ULL << 60;
  EXPECT_ERROR(b.build(), "tensor count 1152921504606846976 is impossible");
  b.tensor_count = 4;  // one more info than written: the data is read as an info
  EXPECT_THROW(parse(b.build()), Error);
  b.tensor_count.reset();
  b.kv_count = 1ULL << 62;
  EXPECT_ERROR(b.build(), "metadata count 4611686018427387904 is impossible");
  b.kv_count = 2;  // the first tensor info is read as a key/value pair
  EXPECT_THROW(parse(b.build()), Error);
}

TEST(GgufFile, MisalignedAndMisplacedTensorsAreRefused) {
  GgufBuilder b;
  b.tensor("a", {8}, 0, f32_data(std::vector<float>(8, 1.0f)), 16);
  EXPECT_ERROR(b.build(), "tensor 'a': data offset 16 is not a multiple of the alignment 32");
  GgufBuilder past;
  past.tensor("a", {8}, 0, f32_data(std::vector<float>(8, 1.0f)), 1ULL << 40);
  EXPECT_ERROR(past.build(), "run past the end of the file");
  GgufBuilder overlap;
  overlap.tensor("a", {16}, 0, f32_data(std::vector<float>(16, 1.0f)));
  overlap.tensor("b", {8}, 0, f32_data(std::vector<float>(8, 2.0f)), 32);
  EXPECT_ERROR(overlap.build(), "tensors 'a' and 'b' overlap");
  GgufBuilder twice;
  twice.tensor("a", {8}, 0, f32_data(std::vector<float>(8, 1.0f)));
  twice.tensor("a", {8}, 0, f32_data(std::vector<float>(8, 1.0f)));
  EXPECT_ERROR(twice.build(), "tensor 'a' appears twice");
}

TEST(GgufFile, BadAlignmentKeysAreRefused) {
  GgufBuilder b = three_tensors();
  b.kv_u32("general.alignment", 48);
  EXPECT_ERROR(b.build(), "'general.alignment' is 48; it must be a power of two");
  GgufBuilder zero = three_tensors();
  zero.kv_u32("general.alignment", 0);
  EXPECT_ERROR(zero.build(), "must be a power of two");
  GgufBuilder text = three_tensors();
  text.kv_string("general.alignment", "32");
  EXPECT_ERROR(text.build(), "'general.alignment' is a string, not an unsigned integer");
}

TEST(GgufFile, HugeStringsAreRefusedBeforeAllocating) {
  GgufBuilder key;
  key.kvs = u64_bytes(1ULL << 62) + std::string(20, 'a');
  key.kv_written = 1;
  EXPECT_ERROR(key.build(), "metadata key 0 has length 4611686018427387904, more than the 20 bytes left");
  GgufBuilder value;
  value.kv("general.name", kString, u64_bytes(~0ULL) + "x");
  EXPECT_ERROR(value.build(), "the string value of 'general.name' has length 18446744073709551615");
  GgufBuilder in_array;
  in_array.kv("tokenizer.ggml.tokens", kArray, array_payload(kString, 2, gguf_string("a") + u64_bytes(1ULL << 50)));
  EXPECT_ERROR(in_array.build(), "element 1 of 'tokenizer.ggml.tokens' has length 1125899906842624");
  GgufBuilder name;
  name.tensor(std::string(64, 'n'), {8}, 0, f32_data(std::vector<float>(8, 1.0f)));
  EXPECT_ERROR(name.build(), "tensor 0 has a name of 64 bytes; ggml allows at most 63");
}

TEST(GgufFile, NestedArrayBombsAreRefused) {
  // A thousand arrays each holding the next: refused at the depth limit, without recursing on.
  std::string deep = array_payload(kU8, 0, "");
  for (int i = 0; i < 1000; ++i) deep = array_payload(kArray, 1, deep);
  GgufBuilder depth;
  depth.kv("bomb", kArray, deep);
  EXPECT_ERROR(depth.build(), "metadata key 'bomb': arrays nested more than 8 deep");
  // Counts far beyond what the bytes can hold, at each level.
  GgufBuilder wide;
  wide.kv("bomb", kArray, array_payload(kArray, 1ULL << 40, array_payload(kU8, 0, "")));
  EXPECT_ERROR(wide.build(), "array of 1099511627776 array elements needs at least 12 bytes each");
  GgufBuilder inner;
  inner.kv("bomb", kArray, array_payload(kArray, 1, array_payload(kU64, 1ULL << 61, "")));
  EXPECT_ERROR(inner.build(), "array of 2305843009213693952 u64 elements needs at least 8 bytes each");
  // Arrays of arrays that the bytes do hold, more of them than the per-file limit.
  std::string many;
  const std::string empty = array_payload(kU8, 0, "");
  many.reserve(empty.size() * (kGgufMaxNestedArrays + 1));
  for (uint64_t i = 0; i <= kGgufMaxNestedArrays; ++i) many += empty;
  GgufBuilder count;
  count.kv("bomb", kArray, array_payload(kArray, kGgufMaxNestedArrays + 1, many));
  EXPECT_ERROR(count.build(), "more than 1048576 nested arrays in the file");
}

TEST(GgufFile, BadValuesAndTypesAreRefused) {
  EXPECT_ERROR(GgufBuilder().kv("flag", kBool, u8_bytes(2)).build(), "metadata key 'flag': bool value is 2");
  EXPECT_ERROR(GgufBuilder().kv("flags", kArray, array_payload(kBool, 2, u8_bytes(1) + u8_bytes(7))).build(),
               "bool element 1 is 7");
  EXPECT_ERROR(GgufBuilder().kv("odd", 13, u8_bytes(0)).build(), "metadata key 'odd' has unknown value type 13");
  EXPECT_ERROR(GgufBuilder().kv("odd", kArray, array_payload(99, 0, "")).build(), "unknown value type 99");
  EXPECT_ERROR(GgufBuilder().kv("k", kU8, u8_bytes(1)).kv("k", kU8, u8_bytes(2)).build(),
               "metadata key 'k' appears twice");
  EXPECT_ERROR(GgufBuilder().kv("", kU8, u8_bytes(1)).build(), "metadata key 0 is empty");

  auto one_tensor = [](std::vector<uint64_t> ne, uint32_t type, size_t bytes) {
    GgufBuilder b;
    b.tensor("t", std::move(ne), type, std::string(bytes, '\0'));
    return b.build();
  };
  EXPECT_ERROR(one_tensor({32}, 4, 18), "tensor 't' has unknown ggml type id 4");
  EXPECT_ERROR(one_tensor({100, 2}, 2, 200), "its row length 100 (ne[0]) is not a multiple of Q4_0's block size 32");
  EXPECT_ERROR(one_tensor({1, 1, 1, 1, 1}, 0, 4), "tensor 't' has 5 dimensions; ggml allows at most 4");
  EXPECT_ERROR(one_tensor({1ULL << 40, 1ULL << 40}, 0, 4), "the element count overflows int64");
  EXPECT_ERROR(one_tensor({1ULL << 63, 1}, 0, 4), "dimension 0 is 9223372036854775808, beyond int64");
  // A type that is known but cannot be decoded still parses: inspect lists it, dequantising refuses.
  EXPECT_EQ(parse(one_tensor({256}, 16, 66)).tensors[0].type, GgmlType::IQ2_XXS);
}

TEST(GgufFile, OpenNamesTheFile) {
  TempDir dir;
  write_file(dir / "bad.gguf", "GGUF" + u32_bytes(3));
  try {
    GgufFile::open(dir / "bad.gguf");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "bad.gguf").string() +
                                         ": the file ends inside the tensor count (8 bytes needed at offset 8, 0 left)");
  }
  write_file(dir / "good.gguf", three_tensors().build());
  auto f = GgufFile::open(dir / "good.gguf");
  const GgufTensorInfo* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  float v;
  std::memcpy(&v, f->data(*embd) + 8, 4);
  EXPECT_EQ(v, 2.0f);
  EXPECT_EQ(f->find_tensor("missing"), nullptr);
  EXPECT_EQ(f->find_value("general.architecture")->text, "llama");
}

}  // namespace
}  // namespace alloy
