#include "exec/write_queue.h"

#include <fcntl.h>

#include <algorithm>

#include "io/write_fully.h"

namespace alloy {

namespace {

uint64_t size_of(const WriteQueue::Write& w) { return w.borrowed ? w.borrowed_size : w.bytes.size(); }

}  // namespace

WriteQueue::WriteQueue(uint64_t limit, std::function<void(std::exception_ptr)> on_error, uint64_t write_back,
                       uint64_t flush_every, bool drop_flushed)
    : write_back_(write_back),
      flush_every_(write_back > 0 ? flush_every : 0),
      limit_(limit),
      on_error_(std::move(on_error)),
      flush_(flush_every_ > 0
                 ? std::make_unique<BackgroundFlush>([this](std::exception_ptr e) { fail_with(e); }, drop_flushed)
                 : nullptr),
      thread_([this] { loop(); }) {}

void WriteQueue::start_write_back(int fd, uint64_t offset, uint64_t size) {
  if (write_back_ == 0) return;
  auto u = std::find_if(unhanded_.begin(), unhanded_.end(), [&](const Unhanded& x) { return x.fd == fd; });
  if (u == unhanded_.end()) u = unhanded_.insert(unhanded_.end(), Unhanded{fd});
  u->begin = u->bytes == 0 ? offset : std::min(u->begin, offset);
  u->end = u->bytes == 0 ? offset + size : std::max(u->end, offset + size);
  u->bytes += size;
  if (u->bytes < write_back_) return;
  // Pages in the range already handed over, or never written, are not dirty: the call skips them.
  ::sync_file_range(fd, static_cast<off_t>(u->begin), static_cast<off_t>(u->end - u->begin), SYNC_FILE_RANGE_WRITE);
  ++hand_overs_;
  u->since_flush += u->bytes;
  u->bytes = 0;
  if (flush_ && u->since_flush >= flush_every_) {
    u->since_flush = 0;
    flush_->request(fd);
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
  if (flush_) flush_->finish();
}

bool WriteQueue::drop_all() {
  std::lock_guard lock(mu_);
  const bool first = !failed_;
  failed_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  changed_.notify_all();
  return first;
}

void WriteQueue::fail_with(std::exception_ptr e) {
  if (drop_all()) on_error_(e);
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
      fail_with(std::current_exception());
      return;
    }
    std::lock_guard lock(mu_);
    queued_bytes_ -= size_of(w);
    if (!w.borrowed && free_.size() < 16) free_.push_back(std::move(w.bytes));
    changed_.notify_all();
  }
}

}  // namespace alloy
