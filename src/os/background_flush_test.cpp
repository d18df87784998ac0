#include "os/background_flush.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "../../tests/async_support.h"
#include "../../tests/page_cache.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::error_message;
using testing::eventually;

TEST(BackgroundFlush, FlushesARequestedFileOnItsThread) {
  const std::string path = (std::filesystem::temp_directory_path() / ("alloy-bf-" + std::to_string(::getpid()))).string();
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abc", 3), 3);
  int errors = 0;
  {
    BackgroundFlush flush([&](std::exception_ptr) { ++errors; });
    EXPECT_EQ(flush.flushes(), 0);
    flush.request(fd);
    EXPECT_TRUE(eventually([&] { return flush.flushes() == 1; }));
    flush.request(fd);
    EXPECT_TRUE(eventually([&] { return flush.flushes() == 2; }));
    flush.finish();
    flush.request(fd);  // after finish: not taken
    EXPECT_EQ(flush.flushes(), 2);
  }
  EXPECT_EQ(errors, 0);
  ::close(fd);
  ::unlink(path.c_str());
}

// With drop_flushed, what a flush made durable leaves the page cache (where the file system has
// one to leave); without it, it stays.
TEST(BackgroundFlush, DropsTheFlushedPagesWhenAsked) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  if (!testing::page_cache_droppable(dir)) GTEST_SKIP() << dir << " keeps no droppable page cache";
  const std::string path = (dir / ("alloy-bf-drop-" + std::to_string(::getpid()))).string();
  const std::string block(1 << 20, 'x');
  for (const bool drop : {false, true}) {
    SCOPED_TRACE(drop);
    const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    for (int k = 0; k < 4; ++k) ASSERT_EQ(::write(fd, block.data(), block.size()), static_cast<ssize_t>(block.size()));
    if (testing::cached_fraction(path) != 1.0) GTEST_SKIP() << "writes do not stay in the page cache here";
    BackgroundFlush flush([](std::exception_ptr) {}, drop);
    flush.request(fd);
    ASSERT_TRUE(eventually([&] { return flush.flushes() == 1; }));
    flush.finish();
    EXPECT_EQ(testing::cached_fraction(path), drop ? 0.0 : 1.0);
    ::close(fd);
  }
  ::unlink(path.c_str());
}

TEST(BackgroundFlush, AFailedFlushIsReportedOnceNamingTheFile) {
  // /dev/null takes writes but refuses fdatasync (EINVAL): a disk that lost the output.
  const int fd = ::open("/dev/null", O_RDWR);
  ASSERT_GE(fd, 0);
  int errors = 0;
  std::string message;
  BackgroundFlush flush([&](std::exception_ptr e) {
    ++errors;
    message = error_message(e);
  });
  flush.request(fd);
  ASSERT_TRUE(eventually([&] { return flush.flushes() == 1; }));
  flush.finish();  // the thread has stopped: the failure was reported before
  EXPECT_EQ(errors, 1);
  EXPECT_NE(message.find("/dev/null"), std::string::npos) << message;
  EXPECT_NE(message.find("fdatasync failed"), std::string::npos) << message;
  ::close(fd);
}

TEST(BackgroundFlush, NoRequestIsTakenAfterAFailure) {
  const int fd = ::open("/dev/null", O_RDWR);
  ASSERT_GE(fd, 0);
  int errors = 0;
  BackgroundFlush flush([&](std::exception_ptr) { ++errors; });
  flush.request(fd);
  ASSERT_TRUE(eventually([&] { return flush.flushes() == 1; }));
  for (int i = 0; i < 10; ++i) flush.request(fd);
  flush.finish();
  EXPECT_EQ(flush.flushes(), 1);
  EXPECT_EQ(errors, 1);
  ::close(fd);
}

}  // namespace
}  // namespace alloy
