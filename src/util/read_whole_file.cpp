#include "util/read_whole_file.h"

#include <fstream>

#include "util/error.h"
#include "util/size_text.h"

namespace alloy {

std::string read_whole_file(const std::filesystem::path& path, std::string_view what, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read ", what, " ", path.string(), ": no such file or not readable");
  std::string bytes;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    bytes.append(chunk, static_cast<size_t>(in.gcount()));
    if (bytes.size() > max_bytes)
      fail("cannot read ", what, " ", path.string(), ": larger than ", format_size(max_bytes, SizeUnit::Bytes),
           ", the most alloy reads of such a file");
  }
  if (in.bad()) fail("cannot read ", what, " ", path.string(), ": read error");
  return bytes;
}

}  // namespace alloy
