#include "io/write_fully.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

// The bytes of the file open as fd, from its start.
std::string contents(int fd) {
  std::string out(static_cast<size_t>(::lseek(fd, 0, SEEK_END)), '\0');
  EXPECT_EQ(::pread(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
  return out;
}

TEST(WriteFully, WritesTheBytesAtTheirOffsetAndLeavesTheRest) {
  char path[] = "/tmp/alloy-write-fully-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  write_fully(fd, "abcdefgh", 8, 0, "test file");
  write_fully(fd, "XY", 2, 3, "test file");
  write_fully(fd, "Z", 1, 10, "test file");  // past the end: a hole of zeros before it
  EXPECT_EQ(contents(fd), std::string("abcXYfgh\0\0Z", 11));
  write_fully(fd, "", 0, 20, "test file");  // nothing to write: the file stays as it is
  EXPECT_EQ(contents(fd).size(), 11u);
  ::close(fd);
}

TEST(WriteFully, AFailedWriteNamesWhatWasWritten) {
  char path[] = "/tmp/alloy-write-fully-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const int read_only = ::open(path, O_RDONLY);
  ::unlink(path);
  ::close(fd);
  ASSERT_GE(read_only, 0);
  try {
    write_fully(read_only, "abc", 3, 0, "output model-00001.safetensors");
    FAIL() << "a write to a read-only descriptor succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("output model-00001.safetensors: write failed"), std::string::npos)
        << e.what();
  }
  ::close(read_only);
}

}  // namespace
}  // namespace alloy
