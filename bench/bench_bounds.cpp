#include "bench_bounds.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "os/page_hints.h"
#include "util/error.h"

namespace alloy::bench {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// An anonymous mapping, touched page by page so no first-touch faults land in a timed region, and
// unmapped on destruction so the memory goes back to the system (forked merges inherit our RSS).
class MappedBuffer {
 public:
  explicit MappedBuffer(size_t bytes) : size_(bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) fail("cannot map ", bytes, " bytes: ", std::strerror(errno));
    data_ = static_cast<unsigned char*>(p);
    for (size_t i = 0; i < bytes; i += 4096) data_[i] = static_cast<unsigned char>(i >> 12);
  }
  ~MappedBuffer() { ::munmap(data_, size_); }
  MappedBuffer(const MappedBuffer&) = delete;
  MappedBuffer& operator=(const MappedBuffer&) = delete;
  unsigned char* data() { return data_; }

 private:
  unsigned char* data_;
  size_t size_;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads [begin, end) of `path` with pread into `buf`; returns the bytes read. With a `drop_lag`,
// the pages read are dropped from the page cache that many bytes behind the reads.
uint64_t read_range(const fs::path& path, uint64_t begin, uint64_t end, unsigned char* buf, size_t buf_size,
                    uint64_t drop_lag = 0) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(path.string(), ": cannot open: ", std::strerror(errno));
  uint64_t done = 0, dropped_to = begin;
  for (uint64_t off = begin; off < end;) {
    ssize_t n = ::pread(fd.get(), buf, std::min<uint64_t>(buf_size, end - off), static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path.string(), ": read failed: ", std::strerror(errno));
    if (n == 0) break;
    off += static_cast<uint64_t>(n);
    done += static_cast<uint64_t>(n);
    if (drop_lag > 0 && off >= dropped_to + 2 * drop_lag) {
      drop_from_page_cache(fd.get(), dropped_to, off - drop_lag - dropped_to);
      dropped_to = off - drop_lag;
    }
  }
  if (drop_lag > 0) drop_from_page_cache(fd.get(), dropped_to, end - dropped_to);
  return done;
}

}  // namespace

double copy_bandwidth(int threads, uint64_t bytes_per_thread, int reps) {
  threads = std::max(1, threads);
  std::vector<std::unique_ptr<MappedBuffer>> src, dst;
  for (int t = 0; t < threads; ++t) {
    src.push_back(std::make_unique<MappedBuffer>(bytes_per_thread));
    dst.push_back(std::make_unique<MappedBuffer>(bytes_per_thread));
  }
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::barrier sync(threads + 1);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        sync.arrive_and_wait();
        std::memcpy(dst[t]->data(), src[t]->data(), bytes_per_thread);
        sync.arrive_and_wait();
      });
    sync.arrive_and_wait();
    auto start = Clock::now();
    sync.arrive_and_wait();
    double s = seconds_since(start);
    for (auto& th : pool) th.join();
    best = std::max(best, 2.0 * static_cast<double>(bytes_per_thread) * threads / s);
  }
  return best;
}

uint64_t warm_page_cache(const std::vector<fs::path>& files) {
  MappedBuffer buf(1 << 20);
  uint64_t total = 0;
  for (const auto& f : files) total += read_range(f, 0, fs::file_size(f), buf.data(), 1 << 20);
  return total;
}

double page_cache_read_bandwidth(const std::vector<fs::path>& files, int threads, int reps) {
  threads = std::max(1, threads);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<uint64_t> got(static_cast<size_t>(threads), 0);
    auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        MappedBuffer buf(1 << 20);
        for (const auto& f : files) {
          const uint64_t size = fs::file_size(f);
          const uint64_t part = (size + threads - 1) / threads;
          const uint64_t begin = std::min(size, part * t), end = std::min(size, begin + part);
          got[t] += read_range(f, begin, end, buf.data(), 1 << 20);
        }
      });
    for (auto& th : pool) th.join();
    double s = seconds_since(start);
    uint64_t total = 0;
    for (uint64_t g : got) total += g;
    best = std::max(best, static_cast<double>(total) / s);
  }
  return best;
}

double mapped_read_bandwidth(const std::vector<fs::path>& files, int threads, int reps) {
  threads = std::max(1, threads);
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<uint64_t> got(static_cast<size_t>(threads), 0);
    auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        MappedBuffer buf(1 << 20);
        for (const auto& f : files) {
          const uint64_t size = fs::file_size(f);
          const uint64_t part = ((size + threads - 1) / threads + page - 1) / page * page;
          const uint64_t begin = std::min(size, part * t), end = std::min(size, begin + part);
          if (end == begin) continue;
          Fd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
          if (fd.get() < 0) fail(f.string(), ": cannot open: ", std::strerror(errno));
          void* p = ::mmap(nullptr, end - begin, PROT_READ, MAP_SHARED, fd.get(), static_cast<off_t>(begin));
          if (p == MAP_FAILED) fail(f.string(), ": cannot map: ", std::strerror(errno));
          const auto* bytes = static_cast<const unsigned char*>(p);
          for (uint64_t off = 0; off < end - begin; off += 1 << 20) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(1 << 20, end - begin - off));
            std::memcpy(buf.data(), bytes + off, n);
            got[t] += n;
          }
          ::munmap(p, end - begin);
        }
      });
    for (auto& th : pool) th.join();
    double s = seconds_since(start);
    uint64_t total = 0;
    for (uint64_t g : got) total += g;
    best = std::max(best, static_cast<double>(total) / s);
  }
  return best;
}

double durable_write_bandwidth(const fs::path& dir, uint64_t bytes) {
  const size_t piece = 8 << 20;
  MappedBuffer buf(piece);
  for (size_t i = 0; i < piece; ++i) buf.data()[i] = static_cast<unsigned char>((i * 2654435761u) >> 13);
  const fs::path path = dir / (".alloy-bench-disk-" + std::to_string(::getpid()));
  ::sync();  // start with no one else's dirty pages queued in front of ours
  auto start = Clock::now();
  {
    Fd fd(::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644));
    if (fd.get() < 0) fail(path.string(), ": cannot create: ", std::strerror(errno));
    for (uint64_t done = 0; done < bytes;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(piece, bytes - done));
      ssize_t w = ::write(fd.get(), buf.data(), n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        int err = errno;
        ::unlink(path.c_str());
        fail(path.string(), ": write failed: ", std::strerror(err));
      }
      done += static_cast<uint64_t>(w);
    }
    if (::fsync(fd.get()) != 0) {
      ::unlink(path.c_str());
      fail(path.string(), ": fsync failed");
    }
  }
  double s = seconds_since(start);
  ::unlink(path.c_str());
  return static_cast<double>(bytes) / s;
}

double buffered_write_bandwidth(const fs::path& dir, uint64_t bytes, int threads) {
  threads = std::max(1, threads);
  const size_t piece = 128 << 10;
  const fs::path path = dir / (".alloy-bench-write-" + std::to_string(::getpid()));
  Fd fd(::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644));
  if (fd.get() < 0) fail(path.string(), ": cannot create: ", std::strerror(errno));
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) fail(path.string(), ": cannot size");
  const uint64_t part = (bytes / threads + piece - 1) / piece * piece;
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      MappedBuffer buf(piece);
      const uint64_t begin = std::min(bytes, part * t), end = t + 1 == threads ? bytes : std::min(bytes, begin + part);
      for (uint64_t off = begin; off < end;) {
        ssize_t w = ::pwrite(fd.get(), buf.data(), static_cast<size_t>(std::min<uint64_t>(piece, end - off)),
                             static_cast<off_t>(off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += static_cast<uint64_t>(w);
      }
    });
  for (auto& th : pool) th.join();
  double s = seconds_since(start);
  ::unlink(path.c_str());
  return static_cast<double>(bytes) / s;
}

double evict_from_page_cache(const std::vector<fs::path>& files) {
  ::sync();
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t pages = 0, cached = 0;
  for (const auto& f : files) {
    Fd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) fail(f.string(), ": cannot open: ", std::strerror(errno));
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    const uint64_t size = fs::file_size(f);
    if (size == 0) continue;
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) continue;
    std::vector<unsigned char> in_core((size + page - 1) / page);
    if (::mincore(p, size, in_core.data()) == 0)
      for (unsigned char c : in_core) cached += c & 1;
    pages += in_core.size();
    ::munmap(p, size);
  }
  return pages ? static_cast<double>(cached) / static_cast<double>(pages) : 0.0;
}

double sequential_read_seconds(const std::vector<fs::path>& files, uint64_t drop_lag) {
  MappedBuffer buf(1 << 20);
  auto start = Clock::now();
  for (const auto& f : files) read_range(f, 0, fs::file_size(f), buf.data(), 1 << 20, drop_lag);
  return seconds_since(start);
}

uint64_t free_bytes(const fs::path& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace alloy::bench
