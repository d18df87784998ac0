#include "util/read_whole_file.h"

#include <fstream>
#include <sstream>

#include "util/error.h"

namespace alloy {

std::string read_whole_file(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read ", what, " ", path.string(), ": no such file or not readable");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) fail("cannot read ", what, " ", path.string(), ": read error");
  return bytes.str();
}

}  // namespace alloy
