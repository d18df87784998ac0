// WriteQueue: one thread that makes every output write of a merge, in the order blocks finish.
// Writers to one file take turns on its lock in the kernel, so more than one writing thread gains
// nothing: the others spin on the lock. With the writes on their own thread, compute threads hand
// a filled buffer over and go on, and never wait for the file's lock or for the disk (write-back
// hints run here too). Bounded: push() waits while `limit` bytes are queued.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace alloy {

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

  // `on_error` is called (on the writer thread) with the first write's or callback's failure;
  // later writes are dropped. With `write_back` set, runs of adjacent writes are handed to the disk
  // (sync_file_range) every `write_back` bytes, so the final fsync has little left to do.
  WriteQueue(uint64_t limit, std::function<void(std::exception_ptr)> on_error, uint64_t write_back = 0);
  ~WriteQueue();  // finish() if not called
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Queues a write; waits while the queue is full. Returns false (dropping it) after a failure or
  // abandon().
  bool push(Write w);
  // A buffer to fill: a recycled one when there is one.
  std::vector<unsigned char> take_buffer();
  // Waits until every queued write is made, then stops the thread.
  void finish();
  // Drops queued writes and stops the thread (cancellation, a compute error).
  void abandon();

 private:
  void loop();
  void drop_all();  // marks the queue failed and drops what is queued; wakes every waiter
  void start_write_back(int fd, uint64_t offset, uint64_t size);

  const uint64_t write_back_;
  int span_fd_ = -1;  // the run of adjacent written bytes not yet handed to the disk
  uint64_t span_begin_ = 0, span_end_ = 0;

  const uint64_t limit_;
  std::function<void(std::exception_ptr)> on_error_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Write> queue_;
  std::vector<std::vector<unsigned char>> free_;
  uint64_t queued_bytes_ = 0;
  bool closing_ = false, failed_ = false;
  std::thread thread_;
};

}  // namespace alloy
