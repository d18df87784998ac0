// `alloy fixture OUT_DIR ...`: writes a deterministic base model plus fine-tunes with structured
// task vectors (see tools/fixtures/fixture_family.h), for tests, benchmarks and demos.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "fixtures/arch_fixture.h"
#include "fixtures/fixture_family.h"
#include "util/size_text.h"
#include "util/error.h"

namespace alloy {

namespace {

struct FixtureOptions {
  std::string out;
  std::string family = "llama";
  std::string arch;  // an architecture fixture file (tools/fixtures/architectures/*.json)
  std::optional<int64_t> layers, hidden, intermediate, vocab, heads, kv_heads, max_positions;
  std::string params;
  std::optional<int> fine_tunes;
  std::string kinds = "dense";
  std::string dtype = "float32";
  bool tied = false, untied = false;
  std::string shard_size = "0";
  int64_t extra_vocab = 0;
  int extra_vocab_model = 1;
  uint64_t seed = 0;
  float delta_std = TaskVectorParams{}.delta_std;
  double density = TaskVectorParams{}.density;
  double conflict_fraction = TaskVectorParams{}.conflict_fraction;
  int threads = 0;
};

std::vector<TaskKind> parse_kinds(const std::string& text) {
  std::vector<TaskKind> kinds;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string name = text.substr(start, comma - start);
    if (!name.empty()) {
      auto kind = task_kind_from_name(name);
      if (!kind) fail("--kinds: unknown kind '", name, "' (dense, sparse, sign_conflict, zero)");
      kinds.push_back(*kind);
    }
    start = comma + 1;
  }
  return kinds;
}

FixtureDims choose_dims(const FixtureOptions& o, Family family, std::optional<bool> tied) {
  if (!o.params.empty()) {
    if (o.layers || o.hidden || o.intermediate || o.heads || o.kv_heads)
      fail("--params picks --layers, --hidden, --intermediate, --heads and --kv-heads; give one or the other");
    FixtureDims d = dims_for_params(family, parse_size_text(o.params, SizeUnit::Count), o.vocab, tied);
    if (o.max_positions) d.max_positions = *o.max_positions;
    return d;
  }
  FixtureDims d;
  if (o.hidden) d.hidden = *o.hidden;
  if (o.layers) d.layers = *o.layers;
  if (o.vocab) d.vocab = *o.vocab;
  if (o.max_positions) d.max_positions = *o.max_positions;
  if (o.kv_heads) d.kv_heads = *o.kv_heads;
  d.heads = o.heads ? *o.heads : (o.hidden ? std::max<int64_t>(1, d.hidden / 64) : d.heads);
  if (o.intermediate) {
    d.intermediate = *o.intermediate;
  } else if (o.hidden) {
    d.intermediate = family == Family::Llama ? std::max<int64_t>(32, (d.hidden * 11 / 4 + 31) / 32 * 32)
                                             : 4 * d.hidden;
  }
  return d;
}

FixtureSpec spec_from(const FixtureOptions& o) {
  FixtureSpec spec;
  if (!o.arch.empty()) {
    const bool dims = o.layers || o.hidden || o.intermediate || o.vocab || o.heads || o.kv_heads || o.max_positions ||
                      !o.params.empty();
    if (dims || o.tied || o.untied || o.extra_vocab != 0 || o.family != "llama")
      fail("--arch: the fixture file fixes the family, dimensions and tied embeddings; drop --family, the "
           "dimension options, --tied/--untied and --extra-vocab");
    spec.arch = std::make_shared<ArchFixture>(load_arch_fixture(o.arch));
  }
  auto family = family_from_name(o.family);
  if (!family) fail("--family: unknown family '", o.family, "' (llama, gpt2, bert)");
  spec.family = *family;
  if (o.tied) spec.tied = true;
  if (o.untied) spec.tied = false;
  if (!spec.arch) spec.dims = choose_dims(o, spec.family, spec.tied);
  auto dtype = dtype_from_torch_name(o.dtype);
  if (!dtype) fail("--dtype: unknown dtype '", o.dtype, "' (float32, float16, bfloat16)");
  spec.dtype = *dtype;
  spec.shard_bytes = parse_size_text(o.shard_size, SizeUnit::Bytes);
  spec.seed = o.seed;
  const auto kinds = parse_kinds(o.kinds);
  const int count = o.fine_tunes.value_or(static_cast<int>(kinds.size()));
  if (count < 0) fail("--fine-tunes must not be negative, got ", count);
  if (count > 0 && kinds.empty()) fail("--kinds is empty but ", count, " fine-tunes were asked for");
  for (int i = 0; i < count; ++i) spec.fine_tunes.push_back(kinds[static_cast<size_t>(i) % kinds.size()]);
  spec.extra_vocab = o.extra_vocab;
  spec.extra_vocab_fine_tune = o.extra_vocab_model;
  spec.task.delta_std = o.delta_std;
  spec.task.density = o.density;
  spec.task.conflict_fraction = o.conflict_fraction;
  spec.threads = o.threads;
  validate(spec);
  return spec;
}

void print_summary(const FixtureSpec& spec, const std::vector<WrittenModel>& models) {
  const auto& d = spec.dims;
  if (spec.arch)
    std::printf("%s (%s): %zu tensors", spec.arch->name.c_str(), spec.arch->config.value("model_type", "?").c_str(),
                spec.arch->tensors.size());
  else std::printf("%s: %lld layers, hidden %lld, intermediate %lld, vocab %lld, %lld heads",
              std::string(family_name(spec.family)).c_str(), static_cast<long long>(d.layers),
              static_cast<long long>(d.hidden), static_cast<long long>(d.intermediate),
              static_cast<long long>(d.vocab), static_cast<long long>(d.heads));
  if (!spec.arch && spec.family == Family::Llama && d.kv_heads > 0 && d.kv_heads != d.heads)
    std::printf(" (%lld kv)", static_cast<long long>(d.kv_heads));
  std::printf(", %s, %s, seed %llu\n", std::string(traits(spec.dtype).torch_name).c_str(),
              spec.arch ? "as its config says" : spec.is_tied() ? "tied embeddings" : "untied lm_head",
              static_cast<unsigned long long>(spec.seed));
  for (size_t i = 0; i < models.size(); ++i) {
    const ModelVariant v = fixture_variant(spec, static_cast<int>(i));
    std::string what = v.index == 0 ? "base" : std::string(task_kind_name(v.kind));
    if (v.extra_vocab > 0) what += cat(" +", v.extra_vocab, " vocab");
    const auto& m = models[i];
    std::printf("  %-5s %-22s %s params, %s in %zu file%s: %s\n", v.name.c_str(), what.c_str(),
                format_size(m.params, SizeUnit::Count).c_str(),
                format_size(m.tensor_bytes, SizeUnit::Bytes).c_str(), m.weight_files.size(),
                m.weight_files.size() == 1 ? "" : "s", m.dir.string().c_str());
  }
}

int run_fixture(const FixtureOptions& o) {
  try {
    const FixtureSpec spec = spec_from(o);
    print_summary(spec, write_fixture_family(spec, o.out));
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "alloy fixture: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace

void add_fixture_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<FixtureOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fixture", "Write a deterministic base model and fine-tunes (Hugging Face layout) to OUT_DIR/base, "
                 "OUT_DIR/ft1 ... for tests and benchmarks");
  cmd->add_option("out_dir", o->out, "Output directory")->required();
  cmd->add_option("--family", o->family, "llama | gpt2 | bert")->capture_default_str();
  cmd->add_option("--arch", o->arch,
                  "An architecture fixture file (tools/fixtures/architectures/NAME.json): that model's real "
                  "tensor names and config, tiny dimensions");
  cmd->add_option("--layers", o->layers, "Number of layers (default 2)");
  cmd->add_option("--hidden", o->hidden, "Hidden size (default 64)");
  cmd->add_option("--intermediate", o->intermediate,
                  "MLP size (default 128; with --hidden: 2.75x hidden for llama, 4x for gpt2/bert)");
  cmd->add_option("--vocab", o->vocab, "Vocabulary size, special tokens included (default 256)");
  cmd->add_option("--heads", o->heads, "Attention heads (default 4; with --hidden: hidden/64)");
  cmd->add_option("--kv-heads", o->kv_heads, "Key/value heads, llama only (default: --heads)");
  cmd->add_option("--max-positions", o->max_positions, "Context length (default 128)");
  cmd->add_option("--params", o->params,
                  "Pick dimensions for about this many parameters (e.g. 125M, 1.1B); --vocab still applies");
  cmd->add_option("--fine-tunes", o->fine_tunes, "Number of fine-tunes (default: one per --kinds entry)");
  cmd->add_option("--kinds", o->kinds,
                  "Comma-separated task vector kinds, cycled over the fine-tunes: dense, sparse, "
                  "sign_conflict, zero")
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "float32 | float16 | bfloat16")->capture_default_str();
  auto* tied = cmd->add_flag("--tied", o->tied, "Tie lm_head to the embeddings (default for gpt2, bert)");
  cmd->add_flag("--untied", o->untied, "Write a separate lm_head (default for llama)")->excludes(tied);
  cmd->add_option("--shard-size", o->shard_size,
                  "Max tensor bytes per shard, e.g. 500MB, 1GiB; 0 = one model.safetensors")
      ->capture_default_str();
  cmd->add_option("--extra-vocab", o->extra_vocab, "Extra vocabulary rows and tokens in one fine-tune");
  cmd->add_option("--extra-vocab-model", o->extra_vocab_model, "The fine-tune (1-based) that gets them")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--delta-std", o->delta_std, "Task vector scale")->capture_default_str();
  cmd->add_option("--density", o->density, "Fraction of non-zero elements of sparse task vectors")
      ->capture_default_str();
  cmd->add_option("--conflict-fraction", o->conflict_fraction,
                  "Fraction of elements whose sign a sign_conflict fine-tune flips")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Generation threads (default: all cores, at most 8)");
  cmd->callback([o, &exit_code] { exit_code = run_fixture(*o); });
}

}  // namespace alloy
