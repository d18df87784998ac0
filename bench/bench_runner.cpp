#include "bench_runner.h"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace alloy::bench {

using nlohmann::json;

namespace {

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// The machine's idle (with iowait) and steal seconds so far, summed over its CPUs; false when
// /proc/stat cannot be read.
bool machine_cpu_seconds(double& idle, double& steal) {
  std::ifstream in("/proc/stat");
  std::string cpu;
  // user nice system idle iowait irq softirq steal, in clock ticks
  uint64_t t[8] = {};
  if (!(in >> cpu) || cpu != "cpu") return false;
  for (uint64_t& v : t)
    if (!(in >> v)) return false;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  idle = static_cast<double>(t[3] + t[4]) / tick;
  steal = static_cast<double>(t[7]) / tick;
  return true;
}

bool not_implemented(const std::string& message) {
  return message.find("not implemented") != std::string::npos ||
         message.find("unknown merge method") != std::string::npos ||
         message.find("unknown merge_method") != std::string::npos;
}

[[noreturn]] void child(const MergeOptions& options, const ConvertKernels* kernels, const MemoryCgroup* cgroup,
                        int out_fd) {
  json result;
  try {
    if (cgroup && !cgroup->join()) throw std::runtime_error("cannot join the bench's memory cgroup");
    if (kernels) set_active_convert_kernels(kernels);
    MergeSummary s = run_merge(options);
    result = {{"ok", true}, {"seconds", s.seconds}, {"read", s.bytes_read}, {"written", s.bytes_written}};
  } catch (const std::exception& e) {
    result = {{"ok", false}, {"error", e.what()}};
  }
  write_all(out_fd, result.dump());
  ::close(out_fd);
  std::_Exit(0);
}

}  // namespace

uint64_t current_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

MergeRun run_merge_in_child(const MergeOptions& options, const ConvertKernels* kernels, const MemoryCgroup* cgroup) {
  MergeRun run;
  int fds[2];
  if (::pipe(fds) != 0) fail("pipe failed: ", std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  ::malloc_trim(0);
  double idle_before = 0, steal_before = 0;
  const bool machine_known = machine_cpu_seconds(idle_before, steal_before);
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) fail("fork failed: ", std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    child(options, kernels, cgroup, fds[1]);
  }
  ::close(fds[1]);
  std::string text = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) fail("wait4 failed: ", std::strerror(errno));
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double idle_after = 0, steal_after = 0;
  if (machine_known && machine_cpu_seconds(idle_after, steal_after)) {
    run.machine_idle_s = idle_after - idle_before;
    run.machine_steal_s = steal_after - steal_before;
  }
  run.user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
  run.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
  run.max_rss_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  if (cgroup) run.cgroup_peak_bytes = cgroup->peak_bytes();
  json result = json::parse(text, nullptr, false);
  if (!WIFEXITED(status) || result.is_discarded()) {
    run.status = MergeRun::Status::Failed;
    run.message = WIFSIGNALED(status) ? "the merge process died of signal " + std::to_string(WTERMSIG(status))
                                      : "the merge process exited without a result";
    return run;
  }
  if (!result.value("ok", false)) {
    run.message = result.value("error", std::string("unknown error"));
    run.status = not_implemented(run.message) ? MergeRun::Status::Skipped : MergeRun::Status::Failed;
    return run;
  }
  run.status = MergeRun::Status::Ok;
  run.merge_s = result["seconds"].get<double>();
  run.bytes_read = result["read"].get<uint64_t>();
  run.bytes_written = result["written"].get<uint64_t>();
  return run;
}

}  // namespace alloy::bench
