// WriteQueue: one thread that makes every output write of a merge, in the order blocks finish, so
// that compute threads hand a filled buffer over and never wait for the file's lock or the disk.
// Bounded: push() waits while `limit` bytes are queued.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "os/background_flush.h"

namespace alloy {

// Writers to one file take turns on its lock in the kernel, so more than one writing thread gains
// nothing: the others spin on the lock. Write-back hints and the requests for background flushes
// run on this thread too.
class WriteQueue {
 public:
  struct Write {
    int fd = -1;
    uint64_t offset = 0;
    std::vector<unsigned char> bytes;   // owned bytes, or
    const void* borrowed = nullptr;     // bytes that outlive the queue (a mapped input)
    uint64_t borrowed_size = 0;
    std::string what;                   // for errors: "output model.safetensors, tensor '...'"
    std::function<void()> done;         // run on the writer thread after the write
  };

  // `on_error` is called (on the writer or the flush thread) with the first write's, callback's
  // or flush's failure; later writes are dropped. With `write_back` set, runs of adjacent writes
  // are handed to the disk (sync_file_range) every `write_back` bytes, and with `flush_every` also
  // set, a file is flushed in the background (background_flush.h) each time that many more of its
  // bytes were handed over, so the final fsync has little left to do; with `drop_flushed`, the
  // pages each flush made durable then leave the page cache.
  WriteQueue(uint64_t limit, std::function<void(std::exception_ptr)> on_error, uint64_t write_back = 0,
             uint64_t flush_every = 0, bool drop_flushed = false);
  ~WriteQueue();  // finish() if not called
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Queues a write; waits while the queue is full. Returns false (dropping it) after a failure or
  // abandon().
  bool push(Write w);
  // A buffer to fill: a recycled one when there is one.
  std::vector<unsigned char> take_buffer();
  // Waits until every queued write is made, then stops the threads.
  void finish();
  // Drops queued writes and stops the threads (cancellation, a compute error).
  void abandon();
  // Background flushes made so far (0 without flush_every).
  int flushes() const { return flush_ ? flush_->flushes() : 0; }
  // Ranges handed to the disk so far (sync_file_range calls; for tests).
  int hand_overs() const { return hand_overs_.load(); }

 private:
  void loop();
  // Marks the queue failed and drops what is queued; wakes every waiter. True the first time.
  bool drop_all();
  void fail_with(std::exception_ptr e);  // drop_all(), and on_error the first time
  void start_write_back(int fd, uint64_t offset, uint64_t size);

  // Per descriptor, the bytes written and not yet handed to the disk: the range that bounds them
  // (the blocks of a tensor finish out of order on different threads, so not a run: handing over
  // each run of adjacent writes would make a call per few blocks), how many, and
  // the bytes handed over since the file's last flush request.
  struct Unhanded {
    int fd = -1;
    uint64_t begin = 0, end = 0, bytes = 0, since_flush = 0;
  };
  const uint64_t write_back_;
  const uint64_t flush_every_;
  std::vector<Unhanded> unhanded_;
  std::atomic<int> hand_overs_{0};

  const uint64_t limit_;
  std::function<void(std::exception_ptr)> on_error_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Write> queue_;
  std::vector<std::vector<unsigned char>> free_;
  uint64_t queued_bytes_ = 0;
  bool closing_ = false, failed_ = false;
  std::unique_ptr<BackgroundFlush> flush_;  // with flush_every
  std::thread thread_;
};

}  // namespace alloy
