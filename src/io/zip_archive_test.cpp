#include "io/zip_archive.h"

#include <gtest/gtest.h>

#include "../../tests/test_support.h"
#include "../../tests/torch_save_bytes.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::error_message;
using testing::zip_bytes;
using testing::ZipMember;

ZipArchive read(const std::string& bytes) {
  return ZipArchive::read(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
}
std::string refusal(const std::string& bytes) {
  return error_message([&] { read(bytes); }, "the archive read");
}

TEST(ZipArchive, FindsEveryStoredEntryAlignedAsTorchWritesThem) {
  for (bool zip64 : {false, true}) {
    const std::string bytes = zip_bytes({{"a/data.pkl", "pickle"}, {"a/data/0", std::string(10, '\x07')}}, zip64);
    const ZipArchive zip = read(bytes);
    ASSERT_EQ(zip.entries().size(), 2u);
    const ZipEntry* e = zip.find("a/data/0");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->offset % 64, 0u);  // the writer pads each entry to 64 bytes
    EXPECT_EQ(bytes.substr(e->offset, e->size), std::string(10, '\x07'));
    EXPECT_EQ(bytes.substr(zip.find("a/data.pkl")->offset, 6), "pickle");
    EXPECT_EQ(zip.find("a/data/1"), nullptr);
  }
}

TEST(ZipArchive, RefusesWhatItCannotViewInPlace) {
  EXPECT_NE(refusal(zip_bytes({{"x", "abc", 8}})).find("entry 'x' is compressed (method 8)"), std::string::npos);
  EXPECT_NE(refusal(zip_bytes({{"x", "abc", 0, 1}})).find("entry 'x' is encrypted"), std::string::npos);
  EXPECT_NE(refusal(zip_bytes({{"x", "a"}, {"x", "b"}})).find("entry 'x' appears twice"), std::string::npos);
  EXPECT_NE(refusal("just some text, long enough to hold a record").find("not a zip archive"), std::string::npos);
  EXPECT_NE(refusal("PK").find("too short"), std::string::npos);
}

TEST(ZipArchive, RefusesCorruptedDirectories) {
  const std::string good = zip_bytes({{"entry", std::string(100, 'v')}});
  const size_t end = good.size() - 22;
  std::string bad_offset = good;  // central directory offset past the end of the file
  bad_offset[end + 16] = '\xff';
  bad_offset[end + 17] = '\xff';
  EXPECT_NE(refusal(bad_offset).find("the central directory at byte"), std::string::npos);

  std::string too_many = good;  // a count the directory cannot hold
  too_many[end + 10] = '\xff';
  EXPECT_NE(refusal(too_many).find("claims 255 entries"), std::string::npos);

  std::string bad_size = good;  // an entry larger than the file (central header size fields)
  const size_t central = good.find("PK\x01\x02");
  for (size_t i : {20, 24}) bad_size[central + i + 2] = '\x7f';
  EXPECT_NE(refusal(bad_size).find("entry 'entry' ("), std::string::npos);

  std::string local_past_end = good;  // the central header's local header offset past the end
  local_past_end[central + 42 + 3] = '\x01';
  EXPECT_NE(refusal(local_past_end).find("the local header of entry 'entry' at byte 16777216 runs past the end"),
            std::string::npos) << refusal(local_past_end);

  std::string bad_local = good;  // the local header's signature destroyed
  bad_local[1] = 'X';
  EXPECT_NE(refusal(bad_local).find("no local header at byte 0"), std::string::npos);

  std::string renamed = good;  // the local name differs from the central one
  renamed[30] = 'E';
  EXPECT_NE(refusal(renamed).find("names a different file"), std::string::npos);

  // Truncated anywhere: the end record is gone, or it points past the end.
  for (size_t n = 0; n < good.size(); n += 7) EXPECT_FALSE(refusal(good.substr(0, n)).empty()) << n;
}

}  // namespace
}  // namespace alloy
