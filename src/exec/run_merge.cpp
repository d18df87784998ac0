#include "exec/run_merge.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "os/allocator_tuning.h"
#include "exec/executor.h"
#include "exec/gguf_output.h"
#include "exec/model_card.h"
#include "exec/temp_dir.h"
#include "io/write_fully.h"
#include "os/page_hints.h"
#include "tokenizer/chat_template.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

// Files copied from the donor model when no tokenizer is built.
const char* const kTokenizerFiles[] = {
    "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json",     "tokenizer.model",
    "added_tokens.json",     "merges.txt",              "vocab.json",         "chat_template.jinja",
    "chat_template.json",    "generation_config.json",
};

void fsync_path(const fs::path& p, bool directory) {
  int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) fail(p.string(), ": cannot open for fsync: ", std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail(p.string(), ": fsync failed: ", std::strerror(err));
}

// Removes the temporary directory unless released; owns the shard descriptors meanwhile.
struct TempDir {
  fs::path path;
  std::vector<int> fds;
  int lock = -1;  // the flock that tells a later merge this directory is in use (temp_dir.h)
  bool keep = false;
  ~TempDir() {
    close_all();
    if (!keep && !path.empty()) remove_temp_dir(path);  // its lock file last
    if (lock >= 0) ::close(lock);
  }
  void close_all() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    fds.clear();
  }
};

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void update(uint64_t done, uint64_t total) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_, std::try_to_lock);
    if (!lock.owns_lock() || (now - last_ < std::chrono::milliseconds(100) && done < total)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    int width = 30, filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r[%s%s] %3.0f%%  %.2f/%.2f GB  %.2f GB/s ", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), frac * 100, done / 1e9, total / 1e9,
                 secs > 0 ? done / 1e9 / secs : 0.0);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) std::fprintf(stderr, "\r%80s\r", "");
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_, last_{};
};

// The built tokenizer, as transformers' save_pretrained writes it: tokenizer.json,
// tokenizer_config.json and, where the tokenizer's source model has one, special_tokens_map.json.
// The source's chat template files go along; its other tokenizer files (tokenizer.model,
// vocab.json, ...) would describe the old vocabulary, so none is copied.
void write_vocabulary_files(const fs::path& dir, const OutputVocabulary& vocab) {
  write_json_file(dir / "tokenizer.json", vocab.tokenizer);
  write_json_file(dir / "tokenizer_config.json", vocab.tokenizer_config);
  if (vocab.special_tokens_map) write_json_file(dir / "special_tokens_map.json", *vocab.special_tokens_map);
  std::error_code ec;
  for (const char* name : {"chat_template.jinja", "chat_template.json"})
    if (fs::exists(vocab.source_dir / name, ec)) fs::copy_file(vocab.source_dir / name, dir / name);
}

}  // namespace

void raise_open_file_limit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

fs::path merge_destination(const fs::path& out) {
  fs::path dest = fs::absolute(out).lexically_normal();
  if (dest.filename().empty()) dest = dest.parent_path();  // "out/": the directory "out"
  return dest;
}

PreparedMerge prepare_merge(const MergeOptions& opt, const fs::path& dest, bool compute_statistics) {
  raise_open_file_limit();  // planning opens every input shard
  PreparedMerge m;
  const bool gguf = opt.out_format == OutFormat::Gguf;
  // A GGUF destination named "*.gguf" is one file, put in place by renaming it out of the
  // temporary directory; any other destination is a directory, the temporary one renamed.
  m.single_file = gguf && dest.extension() == ".gguf";
  // safetensors holds the float types; the quantised ones are GGUF's.
  std::optional<DType> float_out;
  if (opt.out_type == GgmlType::F32) float_out = DType::F32;
  if (opt.out_type == GgmlType::F16) float_out = DType::F16;
  if (opt.out_type == GgmlType::BF16) float_out = DType::BF16;
  if (opt.out_type && !gguf && !float_out)
    fail("--out-type ", ggml_type_name(*opt.out_type), ": safetensors holds no quantised types; write GGUF "
         "(--out-format gguf, or name OUT *.gguf) or take f32, f16 or bf16");

  m.recipe = opt.parsed_recipe ? *opt.parsed_recipe : load_recipe(opt.recipe);
  if (float_out && !gguf) m.recipe.out_dtype = float_out;  // as the recipe's out_dtype would
  PlanOptions popt;
  popt.allow_crimes = opt.allow_crimes;
  popt.seed = opt.seed;
  popt.post_weight_t = opt.post_weight_t;
  popt.gguf_output = gguf;
  popt.recipe_dir = fs::absolute(opt.recipe).parent_path();
  popt.stats_dir = opt.stats_dir.empty() ? fs::path(dest.string() + ".alloy-stats") : opt.stats_dir;
  popt.compute_statistics = compute_statistics;
  if (m.recipe.tokenizer && gguf)
    fail(m.recipe.where(m.recipe.tokenizer->loc), ": tokenizer settings build a Hugging Face tokenizer, which GGUF "
         "output does not hold yet; write safetensors, or drop tokenizer_source/tokenizer:");
  if (m.recipe.tokenizer && !opt.copy_tokenizer)
    fail(m.recipe.where(m.recipe.tokenizer->loc), ": tokenizer settings write the tokenizer files, which "
         "--no-copy-tokenizer leaves out; drop one of the two");
  m.plan = make_plan(m.recipe, popt);
  if (m.recipe.chat_template) {
    if (!opt.copy_tokenizer && !gguf)
      fail(m.recipe.where(m.recipe.chat_template_loc), ": chat_template is written into the tokenizer files, which "
           "--no-copy-tokenizer leaves out; drop one of the two");
    std::vector<fs::path> model_dirs;
    for (const auto& model : m.plan.models) model_dirs.push_back(model.checkpoint->dir());
    m.chat_template = resolve_chat_template(*m.recipe.chat_template, model_dirs);
  }
  if (gguf) {
    GgufOutputOptions g;
    g.file_name = m.single_file ? dest.filename().string() : "model.gguf";
    g.model_name = m.single_file ? dest.stem().string() : dest.filename().string();
    g.max_split_bytes = opt.out_shard_size;
    g.out_type = opt.out_type;
    g.tokenizer = opt.copy_tokenizer;
    g.chat_template = m.chat_template;
    m.layout = layout_gguf_output(m.plan, g);
    if (m.single_file && m.layout.shards.size() > 1)
      fail(dest.string(), ": names one file, but --out-shard-size splits this model into ", m.layout.shards.size(),
           " parts: give a directory as OUT for a split set, or a larger --out-shard-size");
  } else {
    m.layout = layout_shards(m.plan.outputs(), opt.out_shard_size);
  }
  return m;
}

bool check_destination(const MergeOptions& opt, const fs::path& dest) {
  std::error_code ec;
  const bool dest_exists = fs::exists(dest, ec);
  if (opt.out_format == OutFormat::Gguf && dest.extension() == ".gguf" && fs::is_directory(dest, ec))
    fail(dest.string(), ": is a directory; a GGUF output named *.gguf is one file: name another");
  if (dest_exists && !opt.force && !(fs::is_directory(dest, ec) && fs::is_empty(dest, ec)))
    fail(dest.string(), ": already exists; pass --force to replace it");
  if (!fs::is_directory(dest.parent_path(), ec))
    fail(dest.parent_path().string(), ": output's parent directory does not exist");
  return dest_exists;
}

MergeSummary run_merge(const MergeOptions& opt, const std::atomic<bool>* cancel) {
  const fs::path dest = merge_destination(opt.out);
  check_destination(opt, dest);  // before planning, which may run models for their statistics
  PreparedMerge prepared = prepare_merge(opt, dest, true);
  if (opt.write_model_card && !prepared.single_file) {
    prepared.extra_files.emplace_back("README.md", model_card(prepared.recipe, prepared.plan, dest.filename().string()));
    prepared.extra_files.emplace_back("alloy_config.yml", prepared.recipe.source_text);
  }
  return write_merge(opt, dest, prepared, cancel);
}

MergeSummary write_merge(const MergeOptions& opt, const fs::path& dest, const PreparedMerge& prepared,
                         const std::atomic<bool>* cancel) {
  auto start = std::chrono::steady_clock::now();
  keep_freed_memory_for_reuse();
  raise_open_file_limit();
  const bool gguf = opt.out_format == OutFormat::Gguf;
  const bool dest_exists = check_destination(opt, dest);
  std::error_code ec;
  const MergePlan& plan = prepared.plan;
  const OutputLayout& layout = prepared.layout;
  const bool single_file = prepared.single_file;
  const std::optional<std::string>& chat_template = prepared.chat_template;
  // --force replaces the destination, so never one that holds an input model (inputs are never
  // modified, let alone removed).
  if (dest_exists) {
    const fs::path real_dest = fs::weakly_canonical(dest, ec);
    for (const auto& m : plan.models) {
      const fs::path input = fs::weakly_canonical(m.checkpoint->dir(), ec);
      const fs::path input_file = fs::weakly_canonical(m.checkpoint->path(), ec);
      if (std::mismatch(real_dest.begin(), real_dest.end(), input.begin(), input.end()).first == real_dest.end() ||
          real_dest == input_file)
        fail(dest.string(), ": holds the input model '", m.label, "' (", input.string(),
             "); replacing it would delete that model: merge into another directory");
    }
  }

  for (const fs::path& stale : remove_stale_temp_dirs(dest))
    if (opt.notice) opt.notice("removed " + stale.string() + ", left by a merge that was killed");
  TempDir tmp;
  tmp.path = temp_dir_for(dest, ::getpid());
  if (!clear_temp_dir(tmp.path))
    fail(tmp.path.string(), ": in use by another merge to the same destination; wait for it or merge elsewhere");
  if (!fs::create_directory(tmp.path, ec)) fail(tmp.path.string(), ": cannot create: ", ec.message());
  tmp.lock = create_temp_dir_lock(tmp.path);  // -1 where the file system has no locks: merges still work

  for (const auto& shard : layout.shards) {
    fs::path p = tmp.path / shard.file_name;
    int fd = ::open(p.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(p.string(), ": cannot create: ", std::strerror(errno));
    tmp.fds.push_back(fd);
    if (::ftruncate(fd, static_cast<off_t>(shard.file_size)) != 0)
      fail(p.string(), ": cannot size to ", shard.file_size, " bytes: ", std::strerror(errno));
    write_fully(fd, shard.header.data(), shard.header.size(), 0, p.string());
  }

  ProgressBar bar(opt.progress);
  ExecOptions eopt;
  eopt.threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  eopt.cancel = cancel;
  eopt.early_write_back = opt.fsync;
  const bool any_auto = opt.input_cache == CachePolicy::Auto || opt.output_cache == CachePolicy::Auto;
  const std::optional<uint64_t> room = any_auto ? page_cache_room() : std::nullopt;
  // Each input tensor counted once (a frankenmerge reads repeated layers again from the cache).
  std::set<const std::byte*> tensors;
  uint64_t input_bytes = 0;
  for (const auto& job : plan.jobs)
    for (const auto& in : job.call.inputs)
      if (tensors.insert(in.view.data).second) input_bytes += in.view.nbytes;
  uint64_t output_bytes = 0;
  for (const auto& shard : layout.shards) output_bytes += shard.file_size;
  const PageCacheChoice cache =
      choose_page_cache(opt.input_cache, opt.output_cache, opt.fsync, input_bytes, output_bytes, room);
  eopt.drop_input_pages = cache.drop_inputs;
  eopt.drop_output_pages = cache.drop_output;
  if (opt.notice)
    for (const std::string& line : cache.notices) opt.notice(line);
  eopt.progress = [&bar](uint64_t done, uint64_t total) { bar.update(done, total); };
  ExecStats stats;
  try {
    stats = execute(plan, layout, tmp.fds, eopt);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  // An input written while it was read may have given the output a mix of old and new bytes.
  for (const auto& m : plan.models)
    for (const InputFile& file : m.checkpoint->files())
      if (!file.mapping->unchanged())
        fail(file.mapping->path().string(), ": changed while the merge read it (another program wrote it); "
             "the output could mix old and new bytes and is not kept: run again once the file is complete");

  if (opt.fsync)
    for (size_t s = 0; s < tmp.fds.size(); ++s) {
      if (::fsync(tmp.fds[s]) != 0) fail((tmp.path / layout.shards[s].file_name).string(), ": fsync failed: ", std::strerror(errno));
      if (eopt.drop_output_pages) drop_from_page_cache(tmp.fds[s], 0, layout.shards[s].file_size);
    }
  tmp.close_all();

  // Finalize: index, config, tokenizer, card, recipe (a GGUF file holds its own config and
  // tokenizer; a single-file destination holds nothing else).
  if (!gguf) {
    if (layout.shards.size() > 1) write_json_file(tmp.path / "model.safetensors.index.json", layout.index_json());
    write_json_file(tmp.path / "config.json", plan.config);
    const fs::path donor_dir = plan.models[plan.donor].checkpoint->dir();
    if (plan.vocabulary) {
      write_vocabulary_files(tmp.path, *plan.vocabulary);
      if (fs::exists(donor_dir / "generation_config.json", ec))
        fs::copy_file(donor_dir / "generation_config.json", tmp.path / "generation_config.json");
    } else if (opt.copy_tokenizer) {
      for (const char* name : kTokenizerFiles)
        if (fs::exists(donor_dir / name, ec)) fs::copy_file(donor_dir / name, tmp.path / name);
    }
    if (chat_template) write_chat_template(tmp.path, *chat_template);
    // The architecture's tagalong files (a vision model's image preprocessor settings).
    for (const std::string& name : plan.models[plan.donor].arch.tagalong_files)
      if (fs::exists(donor_dir / name, ec))
        fs::copy_file(donor_dir / name, tmp.path / name, fs::copy_options::overwrite_existing);
  }
  for (const auto& [name, text] : prepared.extra_files) write_text_file(tmp.path / name, text);
  if (cancel && cancel->load()) fail("interrupted");
  if (opt.fsync) {
    std::set<fs::path> shards;  // fsynced above
    for (const auto& shard : layout.shards) shards.insert(shard.file_name);
    for (const auto& entry : fs::directory_iterator(tmp.path))
      if (!shards.count(entry.path().filename()) && entry.path().filename() != kTempDirLockFile)
        fsync_path(entry.path(), false);
    fsync_path(tmp.path, true);
  }

  if (single_file) {
    // rename(2) replaces an existing file atomically: dest is the old file or the new one.
    if (::rename((tmp.path / layout.shards[0].file_name).c_str(), dest.c_str()) != 0)
      fail(dest.string(), ": cannot rename the finished file into place: ", std::strerror(errno));
  } else {
    move_into_place(tmp.path, dest, dest_exists);  // the lock file, not part of the output, goes after
    tmp.keep = true;
  }
  for (const fs::path& old : remove_outputs_moved_aside(dest))
    if (opt.notice) opt.notice("removed " + old.string() + ", a previous output left by a merge that was killed");
  if (opt.fsync) {
    // The new output is complete and in place by now; only its survival of a power loss is in
    // doubt, and the error must not read as if the merge had left nothing usable.
    try {
      if (!single_file) fsync_path(dest, true);
      fsync_path(dest.parent_path(), true);
    } catch (const Error& e) {
      fail(dest.string(), ": the merged output is complete and in place, but making it durable failed (",
           e.what(), "); it may not survive a power loss until the file system syncs it");
    }
  }

  MergeSummary summary;
  summary.tensors = plan.jobs.size();
  summary.shards = layout.shards.size();
  summary.bytes_written = stats.bytes_written;
  summary.bytes_read = stats.bytes_read;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace alloy
