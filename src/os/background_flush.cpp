#include "os/background_flush.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "util/error.h"

namespace alloy {

namespace {

// The path a descriptor is open on, for an error message.
std::string file_of(int fd) {
  char path[4096];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), path, sizeof path);
  if (n <= 0 || n == static_cast<ssize_t>(sizeof path)) return "output descriptor " + std::to_string(fd);
  return std::string(path, static_cast<size_t>(n));
}

}  // namespace

BackgroundFlush::BackgroundFlush(std::function<void(std::exception_ptr)> on_error, bool drop_flushed)
    : on_error_(std::move(on_error)), drop_flushed_(drop_flushed), thread_([this] { loop(); }) {}

BackgroundFlush::~BackgroundFlush() { finish(); }

void BackgroundFlush::request(int fd) {
  std::lock_guard lock(mu_);
  if (closing_ || failed_) return;
  if (std::find(pending_.begin(), pending_.end(), fd) != pending_.end()) return;
  pending_.push_back(fd);
  changed_.notify_all();
}

void BackgroundFlush::finish() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    pending_.clear();
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

int BackgroundFlush::flushes() const {
  std::lock_guard lock(mu_);
  return flushes_;
}

void BackgroundFlush::loop() {
  for (;;) {
    int fd;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return !pending_.empty() || closing_; });
      if (pending_.empty()) return;  // closing
      fd = pending_.front();
      pending_.erase(pending_.begin());
    }
    const int rc = ::fdatasync(fd);
    const int err = errno;
    // (the kernel drops the clean pages no process maps, and starts write-back of the dirty ones)
    if (rc == 0 && drop_flushed_) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);  // 0: to the end
    std::unique_lock lock(mu_);
    ++flushes_;
    if (rc == 0) continue;
    failed_ = true;
    pending_.clear();
    lock.unlock();
    try {
      fail(file_of(fd), ": fdatasync failed while writing: ", std::strerror(err),
           " (the disk did not store the output; check it and its free space, then merge again)");
    } catch (...) {
      on_error_(std::current_exception());
    }
    return;
  }
}

}  // namespace alloy
