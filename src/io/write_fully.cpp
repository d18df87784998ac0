#include "io/write_fully.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace alloy {

void write_fully(int fd, const void* data, uint64_t size, uint64_t offset, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(what, ": write failed: ", std::strerror(errno));
    }
    if (n == 0) fail(what, ": write made no progress");
    p += n;
    size -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

void write_text_file(const std::filesystem::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path.string(), ": cannot create: ", std::strerror(errno));
  try {
    write_fully(fd, text.data(), text.size(), 0, path.string());
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) fail(path.string(), ": write failed: ", std::strerror(errno));
}

}  // namespace alloy
