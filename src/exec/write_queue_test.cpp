#include "exec/write_queue.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "../../tests/async_support.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

struct TempFile {
  std::string path = (std::filesystem::temp_directory_path() / ("alloy-wq-" + std::to_string(::getpid()))).string();
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  ~TempFile() {
    ::close(fd);
    ::unlink(path.c_str());
  }
  std::string read_all() const {
    std::string s(static_cast<size_t>(::lseek(fd, 0, SEEK_END)), '\0');
    EXPECT_EQ(::pread(fd, s.data(), s.size(), 0), static_cast<ssize_t>(s.size()));
    return s;
  }
};

TEST(WriteQueue, WritesEveryBlockInPlaceAndRunsItsCallback) {
  TempFile f;
  std::atomic<int> done{0};
  {
    // A limit smaller than two writes: push waits for the writer, and still every write lands.
    WriteQueue q(6, [](std::exception_ptr) { FAIL() << "no write should fail"; });
    const std::string text = "0123456789abcdef";
    for (size_t at = 0; at < text.size(); at += 4) {
      WriteQueue::Write w;
      w.fd = f.fd;
      w.offset = text.size() - 4 - at;  // back to front
      w.bytes = q.take_buffer();
      w.bytes.assign(text.begin() + static_cast<long>(text.size() - 4 - at), text.begin() + static_cast<long>(text.size() - at));
      w.done = [&] { ++done; };
      ASSERT_TRUE(q.push(std::move(w)));
    }
    static const char borrowed[] = "XY";
    WriteQueue::Write b;
    b.fd = f.fd;
    b.offset = 16;
    b.borrowed = borrowed;
    b.borrowed_size = 2;
    ASSERT_TRUE(q.push(std::move(b)));
    q.finish();
  }
  EXPECT_EQ(done.load(), 4);
  EXPECT_EQ(f.read_all(), "0123456789abcdefXY");
}

// Counts the failures a queue reports and keeps the last one's message.
struct Failures {
  int count = 0;
  std::string message;
  std::function<void(std::exception_ptr)> recorder() {
    return [this](std::exception_ptr e) {
      ++count;
      message = testing::error_message(e);
    };
  }
};

TEST(WriteQueue, AFailedWriteIsReportedWithItsContextAndStopsTheQueue) {
  Failures failures;
  WriteQueue q(1 << 20, failures.recorder());
  WriteQueue::Write w;
  w.fd = -1;  // not a descriptor: the write fails
  w.bytes = {1, 2, 3};
  w.what = "output model.safetensors, tensor 'lm_head.weight'";
  bool ran = false;
  w.done = [&] { ran = true; };
  q.push(std::move(w));
  // Once the failure is recorded, later writes are refused.
  for (int tries = 0; tries < 1000; ++tries) {
    WriteQueue::Write later;
    later.fd = -1;
    later.bytes = {4};
    if (!q.push(std::move(later))) break;
    ::usleep(1000);
  }
  q.finish();
  EXPECT_EQ(failures.count, 1);
  EXPECT_FALSE(ran);
  EXPECT_NE(failures.message.find("lm_head.weight"), std::string::npos) << failures.message;
  EXPECT_NE(failures.message.find("write failed"), std::string::npos) << failures.message;
}

// Pushes `count` adjacent writes of "wxyz" at 0, 4, 8, ... to fd.
void push_adjacent(WriteQueue& q, int fd, int count) {
  for (int k = 0; k < count; ++k) {
    WriteQueue::Write w;
    w.fd = fd;
    w.offset = 4 * static_cast<uint64_t>(k);
    w.bytes = {'w', 'x', 'y', 'z'};
    w.what = "output model.safetensors, tensor 'w'";
    ASSERT_TRUE(q.push(std::move(w)));
  }
}

using testing::eventually;

TEST(WriteQueue, FlushesAFileInTheBackgroundOnceEnoughOfItWasHandedToTheDisk) {
  TempFile f;
  WriteQueue q(1 << 20, [](std::exception_ptr) { FAIL() << "nothing should fail"; }, /*write_back=*/4,
               /*flush_every=*/8);
  push_adjacent(q, f.fd, 1);  // 4 bytes handed over: no flush due yet
  ASSERT_TRUE(eventually([&] { return f.read_all().size() == 4; }));
  ::usleep(20000);
  EXPECT_EQ(q.flushes(), 0);
  push_adjacent(q, f.fd, 2);  // 8 bytes since: one flush
  EXPECT_TRUE(eventually([&] { return q.flushes() == 1; }));
  q.finish();
  EXPECT_EQ(f.read_all(), "wxyzwxyz");
  // Without write-back (--no-fsync) nothing is flushed.
  WriteQueue plain(1 << 20, [](std::exception_ptr) {}, 0, 8);
  push_adjacent(plain, f.fd, 4);
  plain.finish();
  EXPECT_EQ(plain.flushes(), 0);
}

// Blocks finish out of order on different threads: the writes still reach the disk in ranges of
// the write-back size (counted by bytes, bounded by the writes' extent), not one per run.
TEST(WriteQueue, HandsOutOfOrderWritesToTheDiskInRangesOfTheWriteBackSize) {
  TempFile f;
  WriteQueue q(1 << 20, [](std::exception_ptr) { FAIL() << "nothing should fail"; }, /*write_back=*/8, 0);
  for (uint64_t offset : {4, 0, 12, 8, 20}) {
    WriteQueue::Write w;
    w.fd = f.fd;
    w.offset = offset;
    w.bytes = {static_cast<unsigned char>('a' + offset / 4), '-', '-', '-'};
    ASSERT_TRUE(q.push(std::move(w)));
  }
  q.finish();
  EXPECT_EQ(q.hand_overs(), 2);  // [0, 8) and [8, 16); the last 4 bytes are left to the fsync
  EXPECT_EQ(f.read_all().substr(0, 16), "a---b---c---d---");
}

TEST(WriteQueue, AFailedBackgroundFlushFailsTheQueueOnce) {
  // /dev/null takes the writes and refuses fdatasync, as a disk that lost them would fail it.
  const int fd = ::open("/dev/null", O_RDWR);
  ASSERT_GE(fd, 0);
  Failures failures;
  WriteQueue q(1 << 20, failures.recorder(), 4, 4);
  push_adjacent(q, fd, 1);
  ASSERT_TRUE(eventually([&] { return q.flushes() == 1; }));
  // The failure stops the queue: later writes are refused (soon after the flush returned).
  const bool refused = eventually([&] {
    WriteQueue::Write later;
    later.fd = fd;
    later.bytes = {1};
    return !q.push(std::move(later));
  });
  q.finish();
  EXPECT_TRUE(refused);
  EXPECT_EQ(failures.count, 1);
  EXPECT_NE(failures.message.find("/dev/null: fdatasync failed"), std::string::npos) << failures.message;
  ::close(fd);
}

TEST(WriteQueue, AbandonDropsWhatIsQueued) {
  TempFile f;
  WriteQueue q(1 << 20, [](std::exception_ptr) {});
  q.abandon();
  WriteQueue::Write w;
  w.fd = f.fd;
  w.bytes = {1};
  EXPECT_FALSE(q.push(std::move(w)));
  EXPECT_EQ(f.read_all(), "");
}

}  // namespace
}  // namespace alloy
