// ZipArchive: the table of contents of a zip file image, for the archives torch.save writes
// (entries stored uncompressed, so each one is a byte range of the file that can be mapped and
// viewed in place). Compressed, encrypted and multi-disk archives are refused, not half-read;
// zip64 records (archives or entries past 4 GiB) are read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace alloy {

struct ZipEntry {
  std::string name;
  uint64_t offset = 0;  // of the entry's bytes in the file (after its local header)
  uint64_t size = 0;
};

class ZipArchive {
 public:
  // Reads the central directory of `size` bytes at `file` and checks every entry's local header
  // and byte range. Throws Error with the problem (without the file name; callers add it).
  static ZipArchive read(const std::byte* file, uint64_t size);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;

 private:
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace alloy
