#include "os/mapping_guard.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace alloy {
namespace {

// Fixed tables the handler can read without locks or allocation, searched through `g_begin` only
// (the paths are touched when used). A slot is claimed under the mutex (registration is rare: one
// per input shard) and published by storing its begin last; begin 0 is a free slot.
constexpr size_t kSlots = 4096;
std::atomic<uintptr_t> g_begin[kSlots];
std::atomic<uintptr_t> g_end[kSlots];
char g_path[kSlots][512];
std::mutex g_claim;

void write_all(const char* text, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<size_t>(w);
  }
}

void write_text(const char* text) { write_all(text, std::strlen(text)); }

void on_sigbus(int sig, siginfo_t* info, void*) {
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  for (size_t i = 0; i < kSlots; ++i) {
    const uintptr_t begin = g_begin[i].load(std::memory_order_acquire);
    if (begin == 0 || address < begin || address >= g_end[i].load(std::memory_order_relaxed)) continue;
    write_text("alloy: error: ");
    write_text(g_path[i]);
    write_text(": the file became shorter while alloy was reading it (changed or truncated by another "
               "program); inputs must stay unchanged during a run: run again once the file is complete\n");
    ::_exit(kMappingChangedExitStatus);
  }
  // Not ours: the default action (a crash, as without this handler).
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, nullptr);
}

}  // namespace

void guard_mapping(const void* data, uint64_t size, const std::filesystem::path& path) {
  static std::once_flag installed;
  std::call_once(installed, install_handler);
  std::lock_guard lock(g_claim);
  for (size_t i = 0; i < kSlots; ++i) {
    if (g_begin[i].load(std::memory_order_relaxed) != 0) continue;
    std::strncpy(g_path[i], path.c_str(), sizeof g_path[i] - 1);
    g_end[i].store(reinterpret_cast<uintptr_t>(data) + size, std::memory_order_relaxed);
    g_begin[i].store(reinterpret_cast<uintptr_t>(data), std::memory_order_release);
    return;
  }
}

void unguard_mapping(const void* data) {
  std::lock_guard lock(g_claim);
  for (size_t i = 0; i < kSlots; ++i)
    if (g_begin[i].load(std::memory_order_relaxed) == reinterpret_cast<uintptr_t>(data)) {
      g_begin[i].store(0, std::memory_order_release);
      return;
    }
}

}  // namespace alloy
