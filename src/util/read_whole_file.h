// A whole file's bytes, for the small text and model files alloy reads at once.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace alloy {

// Throws Error "cannot read <what> <path>: ..." when the file cannot be opened or read.
std::string read_whole_file(const std::filesystem::path& path, std::string_view what);

}  // namespace alloy
