// write_fully: one positioned write of a whole buffer, retried through short writes and EINTR, the
// one way alloy writes output bytes (the executor, its writer thread and the shard headers).
#pragma once
#include <cstdint>
#include <string>

namespace alloy {

// Writes all of `data` at `offset` of the open file `fd`; throws Error naming `what` on failure.
void write_fully(int fd, const void* data, uint64_t size, uint64_t offset, const std::string& what);

}  // namespace alloy
