// A whole file's bytes, for the small text and model files alloy reads at once.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace alloy {

// Throws Error "cannot read <what> <path>: ..." when the file cannot be opened or read, or holds
// more than `max_bytes` (checked as it is read, so an endless or huge file costs no more memory).
std::string read_whole_file(const std::filesystem::path& path, std::string_view what,
                            uint64_t max_bytes = UINT64_MAX);

}  // namespace alloy
