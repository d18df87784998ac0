#include "scratch_file.h"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "util/error.h"

namespace alloy::fuzz {
namespace {

std::filesystem::path make_scratch_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "alloy-fuzz-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) fail("cannot create a fuzzing scratch directory ", pattern);
  return pattern;
}

struct ScratchDir {
  std::filesystem::path path = make_scratch_dir();
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

const std::filesystem::path& scratch_dir() {
  static ScratchDir dir;
  return dir.path;
}

std::filesystem::path write_scratch(std::string_view name, std::span<const uint8_t> bytes) {
  std::filesystem::path path = scratch_dir() / name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail("cannot write ", path.string());
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) fail("cannot write ", path.string());
  return path;
}

}  // namespace alloy::fuzz
