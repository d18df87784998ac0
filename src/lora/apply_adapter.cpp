#include "lora/apply_adapter.h"

#include <map>

#include "lora/adapter_config.h"
#include "lora/adapter_tensor_name.h"
#include "tensor/adapted_views.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

struct Pair {
  std::string a_name, b_name;
  TensorView a, b;
  bool embedding = false;
};

fs::path adapter_weights(const fs::path& dir) {
  for (const char* name : {"adapter_model.safetensors", "adapter_model.bin"}) {
    std::error_code ec;
    if (fs::exists(dir / name, ec)) return dir / name;
  }
  fail(dir.string(), ": no adapter_model.safetensors or adapter_model.bin in the adapter directory");
}

// Index, among `files`, of the mapped file holding `view`'s bytes.
size_t file_holding(const std::vector<InputFile>& files, const TensorView& view, const fs::path& path) {
  if (view.nbytes == 0) return 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const MappedFile* m = files[i].mapping;
    if (m && view.data >= m->data() && view.data + view.nbytes <= m->data() + m->size()) return i;
  }
  fail(path.string(), ": a tensor's bytes lie outside its mapped files");
}

void check_float_matrix(const TensorView& v, const std::string& name, const fs::path& file) {
  if (v.shape.size() != 2 || !traits(v.dtype).is_float || v.is_encoded())
    fail(file.string(), ": tensor '", name, "' (", traits(v.dtype).safetensors_name, " ", shape_str(v.shape),
         ") is not a float matrix");
}

}  // namespace

std::shared_ptr<const Checkpoint> open_with_lora_adapter(const fs::path& base_path, const CheckpointOptions& options,
                                                         const fs::path& adapter_dir) {
  std::error_code ec;
  if (!fs::is_directory(adapter_dir, ec))
    fail(adapter_dir.string(), ": LoRA adapter not found (expected a directory with adapter_config.json)");
  const AdapterConfig config = read_adapter_config(adapter_dir / "adapter_config.json");
  const fs::path weights = adapter_weights(adapter_dir);
  const auto adapter = Checkpoint::open(weights);
  const auto base = Checkpoint::open(base_path, options);

  // Every base tensor, replaced where the adapter says so.
  std::map<std::string, std::pair<TensorView, size_t>> views;  // name -> view, file index
  for (const std::string& name : base->tensor_names()) {
    const TensorView v = base->tensor(name);
    views[name] = {v, file_holding(base->files(), v, base->path())};
  }
  const size_t first_adapter_file = base->files().size();
  std::vector<std::pair<TensorView, std::shared_ptr<const LowRankAddend>>> adapted;

  std::map<std::string, Pair> pairs;  // by module
  for (const std::string& name : adapter->tensor_names()) {
    const AdapterTensorName parsed = parse_adapter_tensor_name(name, weights);
    const TensorView view = adapter->tensor(name);
    using K = AdapterTensorName::Kind;
    if (parsed.kind == K::Full) {
      if (!config.saves(parsed.module))
        fail(weights.string(), ": tensor '", name, "' replaces '", parsed.base_tensor(), "', but modules_to_save in ",
             config.file.string(), " does not list module '", parsed.module, "'");
      if (!base->has(parsed.base_tensor()))
        fail(weights.string(), ": tensor '", name, "' replaces '", parsed.base_tensor(), "', which base model ",
             base->path().string(), " lacks");
      const TensorView w = base->tensor(parsed.base_tensor());
      if (w.shape != view.shape)
        fail(weights.string(), ": tensor '", name, "' ", shape_str(view.shape), " does not fit '",
             parsed.base_tensor(), "' ", shape_str(w.shape), " of base model ", base->path().string());
      if (!traits(view.dtype).is_float || view.is_encoded())
        fail(weights.string(), ": tensor '", name, "' is not a float tensor");
      views[parsed.base_tensor()] = {view, first_adapter_file + file_holding(adapter->files(), view, weights)};
      continue;
    }
    check_float_matrix(view, name, weights);
    Pair& p = pairs[parsed.module];
    p.embedding = parsed.kind == K::EmbeddingA || parsed.kind == K::EmbeddingB;
    const bool is_a = parsed.kind == K::A || parsed.kind == K::EmbeddingA;
    if (!(is_a ? p.a_name : p.b_name).empty())
      fail(weights.string(), ": tensors '", is_a ? p.a_name : p.b_name, "' and '", name, "' are both the ",
           is_a ? "A" : "B", " factor of module '", parsed.module, "'");
    if (is_a) {
      p.a_name = name;
      p.a = view;
    } else {
      p.b_name = name;
      p.b = view;
    }
  }

  for (const auto& [module, p] : pairs) {
    const std::string& some = p.a_name.empty() ? p.b_name : p.a_name;
    if (p.a_name.empty() || p.b_name.empty())
      fail(weights.string(), ": tensor '", some, "' has no ", p.a_name.empty() ? "lora_A" : "lora_B",
           " partner for module '", module, "'");
    if (!config.targets(module))
      fail(weights.string(), ": tensor '", some, "' adapts module '", module, "', which target_modules in ",
           config.file.string(), " does not select");
    if (config.saves(module))
      fail(weights.string(), ": module '", module, "' is both adapted and in modules_to_save");
    const std::string target = module + ".weight";
    if (!base->has(target))
      fail(weights.string(), ": tensor '", some, "' adapts '", target, "', which base model ", base->path().string(),
           " lacks");
    const TensorView w = base->tensor(target);
    const int64_t rank = config.rank_of(module);
    if (p.a.shape[0] != rank || p.b.shape[1] != rank)
      fail(weights.string(), ": '", p.a_name, "' ", shape_str(p.a.shape), " and '", p.b_name, "' ",
           shape_str(p.b.shape), " are not of rank ", rank, ", which r/rank_pattern in ", config.file.string(),
           " give module '", module, "'");
    // PEFT's delta is B·A, [out, in]; transposed for fan_in_fan_out layers and for embeddings
    // (lora_embedding_A is [r, vocab], lora_embedding_B [dim, r], the weight [vocab, dim]).
    const bool transposed = p.embedding || config.fan_in_fan_out;
    const Shape delta = transposed ? Shape{p.a.shape[1], p.b.shape[0]} : Shape{p.b.shape[0], p.a.shape[1]};
    if (w.shape != delta)
      fail(weights.string(), ": '", p.b_name, "' ", shape_str(p.b.shape), " · '", p.a_name, "' ",
           shape_str(p.a.shape), transposed ? ", transposed," : "", " makes ", shape_str(delta),
           ", which does not fit '", target, "' ", shape_str(w.shape), " of base model ", base->path().string());
    adapted.emplace_back(w, std::make_shared<const LowRankAddend>(
                                LowRankAddend{p.a, p.b, config.scale_of(module), transposed}));
  }

  // The adapted checkpoint: the base's files, then the adapter's, whose owner also holds the
  // registrations of the adapted views, so that they end with the checkpoint, before the base's
  // mappings (members go in reverse order).
  struct Owner {
    std::vector<std::shared_ptr<const void>> base_files;
    std::shared_ptr<const void> adapter_file;
    std::vector<std::shared_ptr<const void>> registrations;
  };
  auto out = Checkpoint::assemble(base->path(), base->dir(), base->format(), base->is_single_file());
  std::vector<std::shared_ptr<const void>> base_files;
  for (const InputFile& f : base->files()) {
    out->add_file(f);
    base_files.push_back(f.owner);
  }
  for (const InputFile& f : adapter->files()) {
    auto owner = std::make_shared<Owner>(Owner{base_files, f.owner, {}});
    if (out->files().size() == first_adapter_file)
      for (const auto& [view, addend] : adapted) owner->registrations.push_back(register_adapted_view(view, addend));
    out->add_file({owner, f.mapping, f.data_start});
  }
  for (const std::string& name : base->tensor_names()) out->add_tensor(name, views[name].first, views[name].second);
  if (base->has_config()) out->set_config(base->config());
  return out;
}

}  // namespace alloy
