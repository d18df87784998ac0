// Mapping guard: a read of a file mapping past the file's end (the file was truncated while
// mapped: another program rewrote an input during a merge) raises SIGBUS, which would end alloy
// with a crash. MappedFile registers each mapping here; the SIGBUS handler looks the faulting
// address up and, when it lies in a registered mapping, prints one line naming the file and exits
// with status 1. The merge's temporary directory stays behind as after a kill, and the next merge
// to the destination removes it; the destination itself is never touched before the rename.
// A SIGBUS anywhere else keeps its default action (a crash with a core, as before).
#pragma once
#include <cstdint>
#include <filesystem>

namespace alloy {

// Exit status after a SIGBUS in a registered mapping.
inline constexpr int kMappingChangedExitStatus = 1;

// Registers [data, data + size) as a mapping of `path` (installs the handler on first use).
// Mappings beyond the registry's fixed capacity are not guarded (their SIGBUS stays a crash).
void guard_mapping(const void* data, uint64_t size, const std::filesystem::path& path);
// Forgets the mapping starting at `data` (before it is unmapped).
void unguard_mapping(const void* data);

}  // namespace alloy
