#include "io/zip_archive.h"

#include <cstring>

#include "util/error.h"

namespace alloy {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint64_t kEndSize = 22, kEnd64LocatorSize = 20, kEnd64Size = 56;
constexpr uint64_t kCentralHeaderSize = 46, kLocalHeaderSize = 30;

// Little-endian reads at a checked position of the file image.
class Bytes {
 public:
  Bytes(const std::byte* data, uint64_t size) : data_(data), size_(size) {}
  void need(uint64_t at, uint64_t n, const char* what) const {
    if (at > size_ || n > size_ - at) fail(what, " at byte ", at, " runs past the end of the file (", size_, " bytes)");
  }
  uint64_t le(uint64_t at, int n) const {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | std::to_integer<uint8_t>(data_[at + static_cast<uint64_t>(i)]);
    return v;
  }
  uint16_t u16(uint64_t at) const { return static_cast<uint16_t>(le(at, 2)); }
  uint32_t u32(uint64_t at) const { return static_cast<uint32_t>(le(at, 4)); }
  uint64_t u64(uint64_t at) const { return le(at, 8); }
  std::string str(uint64_t at, uint64_t n) const { return std::string(reinterpret_cast<const char*>(data_ + at), n); }
  uint64_t size() const { return size_; }

 private:
  const std::byte* data_;
  uint64_t size_;
};

// The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes; the last
// signature whose comment length reaches exactly to the end of the file is the real one.
uint64_t find_end_record(const Bytes& b) {
  if (b.size() < kEndSize) fail("too short to be a zip archive (", b.size(), " bytes)");
  const uint64_t lowest = b.size() > kEndSize + 0xFFFF ? b.size() - kEndSize - 0xFFFF : 0;
  for (uint64_t at = b.size() - kEndSize + 1; at-- > lowest;)
    if (b.u32(at) == kEndSig && at + kEndSize + b.u16(at + 20) == b.size()) return at;
  fail("not a zip archive (no end-of-central-directory record); a PyTorch .bin from torch.save >= 1.6 is a zip file");
}

struct CentralDirectory {
  uint64_t entries = 0, offset = 0, size = 0;
};

CentralDirectory read_end_records(const Bytes& b) {
  const uint64_t end = find_end_record(b);
  if (b.u16(end + 4) != 0 || b.u16(end + 6) != 0) fail("a multi-disk (split) zip archive is not supported");
  CentralDirectory cd{b.u16(end + 10), b.u32(end + 16), b.u32(end + 12)};
  const bool zip64 = cd.entries == 0xFFFF || cd.offset == 0xFFFFFFFF || cd.size == 0xFFFFFFFF;
  if (!zip64) return cd;
  if (end < kEnd64LocatorSize || b.u32(end - kEnd64LocatorSize) != kEnd64LocatorSig)
    fail("the end record says zip64 but there is no zip64 end-of-central-directory locator before it");
  const uint64_t rec = b.u64(end - kEnd64LocatorSize + 8);
  b.need(rec, kEnd64Size, "the zip64 end-of-central-directory record");
  if (b.u32(rec) != kEnd64Sig) fail("no zip64 end-of-central-directory record at byte ", rec);
  if (b.u32(rec + 16) != 0 || b.u32(rec + 20) != 0) fail("a multi-disk (split) zip archive is not supported");
  return {b.u64(rec + 32), b.u64(rec + 48), b.u64(rec + 40)};
}

// Replaces the 32-bit fields that hold 0xFFFFFFFF with the zip64 extra field's 64-bit values,
// which appear in this order and only for the fields that overflowed.
void apply_zip64_extra(const Bytes& b, uint64_t extra, uint64_t extra_len, uint64_t* size, uint64_t* csize,
                       uint64_t* local, const std::string& name) {
  uint64_t* wanted[] = {size, csize, local};
  for (uint64_t at = extra; at + 4 <= extra + extra_len;) {
    const uint16_t id = b.u16(at), len = b.u16(at + 2);
    if (at + 4 + len > extra + extra_len) fail("entry '", name, "': extra field runs past its header");
    if (id == kZip64ExtraId) {
      uint64_t pos = at + 4;
      for (uint64_t* field : wanted) {
        if (*field != 0xFFFFFFFF) continue;
        if (pos + 8 > at + 4 + len) fail("entry '", name, "': zip64 extra field is too short");
        *field = b.u64(pos);
        pos += 8;
      }
      return;
    }
    at += 4 + len;
  }
  for (const uint64_t* field : wanted)
    if (*field == 0xFFFFFFFF) fail("entry '", name, "': a size or offset says zip64 but there is no zip64 extra field");
}

}  // namespace

ZipArchive ZipArchive::read(const std::byte* file, uint64_t file_size) {
  const Bytes b(file, file_size);
  const CentralDirectory cd = read_end_records(b);
  b.need(cd.offset, cd.size, "the central directory");
  if (cd.entries > cd.size / kCentralHeaderSize)
    fail("the central directory claims ", cd.entries, " entries in ", cd.size, " bytes");

  ZipArchive zip;
  zip.entries_.reserve(cd.entries);
  uint64_t at = cd.offset;
  const uint64_t cd_end = cd.offset + cd.size;
  for (uint64_t i = 0; i < cd.entries; ++i) {
    if (at + kCentralHeaderSize > cd_end || b.u32(at) != kCentralHeaderSig)
      fail("central directory entry ", i, " at byte ", at, " is malformed");
    const uint16_t flags = b.u16(at + 8), method = b.u16(at + 10);
    uint64_t csize = b.u32(at + 20), size = b.u32(at + 24), local = b.u32(at + 42);
    const uint64_t name_len = b.u16(at + 28), extra_len = b.u16(at + 30), comment_len = b.u16(at + 32);
    if (at + kCentralHeaderSize + name_len + extra_len + comment_len > cd_end)
      fail("central directory entry ", i, " runs past the directory");
    std::string name = b.str(at + kCentralHeaderSize, name_len);
    if (flags & 0x41) fail("entry '", name, "' is encrypted; alloy reads unencrypted archives only");
    if (method != 0)
      fail("entry '", name, "' is compressed (method ", method,
           "); alloy reads the uncompressed entries torch.save writes (re-save it with torch.save or convert to safetensors)");
    apply_zip64_extra(b, at + kCentralHeaderSize + name_len, extra_len, &size, &csize, &local, name);
    if (csize != size) fail("entry '", name, "' is stored but its compressed and uncompressed sizes differ");

    const std::string local_what = cat("the local header of entry '", name, "'");
    b.need(local, kLocalHeaderSize, local_what.c_str());
    if (b.u32(local) != kLocalHeaderSig) fail("entry '", name, "': no local header at byte ", local);
    const uint64_t local_name_len = b.u16(local + 26), local_extra_len = b.u16(local + 28);
    b.need(local + kLocalHeaderSize, local_name_len + local_extra_len, local_what.c_str());
    if (b.str(local + kLocalHeaderSize, local_name_len) != name)
      fail("entry '", name, "': its local header names a different file");
    const uint64_t data = local + kLocalHeaderSize + local_name_len + local_extra_len;
    b.need(data, size, cat("entry '", name, "' (", size, " bytes)").c_str());

    if (!zip.by_name_.emplace(name, zip.entries_.size()).second) fail("entry '", name, "' appears twice");
    zip.entries_.push_back({std::move(name), data, size});
    at += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  return zip;
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

}  // namespace alloy
