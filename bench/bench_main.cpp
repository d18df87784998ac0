// alloy_bench: merges a generated Llama-shaped bf16 family with each method in two regimes and
// compares every merge with the machine's own bounds, measured in the same run (issue 7).
//   memory regime:  inputs in the page cache, output on a tmpfs, no fsync; bound = (bytes read +
//                   bytes written) / memory copy bandwidth. Measures the engine.
//   durable regime: output on the real disk, fsynced (alloy merge's default); bound = max(memory
//                   bound, bytes written / durable write bandwidth). Measures overlap of work and IO.
// Prints a table and writes the numbers as JSON under bench/results/.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "bench_bounds.h"
#include "bench_convert.h"
#include "bench_family.h"
#include "bench_recipes.h"
#include "bench_runner.h"
#include "exec/executor.h"
#include "build_commit.h"
#include "util/error.h"

namespace alloy::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Args {
  std::string size = "large";
  int models = 4;
  std::string methods;
  std::string regime = "all";
  int threads = 0;
  int repeat = 1;
  std::string dtype = "bfloat16";
  std::string convert = "auto";
  std::string bench_dir = "/dev/shm";
  std::string durable_dir;
  std::string data_dir;
  std::string json_path;
  double disk_gb = 1.0;
  bool skip_convert_bench = false;
  std::string cold_methods = "linear";
  double memory_limit_gib = 1.0;  // the limited regime's cgroup
  bool scaling = false;
};

struct Bounds {
  double copy = 0;        // bytes/s, read + written
  double cache_read = 0;  // bytes/s
  double mapped_read = 0; // bytes/s, the same reads through mmap (a diagnostic, not a bound)
  double tmpfs_write = 0; // bytes/s, pwrite into the memory regime's directory
  double disk_write = 0;  // bytes/s, durable: the best probe, before or after the merges
  double disk_write_before = 0, disk_write_after = 0;  // the probes' best on each side
  uint64_t disk_bytes = 0;
  double cold_read_s = 0;       // `cat inputs > /dev/null` with the inputs evicted
  double cold_read_drop_s = 0;  // the same, each file's pages dropped behind the reads
  double cold_residual = 0;     // fraction of input pages still cached after the eviction
};

struct Row {
  std::string method;
  std::string regime;
  BenchRecipe recipe;
  MergeRun run;      // the best (fastest) of the repetitions
  double bound_s = 0;     // the bound
  std::string bound_by;   // "memory" or "disk"
  double io_bound_s = 0;  // through the kernel's read and write paths (see bench/README.md)
};

// The regimes a merge is timed in: where its output goes, what its inputs start from, its cache
// options. "cold-drop" and "durable-drop" reuse the pages they free (bench/README.md says why that
// matters on a VM); "limited" runs in a memory cgroup of --memory-limit.
struct Regime {
  const char* name;
  bool durable;  // output on the real disk, fsynced (alloy merge's default)
  bool cold;     // inputs evicted from the page cache before each merge (durable too)
  CachePolicy input_cache = CachePolicy::Auto;
  CachePolicy output_cache = CachePolicy::Auto;
  bool limited = false;
  // GGUF output quantised on the way out (memory regime's placement; linear only): what writing
  // straight into q8_0 or q4_k costs against the bf16 safetensors of the "memory" row.
  std::optional<GgmlType> gguf_type = std::nullopt;
};
const Regime kRegimes[] = {
    {"memory", false, false},
    {"durable", true, false},
    {"durable-drop", true, false, CachePolicy::Auto, CachePolicy::Drop},
    {"cold", true, true},
    {"cold-drop", true, true, CachePolicy::Drop},
    {"limited", true, true, CachePolicy::Auto, CachePolicy::Auto, true},
    {"gguf-q8_0", false, false, CachePolicy::Auto, CachePolicy::Auto, false, GgmlType::Q8_0},
    {"gguf-q4_k", false, false, CachePolicy::Auto, CachePolicy::Auto, false, GgmlType::Q4_K},
};

const Regime& regime_named(const std::string& name) {
  for (const Regime& r : kRegimes)
    if (name == r.name) return r;
  fail("no bench regime '", name, "'");
}

// What each --regime value runs.
struct RegimeChoice {
  const char* option;
  std::vector<std::string> regimes;
};
const std::vector<RegimeChoice>& regime_choices() {
  static const std::vector<RegimeChoice> choices = {
      {"memory", {"memory"}},
      {"durable", {"durable", "durable-drop"}},
      {"cold", {"cold", "cold-drop"}},
      {"limited", {"limited"}},
      {"gguf", {"memory", "gguf-q8_0", "gguf-q4_k"}},
      {"both", {"memory", "durable", "durable-drop"}},
      {"all", {"memory", "durable", "durable-drop", "cold", "cold-drop", "limited", "gguf-q8_0", "gguf-q4_k"}},
  };
  return choices;
}

// The row's bounds from the bytes its merge moved and the machine's bandwidths.
void set_bounds(Row& row, const Bounds& bounds) {
  const Regime& regime = regime_named(row.regime);
  const bool cold = regime.cold, durable = regime.durable;
  const double read = static_cast<double>(row.run.bytes_read), written = static_cast<double>(row.run.bytes_written);
  const double memory_bound = (read + written) / bounds.copy;
  row.bound_s = memory_bound;
  row.bound_by = "memory";
  if (durable && written / bounds.disk_write > memory_bound) {
    row.bound_s = written / bounds.disk_write;
    row.bound_by = "disk";
  }
  row.io_bound_s = durable ? std::max(read / bounds.cache_read, written / bounds.disk_write)
                           : read / bounds.cache_read + written / bounds.tmpfs_write;
  if (cold) {
    // The cold-start bound: reading the inputs from disk, then writing the output
    // durably, one after the other (a merge that overlaps them can beat it).
    row.bound_s = row.io_bound_s = bounds.cold_read_s + written / bounds.disk_write;
    row.bound_by = "cold disk";
  }
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string shell_line(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// The 1-minute load average: other work on the machine skews every number here.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double l = 0;
  in >> l;
  return l;
}

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::localtime(&t));
  return buf;
}

std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf[0] ? buf : "host";
}

double gb(double bytes) { return bytes / 1e9; }

// The memory regime's output directory goes when the bench does.
struct RemoveOnExit {
  fs::path dir;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// The fastest of `repeat` merges, each from a warm (or, `cold`, an evicted) page cache; the output
// is removed after each. Stops at the first run that is not Ok.
// With a `memory_limit`, each merge runs in a new memory cgroup of that many bytes (skipped, with
// the reason, where none can be made).
MergeRun fastest_merge(const MergeOptions& opt, const std::vector<fs::path>& inputs, int repeat, bool cold,
                       const ConvertKernels* kernels, uint64_t memory_limit = 0) {
  MergeRun best;
  for (int rep = 0; rep < std::max(1, repeat); ++rep) {
    if (cold)
      evict_from_page_cache(inputs);
    else
      warm_page_cache(inputs);
    if (opt.fsync) ::sync();
    std::unique_ptr<MemoryCgroup> cgroup;
    if (memory_limit > 0) {
      std::string why;
      cgroup = MemoryCgroup::create(memory_limit, &why);
      if (!cgroup) {
        if (rep > 0 && best.status == MergeRun::Status::Ok) return best;
        best.status = MergeRun::Status::Skipped;
        best.message = why;
        return best;
      }
    }
    MergeRun run = run_merge_in_child(opt, kernels, cgroup.get());
    std::error_code ec;
    fs::remove_all(opt.out, ec);
    if (rep == 0 || (run.status == MergeRun::Status::Ok && run.wall_s < best.wall_s)) best = run;
    if (run.status != MergeRun::Status::Ok) break;
  }
  return best;
}

// Writes a bench recipe to `dir`/<method>.yml (regenerated each run: the family's paths are in it).
fs::path write_recipe(const fs::path& dir, const std::string& method, const std::string& yaml) {
  const fs::path path = dir / (method + ".yml");
  std::ofstream out(path);
  out << yaml;
  return path;
}

// pwrite bandwidth into the memory regime's directory, best of three.
double tmpfs_write_bandwidth(const fs::path& dir, uint64_t bytes, int threads) {
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) best = std::max(best, buffered_write_bandwidth(dir, bytes, threads));
  return best;
}

// What every results file starts with: when, where, which commit (of the tree now, and the one
// this binary and its engine were built from: they differ when only `alloy` was rebuilt since),
// how many threads.
std::string tree_commit(const fs::path& source) {
  return shell_line("git -C '" + source.string() + "' describe --always --dirty 2>/dev/null");
}

// Said at the start and before a results file is written (the tree may change during a run).
void warn_if_stale(const std::string& tree) {
  if (tree != ALLOY_BUILD_COMMIT)
    std::fprintf(stderr, "warning: alloy_bench was built from %s, the source tree is at %s: its merges run the "
                 "engine it was built with (rebuild with `make bench`)\n", ALLOY_BUILD_COMMIT, tree.c_str());
}

json run_header(const fs::path& source, int threads) {
  const std::string tree = tree_commit(source);
  warn_if_stale(tree);
  return {{"date", today()},
          {"host", hostname()},
          {"cpu", cpu_model()},
          {"cores", std::thread::hardware_concurrency()},
          {"git_commit", tree},
          {"built_from", ALLOY_BUILD_COMMIT},
          {"threads", threads}};
}

const char* status_name(MergeRun::Status s) {
  switch (s) {
    case MergeRun::Status::Ok: return "ok";
    case MergeRun::Status::Skipped: return "skipped";
    case MergeRun::Status::Failed: return "failed";
  }
  return "?";
}

std::vector<fs::path> family_files(const BenchFamily& family) {
  std::vector<fs::path> files;
  for (const auto& m : family.models)
    for (const auto& f : m.weight_files) files.push_back(f);
  return files;
}

void print_table(const std::vector<Row>& rows) {
  std::printf("\n%-17s %-12s %7s %6s %7s %6s %7s %6s %9s %6s %6s %6s  %s\n", "method", "regime", "wall s", "GB/s",
              "bound s", "of it", "io s", "of it", "peak RSS", "CPU s", "steal", "idle", "bound by");
  for (const Row& r : rows) {
    if (r.run.status != MergeRun::Status::Ok) {
      std::string why = r.recipe.skip_reason.empty() ? r.run.message : r.recipe.skip_reason;
      if (why.size() > 90) why = why.substr(0, 87) + "...";
      std::printf("%-17s %-12s %s: %s\n", r.method.c_str(), r.regime.c_str(), status_name(r.run.status), why.c_str());
      continue;
    }
    const double bytes = static_cast<double>(r.run.bytes_read + r.run.bytes_written);
    std::printf("%-17s %-12s %7.2f %6.2f %7.2f %5.1f%% %7.2f %5.1f%% %5.2f GiB %6.1f %6.1f %6.1f  %s\n",
                r.method.c_str(), r.regime.c_str(), r.run.wall_s, gb(bytes) / r.run.wall_s, r.bound_s,
                100.0 * r.bound_s / r.run.wall_s, r.io_bound_s, 100.0 * r.io_bound_s / r.run.wall_s,
                static_cast<double>(r.run.max_rss_bytes) / (1u << 30), r.run.user_s + r.run.sys_s,
                r.run.machine_steal_s, r.run.machine_idle_s, r.bound_by.c_str());
  }
  std::printf("bound: the issue's (memory: bytes moved / copy bandwidth; durable, durable-drop (with --output-cache\n"
              "drop): max of that and written / durable write bandwidth; cold, cold-drop (with --input-cache drop) and\n"
              "limited (in a memory cgroup): cold read of the inputs + written / durable write bandwidth); io: through\n"
              "the kernel (memory: read / page-cache read + written / pwrite to the tmpfs; durable: max(read /\n"
              "page-cache read, written / durable write); cold: as bound). steal, idle: the whole machine's CPU seconds\n"
              "over the run (/proc/stat; steal: a virtual CPU ready while the hypervisor ran something else; idle\n"
              "includes iowait).\n");
}

json row_json(const Row& r) {
  json j = {{"method", r.method}, {"regime", r.regime}, {"status", status_name(r.run.status)}};
  if (r.run.status != MergeRun::Status::Ok) {
    j["reason"] = r.recipe.skip_reason.empty() ? r.run.message : r.recipe.skip_reason;
    return j;
  }
  const double bytes = static_cast<double>(r.run.bytes_read + r.run.bytes_written);
  j["inputs"] = r.recipe.inputs;
  j["single_pass"] = r.recipe.single_pass;
  j["wall_s"] = r.run.wall_s;
  j["merge_s"] = r.run.merge_s;
  j["bytes_read"] = r.run.bytes_read;
  j["bytes_written"] = r.run.bytes_written;
  j["effective_gb_per_s"] = gb(bytes) / r.run.wall_s;
  j["bound_s"] = r.bound_s;
  j["bound_by"] = r.bound_by;
  j["fraction_of_bound"] = r.bound_s / r.run.wall_s;
  j["io_bound_s"] = r.io_bound_s;
  j["fraction_of_io_bound"] = r.io_bound_s / r.run.wall_s;
  j["peak_rss_bytes"] = r.run.max_rss_bytes;
  if (regime_named(r.regime).limited) j["cgroup_peak_bytes"] = r.run.cgroup_peak_bytes;
  j["user_s"] = r.run.user_s;
  j["sys_s"] = r.run.sys_s;
  j["machine_steal_s"] = r.run.machine_steal_s;
  j["machine_idle_s"] = r.run.machine_idle_s;
  return j;
}

// The scaling table: the same merges over families of growing model size and model count. Time
// should grow linearly in the bytes moved and peak resident memory not at all.
int scaling_main(const Args& a, const ConvertKernels* kernels) {
  const fs::path source = ALLOY_SOURCE_DIR;
  struct Family {
    const char* size;
    int models;
  };
  const Family families[] = {{"small", 3}, {"medium", 3}, {"xlarge", 3}, {"medium", 2}, {"medium", 4}, {"medium", 8}};
  const std::vector<std::string> methods = a.methods.empty() ? std::vector<std::string>{"linear", "ties"}
                                                             : split_list(a.methods);
  const fs::path memory_dir = fs::path(a.bench_dir) / ("alloy-bench-" + std::to_string(::getpid()));
  fs::create_directories(memory_dir);
  const RemoveOnExit cleanup{memory_dir};
  const double copy = copy_bandwidth(a.threads, uint64_t{256} << 20, 5);
  const double tmpfs_write = tmpfs_write_bandwidth(memory_dir, 512u << 20, a.threads);
  std::printf("scaling: %d threads; memory copy %.2f GB/s, pwrite to %s %.2f GB/s\n", a.threads, gb(copy),
              a.bench_dir.c_str(), gb(tmpfs_write));
  json cells = json::array();
  std::printf("\n%-7s %6s %-16s %9s %7s %6s %9s %7s %9s %6s\n", "size", "models", "method", "GB moved", "wall s", "GB/s",
              "s per GB", "of io", "peak RSS", "CPU s");
  for (const Family& f : families) {
    const BenchSize& size = bench_size(f.size);
    BenchFamily family = prepare_family(size, f.models, a.data_dir);
    const std::vector<fs::path> files = family_files(family);
    warm_page_cache(files);
    const double cache_read = page_cache_read_bandwidth(files, a.threads, 2);
    const fs::path recipe_dir = family.dir / ("recipes-" + std::to_string(f.models));
    fs::create_directories(recipe_dir);
    for (const std::string& method : methods) {
      BenchRecipe recipe = bench_recipe(method, family, a.dtype);
      if (!recipe.skip_reason.empty()) continue;
      MergeOptions opt;
      opt.recipe = write_recipe(recipe_dir, method, recipe.yaml);
      opt.out = memory_dir / ("merged-" + method);
      opt.threads = a.threads;
      opt.fsync = false;
      opt.force = true;
      const MergeRun best = fastest_merge(opt, files, a.repeat, false, kernels);
      if (best.status != MergeRun::Status::Ok) {
        std::printf("%-7s %6d %-16s %s\n", f.size, f.models, method.c_str(), best.message.c_str());
        continue;
      }
      const double read = static_cast<double>(best.bytes_read), written = static_cast<double>(best.bytes_written);
      const double io_bound = read / cache_read + written / tmpfs_write;
      std::printf("%-7s %6d %-16s %9.2f %7.2f %6.2f %9.3f %6.1f%% %5.2f GiB %6.1f\n", f.size, f.models, method.c_str(),
                  gb(read + written), best.wall_s, gb(read + written) / best.wall_s, best.wall_s / gb(read + written),
                  100 * io_bound / best.wall_s, static_cast<double>(best.max_rss_bytes) / (1u << 30),
                  best.user_s + best.sys_s);
      std::fflush(stdout);
      cells.push_back({{"size", f.size},
                       {"models", f.models},
                       {"bytes_per_model", family.model_bytes},
                       {"method", method},
                       {"wall_s", best.wall_s},
                       {"bytes_read", best.bytes_read},
                       {"bytes_written", best.bytes_written},
                       {"seconds_per_gb_moved", best.wall_s / gb(read + written)},
                       {"page_cache_read_gb_per_s", gb(cache_read)},
                       {"io_bound_s", io_bound},
                       {"peak_rss_bytes", best.max_rss_bytes},
                       {"user_s", best.user_s},
                       {"sys_s", best.sys_s}});
    }
  }
  if (a.json_path != "none") {
    fs::path path = a.json_path.empty() ? source / "bench" / "results" / (today() + "-" + hostname() + "-scaling.json")
                                        : fs::path(a.json_path);
    fs::create_directories(path.parent_path());
    json j = run_header(source, a.threads);
    j["copy_gb_per_s"] = gb(copy);
    j["memory_dir_write_gb_per_s"] = gb(tmpfs_write);
    j["cells"] = cells;
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    std::printf("\nwrote %s\n", path.c_str());
  }
  return 0;
}

int bench_main(int argc, char** argv) {
  Args a;
  CLI::App app{"alloy_bench: merge throughput against the machine's own memory and disk bounds"};
  app.add_option("--size", a.size, "family size: small (0.1 GB/model), medium (1 GB), large (2.2 GB: the issue's 1.1B "
                 "family), xlarge (4 GB)")
      ->capture_default_str();
  app.add_option("--models", a.models, "models in the family: the base plus models-1 fine-tunes")->capture_default_str();
  app.add_option("--methods", a.methods, "comma-separated methods, or 'all' (default: the issue's eight + dare_linear)");
  app.add_option("--regime", a.regime,
                 "memory, durable (rows durable and durable-drop), cold (rows cold and cold-drop), limited, gguf "
                 "(memory, then linear written as q8_0 and q4_k GGUF), both (memory and durable) or all")->capture_default_str();
  app.add_option("--threads", a.threads, "merge threads (and copy-bandwidth threads); default: all cores");
  app.add_option("--repeat", a.repeat, "runs per method and regime; the fastest is reported")->capture_default_str();
  app.add_option("--dtype", a.dtype, "the recipes' dtype: (load/compute dtype); outputs are bfloat16")
      ->capture_default_str();
  app.add_option("--convert", a.convert, "conversion kernels in the merges: auto or scalar")->capture_default_str();
  app.add_option("--bench-dir", a.bench_dir, "output directory of the memory regime (a tmpfs)")->capture_default_str();
  app.add_option("--durable-dir", a.durable_dir, "output directory of the durable regime (default: build/bench-out)");
  app.add_option("--data-dir", a.data_dir, "where the family is cached (default: build/bench-data)");
  app.add_option("--json", a.json_path, "result file (default: bench/results/<date>-<host>-<size>-<N>m.json; 'none': no file)");
  app.add_option("--disk-gb", a.disk_gb, "size of the durable-write bandwidth probe, GB")->capture_default_str();
  app.add_flag("--skip-convert-bench", a.skip_convert_bench, "do not time the conversion kernels");
  app.add_option("--cold-methods", a.cold_methods, "methods of the cold and limited regimes (comma-separated)")
      ->capture_default_str();
  app.add_option("--memory-limit", a.memory_limit_gib, "the limited regime's memory cgroup, GiB")->capture_default_str();
  app.add_flag("--scaling", a.scaling,
               "the scaling table instead: linear and ties against model size (small, medium, xlarge; 3 models) "
               "and model count (medium; 2, 4, 8 models), memory regime");
  CLI11_PARSE(app, argc, argv);

  const fs::path source = ALLOY_SOURCE_DIR;
  warn_if_stale(tree_commit(source));
  if (a.threads <= 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (a.data_dir.empty()) a.data_dir = (source / "build" / "bench-data").string();
  if (a.durable_dir.empty()) a.durable_dir = (source / "build" / "bench-out").string();
  const RegimeChoice* choice = nullptr;
  for (const RegimeChoice& c : regime_choices())
    if (a.regime == c.option) choice = &c;
  if (!choice) fail("--regime: expected memory, durable, cold, limited, gguf, both or all, got '", a.regime, "'");
  if (!(a.memory_limit_gib > 0)) fail("--memory-limit: expected a positive number of GiB, got ", a.memory_limit_gib);
  const ConvertKernels* kernels = nullptr;
  if (a.convert == "scalar") kernels = &scalar_convert_kernels();
  else if (a.convert != "auto") fail("--convert: expected auto or scalar, got '", a.convert, "'");
  std::vector<std::string> methods =
      a.methods.empty() ? default_methods() : a.methods == "all" ? known_methods() : split_list(a.methods);
  const std::vector<std::string>& regimes = choice->regimes;
  // Whether any regime of this run is one that `is` says.
  auto any_regime = [&](bool (*is)(const Regime&)) {
    return std::any_of(regimes.begin(), regimes.end(), [&](const std::string& r) { return is(regime_named(r)); });
  };
  const uint64_t memory_limit = static_cast<uint64_t>(a.memory_limit_gib * (1u << 30));  // the limited regime's
  const uint64_t drop_lag = ExecOptions{}.drop_lag_per_input;  // the executor's, for the drop-behind read
  if (a.scaling) return scaling_main(a, kernels);

  const BenchSize& size = bench_size(a.size);
  BenchFamily family = prepare_family(size, a.models, a.data_dir);
  const std::vector<fs::path> files = family_files(family);
  const fs::path memory_dir = fs::path(a.bench_dir) / ("alloy-bench-" + std::to_string(::getpid()));
  const fs::path durable_dir = a.durable_dir;
  fs::create_directories(memory_dir);
  fs::create_directories(durable_dir);
  const RemoveOnExit cleanup{memory_dir};

  const double load_before = load_average();
  const char* active = kernels ? kernels->name : active_convert_kernels().name;
  std::printf("alloy_bench: %s family (%s), %d models x %.2f GB, %.0fM parameters each; %d threads; "
              "recipe dtype %s; conversion kernels: %s\n",
              size.name.c_str(), size.description.c_str(), a.models, gb(static_cast<double>(family.model_bytes)),
              family.params / 1e6, a.threads, a.dtype.c_str(), active);
  if (load_before > 0.5 * a.threads)
    std::printf("warning: load average %.1f on %u cores: other work will skew these numbers\n", load_before,
                std::thread::hardware_concurrency());

  // Bounds, in this run.
  Bounds bounds;
  std::printf("measuring bounds ...\n");
  std::fflush(stdout);
  bounds.copy = copy_bandwidth(a.threads, uint64_t{256} << 20, 5);
  warm_page_cache(files);
  bounds.cache_read = page_cache_read_bandwidth(files, a.threads, 2);
  bounds.mapped_read = mapped_read_bandwidth(files, a.threads, 2);
  // Capped and repeated: a probe as large as the output mostly measures page-cache reclaim when
  // memory is tight, which the merge then pays too but which is no property of the tmpfs.
  if (any_regime([](const Regime& r) { return !r.durable; }))
    bounds.tmpfs_write = tmpfs_write_bandwidth(memory_dir, std::min<uint64_t>(family.model_bytes, 512u << 20), a.threads);
  if (any_regime([](const Regime& r) { return r.cold; })) {
    // `cat inputs > /dev/null` from the disk: evicted first, best of two; and, as a diagnostic,
    // the same reads dropping the pages behind them by the executor's lag per input.
    for (int rep = 0; rep < 2; ++rep) {
      bounds.cold_residual = evict_from_page_cache(files);
      const double s = sequential_read_seconds(files);
      bounds.cold_read_s = rep == 0 ? s : std::min(bounds.cold_read_s, s);
      evict_from_page_cache(files);
      const double d = sequential_read_seconds(files, drop_lag);
      bounds.cold_read_drop_s = rep == 0 ? d : std::min(bounds.cold_read_drop_s, d);
    }
  }
  if (any_regime([](const Regime& r) { return r.durable; })) {
    bounds.disk_bytes = static_cast<uint64_t>(a.disk_gb * 1e9);
    // Best of two: a virtual disk's speed wanders, and a bound should be what the disk can do.
    for (int rep = 0; rep < 2; ++rep)
      bounds.disk_write_before =
          std::max(bounds.disk_write_before, durable_write_bandwidth(durable_dir, bounds.disk_bytes));
    bounds.disk_write = bounds.disk_write_before;
  }
  std::printf("bounds: memory copy %.2f GB/s (read+written, %d threads); page-cache read %.2f GB/s "
              "(through mmap: %.2f GB/s); pwrite to %s %.2f GB/s; ",
              gb(bounds.copy), a.threads, gb(bounds.cache_read), gb(bounds.mapped_read), a.bench_dir.c_str(),
              gb(bounds.tmpfs_write));
  if (bounds.disk_write > 0)
    std::printf("durable write %.3f GB/s (%.2f GB write + fsync)\n", gb(bounds.disk_write), gb(bounds.disk_bytes));
  else
    std::printf("durable write not measured\n");
  if (bounds.cold_read_s > 0)
    std::printf("cold read of the inputs (cat > /dev/null after eviction): %.2f s, %.2f GB/s; %.1f%% of their pages "
                "stayed cached\n",
                bounds.cold_read_s, gb(static_cast<double>(family.model_bytes) * a.models) / bounds.cold_read_s,
                100 * bounds.cold_residual);
  if (bounds.cold_read_drop_s > 0)
    std::printf("the same, dropping each file's pages %.0f MB behind the reads: %.2f s, %.2f GB/s\n",
                static_cast<double>(drop_lag) / (1 << 20), bounds.cold_read_drop_s,
                gb(static_cast<double>(family.model_bytes) * a.models) / bounds.cold_read_drop_s);

  std::vector<ConvertSpeed> convert_speeds;
  if (!a.skip_convert_bench) {
    convert_speeds = convert_benchmark();
    std::printf("\nconversion kernels, Gelements/s (one 64K block in cache / 32M elements from memory):\n");
    for (const auto& c : convert_speeds)
      std::printf("  %-7s %-16s %7.2f  %7.2f\n", c.kernels.c_str(), c.op.c_str(), c.cached_elements_per_s / 1e9,
                  c.memory_elements_per_s / 1e9);
  }

  const fs::path recipe_dir = family.dir / ("recipes-" + std::to_string(a.models));
  fs::create_directories(recipe_dir);
  std::vector<Row> rows;
  const uint64_t parent_rss = current_rss_bytes();
  for (const std::string& name : regimes) {
    const Regime& regime = regime_named(name);
    const std::vector<std::string> regime_methods =
        regime.cold ? split_list(a.cold_methods) : regime.gguf_type ? std::vector<std::string>{"linear"} : methods;
    for (const std::string& method : regime_methods) {
      Row row;
      row.method = method;
      row.regime = name;
      row.recipe = bench_recipe(method, family, a.dtype);
      if (!row.recipe.skip_reason.empty()) {
        row.run.status = MergeRun::Status::Skipped;
        rows.push_back(row);
        continue;
      }
      std::printf("%-17s %-12s ...", method.c_str(), name.c_str());
      std::fflush(stdout);
      MergeOptions opt;
      opt.recipe = write_recipe(recipe_dir, method, row.recipe.yaml);
      opt.out = (regime.durable ? durable_dir : memory_dir) / ("merged-" + method);
      opt.threads = a.threads;
      opt.fsync = regime.durable;
      opt.force = true;
      opt.input_cache = regime.input_cache;
      opt.output_cache = regime.output_cache;
      if (regime.gguf_type) {
        opt.out_format = OutFormat::Gguf;
        opt.out_type = regime.gguf_type;
        opt.out_shard_size = 0;  // one file, as llama.cpp's tools write it
        opt.copy_tokenizer = false;  // the generated family has none
      }
      const uint64_t limit = regime.limited ? memory_limit : 0;
      row.run = fastest_merge(opt, files, a.repeat, regime.cold, kernels, limit);
      if (row.run.status == MergeRun::Status::Ok) {
        set_bounds(row, bounds);
        std::printf(" %.2f s (%.0f%% of bound)", row.run.wall_s, 100.0 * row.bound_s / row.run.wall_s);
        if (limit > 0)
          std::printf(", the cgroup held at most %.0f MiB of %.0f", static_cast<double>(row.run.cgroup_peak_bytes) / (1 << 20),
                      static_cast<double>(limit) / (1 << 20));
        std::printf("\n");
      } else {
        std::printf(" %s\n", status_name(row.run.status));
      }
      rows.push_back(row);
    }
  }
  if (bounds.disk_write > 0 && any_regime([](const Regime& r) { return r.durable && !r.cold; })) {
    // Probed again after the durable merges: the disk's speed wanders over minutes, and a probe
    // slower than what the merges themselves wrote would give fractions above 100%. The bound is
    // the best the disk did on either side.
    for (int rep = 0; rep < 2; ++rep)
      bounds.disk_write_after =
          std::max(bounds.disk_write_after, durable_write_bandwidth(durable_dir, bounds.disk_bytes));
    bounds.disk_write = std::max(bounds.disk_write_before, bounds.disk_write_after);
    std::printf("durable write after the merges %.3f GB/s (before: %.3f); bounds below use %.3f GB/s\n",
                gb(bounds.disk_write_after), gb(bounds.disk_write_before), gb(bounds.disk_write));
    for (Row& r : rows)
      if (r.run.status == MergeRun::Status::Ok) set_bounds(r, bounds);
  }
  print_table(rows);

  bool failed = false;
  for (const Row& r : rows) failed |= r.run.status == MergeRun::Status::Failed;

  if (a.json_path != "none") {
    fs::path path = a.json_path.empty() ? source / "bench" / "results" /
                                              (today() + "-" + hostname() + "-" + size.name + "-" +
                                               std::to_string(a.models) + "m.json")
                                        : fs::path(a.json_path);
    fs::create_directories(path.parent_path());
    const FixtureDims& d = size.dims;
    json j = run_header(source, a.threads);
    j["load_average_before"] = load_before;
    j["load_average_after"] = load_average();
    j["size"] = size.name;
    j["family"] = {{"models", a.models},        {"dtype", "bf16"},          {"params_per_model", family.params},
                   {"bytes_per_model", family.model_bytes}, {"hidden", d.hidden}, {"intermediate", d.intermediate},
                   {"layers", d.layers},        {"vocab", d.vocab},         {"dir", family.dir.string()}};
    j["recipe_dtype"] = a.dtype;
    j["conversion_kernels"] = active;
    j["memory_dir"] = a.bench_dir;
    j["durable_dir"] = durable_dir.string();
    j["parent_rss_bytes_at_fork"] = parent_rss;
    if (any_regime([](const Regime& r) { return r.limited; })) j["limited_memory_bytes"] = memory_limit;
    j["bounds"] = {{"cold_read_s", bounds.cold_read_s},
                   {"cold_read_drop_behind_s", bounds.cold_read_drop_s},
                   {"cold_residual_cached_fraction", bounds.cold_residual},
                   {"copy_gb_per_s", gb(bounds.copy)},
                   {"page_cache_read_gb_per_s", gb(bounds.cache_read)},
                   {"page_cache_mmap_read_gb_per_s", gb(bounds.mapped_read)},
                   {"memory_dir_write_gb_per_s", gb(bounds.tmpfs_write)},
                   {"durable_write_gb_per_s", gb(bounds.disk_write)},
                   {"durable_write_before_gb_per_s", gb(bounds.disk_write_before)},
                   {"durable_write_after_gb_per_s", gb(bounds.disk_write_after)},
                   {"durable_write_probe_bytes", bounds.disk_bytes}};
    json conv = json::array();
    for (const auto& c : convert_speeds)
      conv.push_back({{"kernels", c.kernels},
                      {"op", c.op},
                      {"cached_gelements_per_s", c.cached_elements_per_s / 1e9},
                      {"memory_gelements_per_s", c.memory_elements_per_s / 1e9}});
    j["conversion"] = conv;
    json results = json::array();
    for (const Row& r : rows) results.push_back(row_json(r));
    j["results"] = results;
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    std::printf("\nwrote %s\n", path.c_str());
  }
  return failed ? 1 : 0;
}

}  // namespace

}  // namespace alloy::bench

int main(int argc, char** argv) {
  try {
    return alloy::bench::bench_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alloy_bench: %s\n", e.what());
    return 1;
  }
}
