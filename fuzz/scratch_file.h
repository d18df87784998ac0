// A file in a private per-process directory, rewritten with each input: for the parsers that
// take a path (tokenizers, checkpoints, config.json) rather than bytes in memory.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

namespace alloy::fuzz {

// The process's scratch directory (created on first use, removed at exit).
const std::filesystem::path& scratch_dir();
// Writes `bytes` to scratch_dir()/name and returns its path.
std::filesystem::path write_scratch(std::string_view name, std::span<const uint8_t> bytes);

}  // namespace alloy::fuzz
