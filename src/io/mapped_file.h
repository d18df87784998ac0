// MappedFile: a read-only memory map of a whole file (RAII). Inputs are never written through it.
#pragma once
#include <cstddef>
#include <cstdint>
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

  // Hints to the kernel about [offset, offset+len) of the mapping; both are no-ops on failure.
  void advise_sequential(uint64_t offset, uint64_t len) const;
  void advise_dontneed(uint64_t offset, uint64_t len) const;

 private:
  void reset();
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace alloy
