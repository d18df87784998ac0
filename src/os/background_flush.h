// BackgroundFlush: makes written output durable while the merge is still computing, on a thread of
// its own, so that the final fsync has little left to do. Handing pages to the disk early
// (sync_file_range) is not enough: a disk with a volatile write cache does the durable work only
// when told to flush, which only fsync does.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace alloy {

// A request for a descriptor coalesces with any not yet started for it (each fdatasync covers
// every write before it). A failed fdatasync is reported once, naming the file, through `on_error`:
// the kernel reports a write-back error once per open file (to the first fsync after it), and the
// final fsync uses the same descriptor, so the merge must fail here.
//
// With `drop_flushed`, each successful fdatasync is followed by dropping the file's clean pages
// from the page cache (what it made durable): the output is on the disk, and the pages freed are
// the next ones the merge's writes take (run_merge.h: --output-cache).
class BackgroundFlush {
 public:
  explicit BackgroundFlush(std::function<void(std::exception_ptr)> on_error, bool drop_flushed = false);
  ~BackgroundFlush();  // finish()
  BackgroundFlush(const BackgroundFlush&) = delete;
  BackgroundFlush& operator=(const BackgroundFlush&) = delete;

  // Asks for fdatasync(fd) soon.
  void request(int fd);
  // Waits for the flush in progress, drops the requests not started (the caller's own fsync
  // follows) and stops the thread. No request is taken afterwards.
  void finish();
  // fdatasync calls made so far (for tests and benchmarks).
  int flushes() const;

 private:
  void loop();

  std::function<void(std::exception_ptr)> on_error_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<int> pending_;  // descriptors to flush, in request order
  const bool drop_flushed_;
  bool closing_ = false, failed_ = false;
  int flushes_ = 0;
  std::thread thread_;  // last: starts after the rest is built
};

}  // namespace alloy
