// MappedFile: a read-only memory map of a whole file (RAII). Inputs are never written through it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>

namespace alloy {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::filesystem::path& path);  // throws Error naming the file
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // The open file (read-only), kept for page-cache hints on its bytes (page_hints.h); -1 when
  // there is none.
  int fd() const { return fd_; }
  // False when the file's size or modification time differs from when it was opened: another
  // program wrote it, and what was read through the mapping may mix old and new bytes (a part cut
  // off raises SIGBUS when read: os/mapping_guard.h).
  bool unchanged() const;

 private:
  void reset();
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  timespec modified_{};
  int fd_ = -1;
};

}  // namespace alloy
