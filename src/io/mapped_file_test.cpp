// Tests of MappedFile: maps whole regular files, refuses everything else with an Error naming the
// path (without blocking on a FIFO), and moves ownership of the mapping.
#include "io/mapped_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>

#include "../../tests/test_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

namespace fs = std::filesystem;

using testing::TempDir;
using testing::write_file;

std::string map_error(const fs::path& path) {
  try {
    MappedFile map(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " mapped without an error";
  return "";
}

TEST(MappedFile, MapsTheWholeFile) {
  TempDir dir;
  fs::path path = dir.path() / "data.bin";
  write_file(path, "hello, mapping");
  MappedFile map(path);
  ASSERT_EQ(map.size(), 14u);
  EXPECT_EQ(std::memcmp(map.data(), "hello, mapping", 14), 0);
  EXPECT_EQ(map.path(), path);
  EXPECT_GE(map.fd(), 0);  // kept open for page-cache hints
  MappedFile moved = std::move(map);
  EXPECT_GE(moved.fd(), 0);
  EXPECT_EQ(map.fd(), -1);  // NOLINT(bugprone-use-after-move): the moved-from file holds nothing
}

TEST(MappedFile, EmptyFileHasNoData) {
  TempDir dir;
  fs::path path = dir.path() / "empty.bin";
  write_file(path, "");
  MappedFile map(path);
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.data(), nullptr);
}

TEST(MappedFile, MissingFileNamesThePath) {
  TempDir dir;
  fs::path path = dir.path() / "absent.bin";
  std::string message = map_error(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("cannot open"), std::string::npos) << message;
}

TEST(MappedFile, DirectoryIsRefused) {
  TempDir dir;
  std::string message = map_error(dir.path());
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
}

TEST(MappedFile, FifoIsRefusedWithoutBlocking) {
  TempDir dir;
  fs::path path = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  std::string message = map_error(path);
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
}

TEST(MappedFile, MoveTransfersTheMapping) {
  TempDir dir;
  fs::path path = dir.path() / "data.bin";
  write_file(path, "abc");
  MappedFile a(path);
  const std::byte* data = a.data();
  MappedFile b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  MappedFile c;
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(b.size(), 0u);  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace alloy
