// write_fully: one positioned write of a whole buffer, retried through short writes and EINTR, the
// one way alloy writes output bytes (the executor, its writer thread and the shard headers).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace alloy {

// Writes all of `data` at `offset` of the open file `fd`; throws Error naming `what` on failure.
void write_fully(int fd, const void* data, uint64_t size, uint64_t offset, const std::string& what);

// Creates or truncates `path` and writes `text` into it, checking every step through close(2):
// a stream's buffered write can fail only when it is destroyed, where nobody sees the error, and
// a merge would then put an empty config.json in place as if complete.
void write_text_file(const std::filesystem::path& path, std::string_view text);

}  // namespace alloy
