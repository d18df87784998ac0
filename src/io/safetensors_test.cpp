// Tests of the safetensors reader and writer: every kind of corrupt file must give an Error naming
// the file and the problem (never a crash, hang or huge allocation), and written files must round
// trip with padded headers, naturally aligned tensors and zero-copy views.
#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../../tests/page_cache.h"
#include "../../tests/test_support.h"
#include "os/page_hints.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;

using testing::TempDir;
using testing::write_file;

std::string u64_le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A safetensors image built by hand: length prefix (the header's size unless `declared_length`
// is given), the header text as is (no padding), then `data_bytes` bytes of data.
std::string raw_file(const std::string& header, uint64_t data_bytes,
                     std::optional<uint64_t> declared_length = std::nullopt) {
  std::string data(data_bytes, '\0');
  for (uint64_t i = 0; i < data_bytes; ++i) data[i] = static_cast<char>(i * 7 + 1);
  return u64_le(declared_length.value_or(header.size())) + header + data;
}

// The message of the Error that opening `path` throws; a test failure when nothing is thrown.
std::string open_error(const fs::path& path) {
  return testing::error_message([&] { SafetensorsFile::open(path); }, path.string() + " opened");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Corrupt files: each case is a file image and the words its error message must contain.

struct CorruptCase {
  std::string name;
  std::string bytes;
  std::string expected;  // part of the message, besides the file name
};

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

const std::string kF32Pair = R"("dtype":"F32","shape":[2])";

std::vector<CorruptCase> corrupt_cases() {
  return {
      {"EmptyFile", "", "too short"},
      {"ShorterThan8Bytes", "\x05\0\0\0", "too short"},
      {"HeaderLengthPastEnd", raw_file("{}", 0, 1000), "runs past the end of the file"},
      {"HeaderLengthOver100MB", raw_file("{}", 0, 200'000'000), "100 MB"},
      {"HeaderLengthMaxU64", raw_file("{}", 0, UINT64_MAX), "100 MB"},
      {"HeaderLengthZero", raw_file("", 0), "not a JSON object"},
      {"NotJson", raw_file("{not json}", 0), "not valid JSON"},
      {"TruncatedJson", raw_file(R"({"a":{"dtype":"F32")", 0), "not valid JSON"},
      {"JsonArray", raw_file("[1]", 0), "not a JSON object"},
      {"JsonString", raw_file(R"("{}")", 0), "not a JSON object"},
      {"InvalidUtf8", raw_file("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
       "not valid UTF-8"},
      {"OverlongUtf8", raw_file("{\"\xc0\xaf\":1}", 0), "not valid UTF-8"},
      {"TruncatedUtf8", raw_file("{\"a\":\"\xe2\x82\"}", 0), "not valid UTF-8"},
      {"EntryNotObject", raw_file(R"({"a":5})", 0), "tensor 'a': header entry is not an object"},
      {"MissingDtype", raw_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "'dtype'"},
      {"MissingShape", raw_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4), "'shape'"},
      {"MissingOffsets", raw_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "'data_offsets'"},
      {"ThreeOffsets", raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 4),
       "'data_offsets' must be [begin, end]"},
      {"UnknownDtype", raw_file(R"({"w":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}})", 4),
       "tensor 'w': unknown dtype 'F7'"},
      {"UnsupportedDtype", raw_file(R"({"w":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}})", 4),
       "tensor 'w': dtype 'U32' is not supported"},
      {"ShapeSizeMismatch", raw_file(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
       "tensor 'w': shape [2, 3] of F32 needs 24 bytes"},
      {"EndBeforeBegin", raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8),
       "end before they begin"},
      {"OffsetsPastData", raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
       "tensor 'w' data_offsets [0, 8] run past the end of the data (4 bytes)"},
      {"OffsetsFarPastData",
       raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551600,18446744073709551608]}})", 8),
       "run past the end of the data"},
      {"Overlap",
       raw_file("{\"a\":{" + kF32Pair + ",\"data_offsets\":[0,8]},\"b\":{" + kF32Pair + ",\"data_offsets\":[4,12]}}", 12),
       "tensor 'b' data_offsets [4, 12] overlap the previous tensor"},
      {"SameOffsets",
       raw_file("{\"a\":{" + kF32Pair + ",\"data_offsets\":[0,8]},\"b\":{" + kF32Pair + ",\"data_offsets\":[0,8]}}", 8),
       "overlap"},
      {"Hole",
       raw_file("{\"a\":{" + kF32Pair + ",\"data_offsets\":[0,8]},\"b\":{" + kF32Pair + ",\"data_offsets\":[12,20]}}", 20),
       "hole in the data buffer before tensor 'b' (bytes 8..12)"},
      {"HoleAtStart", raw_file("{\"a\":{" + kF32Pair + ",\"data_offsets\":[4,12]}}", 12), "hole"},
      {"TrailingBytes", raw_file("{\"a\":{" + kF32Pair + ",\"data_offsets\":[0,8]}}", 9), "trailing bytes"},
      {"DataButNoTensors", raw_file("{}", 4), "trailing bytes"},
      {"DuplicateTensor",
       raw_file("{\"a\":{" + kF32Pair + ",\"data_offsets\":[0,8]},\"a\":{" + kF32Pair + ",\"data_offsets\":[8,16]}}", 16),
       "'a' appears twice"},
      {"DuplicateMetadata", raw_file(R"({"__metadata__":{},"__metadata__":{}})", 0), "appears twice"},
      {"ProductOverflows",
       raw_file(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", 0),
       "overflows"},
      {"BytesOverflow",
       raw_file(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0), "overflows"},
      {"DimAboveInt64",
       raw_file(R"({"w":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,0]}})", 0), "overflows"},
      {"ProductAboveInt64",
       raw_file(R"({"w":{"dtype":"U8","shape":[3,4611686018427387904],"data_offsets":[0,0]}})", 0), "overflows"},
      {"NegativeDim", raw_file(R"({"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}})", 16),
       "tensor 'w': shape [-1,4] has a non-integer or negative dimension"},
      {"FractionalDim", raw_file(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
       "non-integer or negative"},
      {"StringDim", raw_file(R"({"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", 4),
       "non-integer or negative"},
      {"NestedDim", raw_file(R"({"w":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", 4),
       "non-integer or negative"},
      {"NegativeOffset", raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4),
       "not non-negative integers"},
      {"MetadataNonString", raw_file(R"({"__metadata__":{"format":"pt","epochs":3}})", 0),
       "__metadata__ value for 'epochs' is not a string"},
      {"MetadataNested", raw_file(R"({"__metadata__":{"a":{"b":"c"}}})", 0), "is not a string"},
      {"MetadataNotObject", raw_file(R"({"__metadata__":"pt"})", 0), "__metadata__ is not an object"},
      // A deep nest must be refused, not recursed into (parsing, printing or destroying it).
      {"DeeplyNested",
       raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":" + repeat("[", 200000) + repeat("]", 200000) +
                    ",\"data_offsets\":[0,4]}}",
                4),
       "nested too deeply"},
  };
}

// Names the case in gtest's failure output instead of dumping the struct's bytes.
void PrintTo(const CorruptCase& c, std::ostream* out) { *out << c.name; }

class CorruptFileTest : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptFileTest, OpenThrowsErrorNamingFileAndProblem) {
  const CorruptCase& c = GetParam();
  TempDir dir;
  fs::path path = dir.path() / (c.name + ".safetensors");
  write_file(path, c.bytes);
  std::string message = open_error(path);
  EXPECT_TRUE(contains(message, path.string())) << message;
  EXPECT_TRUE(contains(message, c.expected)) << "expected '" << c.expected << "' in: " << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_LT(message.size(), 600u) << message;
}

INSTANTIATE_TEST_SUITE_P(Safetensors, CorruptFileTest, ::testing::ValuesIn(corrupt_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(SafetensorsOpen, MissingFileNamesIt) {
  TempDir dir;
  fs::path path = dir.path() / "absent.safetensors";
  std::string message = open_error(path);
  EXPECT_TRUE(contains(message, path.string())) << message;
  EXPECT_TRUE(contains(message, "cannot open")) << message;
}

TEST(SafetensorsOpen, DirectoryIsNotAFile) {
  TempDir dir;
  std::string message = open_error(dir.path());
  EXPECT_TRUE(contains(message, "not a regular file")) << message;
}

// Every prefix of a valid file is invalid. Parsed from exact-size heap copies (so that the
// sanitizer build catches any read past the end); a few are also opened as files.
TEST(SafetensorsOpen, EveryTruncationOfAValidFileFails) {
  TempDir dir;
  float values[6] = {1, 2, 3, 4, 5, 6};
  TensorView v{DType::F32, {2, 3}, reinterpret_cast<const std::byte*>(values), sizeof(values)};
  fs::path good = dir.path() / "good.safetensors";
  write_safetensors(good, {{"w", v}, {"b", v}});
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto prefix = std::make_unique<std::byte[]>(len + 1);
    std::memcpy(prefix.get(), bytes.data(), len);
    EXPECT_THROW(parse_safetensors_header(prefix.get(), len), Error) << "length " << len;
  }
  for (size_t len : {size_t{0}, size_t{7}, size_t{8}, size_t{20}, bytes.size() - 1}) {
    fs::path cut = dir.path() / ("cut" + std::to_string(len) + ".safetensors");
    write_file(cut, bytes.substr(0, len));
    std::string message = open_error(cut);
    EXPECT_TRUE(contains(message, cut.string())) << "length " << len << ": " << message;
  }
}

// ---------------------------------------------------------------------------------------------
// Valid files.

// Deterministic bytes for a tensor of `dtype` and `shape`.
std::vector<std::byte> pattern_bytes(DType dtype, const Shape& shape, int seed) {
  std::vector<std::byte> bytes(static_cast<size_t>(numel(shape)) * dtype_size(dtype));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>((i * 31 + seed * 17 + 3) & 0xff);
  return bytes;
}

struct OwnedTensor {
  std::string name;
  DType dtype;
  Shape shape;
  std::vector<std::byte> bytes;
  TensorView view() const { return {dtype, shape, bytes.data(), bytes.size()}; }
};

std::vector<NamedTensor> named(const std::vector<OwnedTensor>& tensors) {
  std::vector<NamedTensor> out;
  for (const auto& t : tensors) out.push_back({t.name, t.view()});
  return out;
}

void expect_same_tensor(const SafetensorsFile& file, const OwnedTensor& t) {
  const SafetensorsEntry* e = file.find(t.name);
  ASSERT_NE(e, nullptr) << t.name;
  TensorView v = file.view(*e);
  EXPECT_EQ(v.dtype, t.dtype) << t.name;
  EXPECT_EQ(v.shape, t.shape) << t.name;
  ASSERT_EQ(v.nbytes, t.bytes.size()) << t.name;
  if (v.nbytes != 0) {
    EXPECT_EQ(std::memcmp(v.data, t.bytes.data(), v.nbytes), 0) << t.name;
  }
}

std::vector<OwnedTensor> one_tensor_per_dtype() {
  std::vector<OwnedTensor> tensors;
  for (int i = 0; i < kDTypeCount; ++i) {
    DType dt = static_cast<DType>(i);
    Shape shape = {3, 5};
    tensors.push_back({"t." + std::string(dtype_name(dt)), dt, shape, pattern_bytes(dt, shape, i)});
  }
  return tensors;
}

TEST(SafetensorsRoundTrip, EveryDtypeAlone) {
  TempDir dir;
  for (const auto& t : one_tensor_per_dtype()) {
    fs::path path = dir.path() / (t.name + ".safetensors");
    write_safetensors(path, {{t.name, t.view()}});
    auto file = SafetensorsFile::open(path);
    ASSERT_EQ(file->entries().size(), 1u);
    expect_same_tensor(*file, t);
  }
}

TEST(SafetensorsRoundTrip, EveryDtypeTogether) {
  TempDir dir;
  auto tensors = one_tensor_per_dtype();
  fs::path path = dir.path() / "all.safetensors";
  write_safetensors(path, named(tensors));
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->entries().size(), tensors.size());
  for (const auto& t : tensors) expect_same_tensor(*file, t);
  EXPECT_EQ(file->find("no.such.tensor"), nullptr);
}

TEST(SafetensorsRoundTrip, ScalarAndEmptyTensors) {
  TempDir dir;
  std::vector<OwnedTensor> tensors = {
      {"scalar", DType::F32, {}, pattern_bytes(DType::F32, {}, 1)},
      {"empty", DType::BF16, {0, 4}, {}},
      {"empty_too", DType::F32, {4, 0, 2}, {}},
      {"after", DType::F16, {3}, pattern_bytes(DType::F16, {3}, 2)},
  };
  fs::path path = dir.path() / "shapes.safetensors";
  write_safetensors(path, named(tensors));
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->entries().size(), 4u);
  for (const auto& t : tensors) expect_same_tensor(*file, t);
  TensorView scalar = file->view(*file->find("scalar"));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.nbytes, 4u);
  TensorView empty = file->view(*file->find("empty"));
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.nbytes, 0u);
}

TEST(SafetensorsRoundTrip, FileWithNoTensors) {
  TempDir dir;
  fs::path path = dir.path() / "none.safetensors";
  write_safetensors(path, {});
  auto file = SafetensorsFile::open(path);
  EXPECT_TRUE(file->entries().empty());
  EXPECT_EQ(file->metadata().at("format"), "pt");
}

uint64_t declared_header_length(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[8] = {};
  in.read(reinterpret_cast<char*>(b), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
  return n;
}

TEST(SafetensorsWrite, HeaderPaddedToMultipleOf8) {
  TempDir dir;
  // Names of every length modulo 8 so that the unpadded JSON takes every length modulo 8.
  for (int extra = 0; extra < 8; ++extra) {
    std::string name = "w" + std::string(extra, 'x');
    OwnedTensor t{name, DType::U8, {3}, pattern_bytes(DType::U8, {3}, extra)};
    fs::path path = dir.path() / (std::to_string(extra) + ".safetensors");
    write_safetensors(path, {{t.name, t.view()}});
    uint64_t n = declared_header_length(path);
    EXPECT_EQ(n % 8, 0u) << name;
    auto file = SafetensorsFile::open(path);
    EXPECT_EQ(file->data_start(), 8 + n);
    EXPECT_EQ(file->data_start() % 8, 0u);
    const char* header = reinterpret_cast<const char*>(file->mapping().data()) + 8;
    std::string text(header, n);
    EXPECT_EQ(text.find_last_not_of(' '), text.rfind('}')) << text;
    EXPECT_EQ(file->mapping().size(), 8 + n + 3);
  }
}

TEST(SafetensorsWrite, BuildHeaderTilesOffsetsInOrder) {
  std::vector<SafetensorsEntry> entries = {{"a", DType::F16, {3}, 0, 0}, {"b", DType::F32, {2, 2}, 0, 0}};
  std::string header = build_safetensors_header(entries);
  EXPECT_EQ(header.size() % 8, 0u);
  EXPECT_EQ(entries[0].begin, 0u);
  EXPECT_EQ(entries[0].end, 6u);
  EXPECT_EQ(entries[1].begin, 6u);
  EXPECT_EQ(entries[1].end, 22u);
}

TEST(SafetensorsWrite, EachTensorAlignedToItsElementSize) {
  TempDir dir;
  // Odd element counts, so that any order other than descending element size misaligns.
  std::vector<OwnedTensor> tensors;
  int seed = 0;
  for (DType dt : {DType::U8, DType::F16, DType::F64, DType::BF16, DType::F32, DType::I64, DType::I8,
                   DType::I32, DType::BOOL, DType::I16}) {
    Shape shape = {seed % 3 + 1, 3};
    tensors.push_back({"t" + std::to_string(seed), dt, shape, pattern_bytes(dt, shape, seed)});
    ++seed;
  }
  fs::path path = dir.path() / "aligned.safetensors";
  write_safetensors(path, named(tensors));
  auto file = SafetensorsFile::open(path);
  for (const auto& e : file->entries()) {
    size_t size = dtype_size(e.dtype);
    EXPECT_EQ(e.begin % size, 0u) << e.name;
    auto address = reinterpret_cast<uintptr_t>(file->view(e).data);
    EXPECT_EQ(address % size, 0u) << e.name;
  }
  for (const auto& t : tensors) expect_same_tensor(*file, t);
}

TEST(SafetensorsWrite, MetadataHasFormatPtAndCallerEntries) {
  TempDir dir;
  OwnedTensor t{"w", DType::F32, {2}, pattern_bytes(DType::F32, {2}, 0)};
  fs::path path = dir.path() / "meta.safetensors";
  write_safetensors(path, {{t.name, t.view()}}, {{"merged_by", "alloy"}, {"format", "tf"}});
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("merged_by"), "alloy");
  EXPECT_EQ(file->metadata().size(), 2u);
}

TEST(SafetensorsWrite, RefusesDuplicateNamesAndWrongSizes) {
  TempDir dir;
  OwnedTensor t{"w", DType::F32, {2}, pattern_bytes(DType::F32, {2}, 0)};
  EXPECT_THROW(write_safetensors(dir.path() / "dup.safetensors", {{"w", t.view()}, {"w", t.view()}}), Error);
  TensorView wrong = t.view();
  wrong.shape = {3};
  fs::path path = dir.path() / "wrong.safetensors";
  try {
    write_safetensors(path, {{"w", wrong}});
    ADD_FAILURE() << "no error for a view whose bytes do not match its shape";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "tensor 'w'")) << e.what();
  }
  EXPECT_FALSE(fs::exists(path)) << "nothing is written when the input is invalid";
}

TEST(SafetensorsRead, ViewsAreZeroCopyIntoTheMapping) {
  TempDir dir;
  auto tensors = one_tensor_per_dtype();
  fs::path path = dir.path() / "zero_copy.safetensors";
  write_safetensors(path, named(tensors));
  auto file = SafetensorsFile::open(path);
  const std::byte* begin = file->mapping().data();
  const std::byte* end = begin + file->mapping().size();
  for (const auto& e : file->entries()) {
    TensorView v = file->view(e);
    EXPECT_EQ(v.data, begin + file->data_start() + e.begin) << e.name;
    EXPECT_GE(v.data, begin);
    EXPECT_LE(v.data + v.nbytes, end);
  }
  // Two views of one tensor share the same bytes.
  const auto& first = file->entries().front();
  EXPECT_EQ(file->view(first).data, file->view(first).data);
}

// The header is parsed once at open; its pages are then no longer mapped, so they can leave the
// page cache with the rest of the file (the kernel drops no mapped page): a merge dropping its
// inputs as it goes drops the folio the header shares with the first tensor too.
TEST(SafetensorsRead, HeaderPagesAreNotLeftMappedOnceParsed) {
  TempDir dir;
  if (!testing::page_cache_droppable(dir.path())) GTEST_SKIP() << "tmpfs: no page cache to drop";
  OwnedTensor t{"w", DType::F32, {4096}, pattern_bytes(DType::F32, {4096}, 0)};
  fs::path path = dir.path() / "long_header.safetensors";
  write_safetensors(path, {{t.name, t.view()}}, {{"notes", std::string(5 * 4096, 'x')}});  // a header of 6 pages
  if (!testing::evict(path)) GTEST_SKIP() << "the page cache keeps " << path;
  auto file = SafetensorsFile::open(path);
  ASSERT_GT(file->data_start(), 5u * 4096);
  ASSERT_GT(testing::cached_pages_in(path, 0, file->data_start()).cached, 0u) << "parsing read the header";
  drop_from_page_cache(file->mapping().fd(), 0, file->mapping().size());
  EXPECT_EQ(testing::cached_pages_in(path, 0, file->data_start()).cached, 0u);
  EXPECT_EQ(file->metadata().at("notes").size(), 5u * 4096);  // read from the parsed copy
  EXPECT_EQ(std::memcmp(file->view(file->entries()[0]).data, t.bytes.data(), t.bytes.size()), 0);  // read again
}

TEST(SafetensorsRead, EntriesSortedByOffset) {
  TempDir dir;
  auto tensors = one_tensor_per_dtype();
  fs::path path = dir.path() / "sorted.safetensors";
  write_safetensors(path, named(tensors));
  auto file = SafetensorsFile::open(path);
  uint64_t previous_end = 0;
  for (const auto& e : file->entries()) {
    EXPECT_EQ(e.begin, previous_end) << e.name;
    previous_end = e.end;
  }
  EXPECT_EQ(file->data_start() + previous_end, file->mapping().size());
}

// A file written by some other tool: header not padded, a U8 tensor first so that the F32 and
// F16 tensors after it are misaligned, tensors listed out of offset order, and two empty tensors
// sharing an offset. The reader must take it as is.
TEST(SafetensorsRead, UnalignedTensorsReadCorrectly) {
  TempDir dir;
  const float floats[3] = {1.5f, -2.25f, 1e-3f};
  const uint16_t halves[2] = {f32_to_f16(0.5f), f32_to_f16(-3.0f)};
  std::string header =
      R"({"f":{"dtype":"F32","shape":[3],"data_offsets":[1,13]},)"
      R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[13,13]},)"
      R"("e2":{"dtype":"F64","shape":[2,0],"data_offsets":[13,13]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[13,17]},)"
      R"("u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  // Pad so that the data buffer starts at 2 mod 4: "f" then lies at 3 mod 4, "h" at 1 mod 2.
  while ((8 + header.size()) % 4 != 2) header += ' ';
  std::string data(1, '\x2a');
  data.append(reinterpret_cast<const char*>(floats), sizeof(floats));
  data.append(reinterpret_cast<const char*>(halves), sizeof(halves));
  fs::path path = dir.path() / "unaligned.safetensors";
  write_file(path, u64_le(header.size()) + header + data);

  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->entries().size(), 5u);
  EXPECT_EQ(file->entries().front().name, "u");
  TensorView f = file->view(*file->find("f"));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.data) % 4, 3u) << "the test needs a misaligned tensor";
  float read[3];
  to_f32(f.dtype, f.data, read, 3);
  EXPECT_EQ(read[0], 1.5f);
  EXPECT_EQ(read[1], -2.25f);
  EXPECT_EQ(read[2], 1e-3f);
  TensorView h = file->view(*file->find("h"));
  float read_h[2];
  to_f32(h.dtype, h.data, read_h, 2);
  EXPECT_EQ(read_h[0], 0.5f);
  EXPECT_EQ(read_h[1], -3.0f);
  EXPECT_EQ(static_cast<uint8_t>(file->view(*file->find("u")).data[0]), 0x2a);
  EXPECT_EQ(file->view(*file->find("e2")).nbytes, 0u);
  EXPECT_TRUE(file->metadata().empty());
}

TEST(SafetensorsRead, HeaderMayBePaddedWithSpaces) {
  TempDir dir;
  std::string header = R"({"u":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})" + std::string(13, ' ');
  fs::path path = dir.path() / "padded.safetensors";
  write_file(path, raw_file(header, 2));
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->entries().size(), 1u);
  EXPECT_EQ(file->data_start(), 8 + header.size());
}

TEST(SafetensorsRead, Utf8NamesAreAccepted) {
  TempDir dir;
  std::string name = "gewicht.\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80";  // ä € 😀
  OwnedTensor t{name, DType::U8, {1}, pattern_bytes(DType::U8, {1}, 0)};
  fs::path path = dir.path() / "utf8.safetensors";
  write_safetensors(path, {{t.name, t.view()}});
  auto file = SafetensorsFile::open(path);
  expect_same_tensor(*file, t);
}

}  // namespace
}  // namespace alloy
