#include "exec/write_queue.h"

#include "exec/executor.h"

#include <fcntl.h>

namespace alloy {

namespace {

uint64_t size_of(const WriteQueue::Write& w) { return w.borrowed ? w.borrowed_size : w.bytes.size(); }

}  // namespace

WriteQueue::WriteQueue(uint64_t limit, std::function<void(std::exception_ptr)> on_error, uint64_t write_back)
    : write_back_(write_back), limit_(limit), on_error_(std::move(on_error)), thread_([this] { loop(); }) {}

void WriteQueue::start_write_back(int fd, uint64_t offset, uint64_t size) {
  if (write_back_ == 0) return;
  if (fd != span_fd_ || offset != span_end_) {  // not adjacent: hand the old run over, start anew
    if (span_fd_ >= 0 && span_end_ > span_begin_)
      ::sync_file_range(span_fd_, static_cast<off_t>(span_begin_), static_cast<off_t>(span_end_ - span_begin_),
                        SYNC_FILE_RANGE_WRITE);
    span_fd_ = fd;
    span_begin_ = span_end_ = offset;
  }
  span_end_ = offset + size;
  if (span_end_ - span_begin_ >= write_back_) {
    ::sync_file_range(fd, static_cast<off_t>(span_begin_), static_cast<off_t>(span_end_ - span_begin_),
                      SYNC_FILE_RANGE_WRITE);
    span_begin_ = span_end_;
  }
}

WriteQueue::~WriteQueue() { finish(); }

bool WriteQueue::push(Write w) {
  std::unique_lock lock(mu_);
  // One write larger than the limit is still taken, alone.
  changed_.wait(lock, [&] { return failed_ || closing_ || queued_bytes_ == 0 || queued_bytes_ + size_of(w) <= limit_; });
  if (failed_ || closing_) return false;
  queued_bytes_ += size_of(w);
  queue_.push_back(std::move(w));
  changed_.notify_all();
  return true;
}

std::vector<unsigned char> WriteQueue::take_buffer() {
  std::lock_guard lock(mu_);
  if (free_.empty()) return {};
  std::vector<unsigned char> b = std::move(free_.back());
  free_.pop_back();
  return b;
}

void WriteQueue::finish() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void WriteQueue::drop_all() {
  std::lock_guard lock(mu_);
  failed_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  changed_.notify_all();
}

void WriteQueue::abandon() {
  drop_all();
  finish();
}

void WriteQueue::loop() {
  for (;;) {
    Write w;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return !queue_.empty() || closing_ || failed_; });
      if (failed_ || queue_.empty()) return;  // failed, or closing with nothing left
      w = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      if (w.borrowed)
        write_fully(w.fd, w.borrowed, w.borrowed_size, w.offset, w.what);
      else
        write_fully(w.fd, w.bytes.data(), w.bytes.size(), w.offset, w.what);
      start_write_back(w.fd, w.offset, size_of(w));
      if (w.done) w.done();
    } catch (...) {
      drop_all();
      on_error_(std::current_exception());
      return;
    }
    std::lock_guard lock(mu_);
    queued_bytes_ -= size_of(w);
    if (!w.borrowed && free_.size() < 16) free_.push_back(std::move(w.bytes));
    changed_.notify_all();
  }
}

}  // namespace alloy
