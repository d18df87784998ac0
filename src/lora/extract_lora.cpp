#include "lora/extract_lora.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "arch/architecture.h"
#include "exec/temp_dir.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "lora/adapter_config.h"
#include "lora/thin_svd.h"
#include "tensor/convert.h"
#include "tensor/view_rows.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// A tensor of the adapter file: owned values in `dtype`, or a view of the fine-tune's bytes.
struct OutTensor {
  std::string name;
  TensorView view;
  std::vector<std::byte> owned;
};

std::vector<double> values_of(const TensorView& v) {
  std::vector<float> f(static_cast<size_t>(v.numel()));
  read_view_rows(v, 0, v.rows(), f.data());
  return {f.begin(), f.end()};
}

bool listed(const std::vector<std::string>& names, const std::string& module) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return names_module(n, module); });
}

std::vector<std::regex> compile(const std::vector<std::string>& patterns, const char* flag) {
  std::vector<std::regex> out;
  for (const auto& p : patterns) try {
      out.emplace_back(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail(flag, " '", p, "': not a regular expression (ECMAScript syntax): ", e.what());
    }
  return out;
}

bool search_any(const std::vector<std::regex>& res, const std::string& s) {
  return std::any_of(res.begin(), res.end(), [&](const std::regex& re) { return std::regex_search(s, re); });
}

OutTensor owned_tensor(std::string name, Shape shape, DType dtype, const std::vector<double>& values) {
  std::vector<float> f(values.begin(), values.end());
  OutTensor t;
  t.name = std::move(name);
  t.view.dtype = dtype;
  t.view.shape = std::move(shape);
  t.owned.resize(f.size() * dtype_size(dtype));
  from_f32(f.data(), dtype, t.owned.data(), f.size());
  return t;
}

// Values as written: the f32 of `values` rounded to `dtype`, widened back.
std::vector<double> as_written(const std::vector<double>& values, DType dtype) {
  std::vector<float> f(values.begin(), values.end());
  round_to_dtype(dtype, f.data(), f.size());
  return {f.begin(), f.end()};
}

struct Factors {
  std::vector<double> a, b;  // A [r, cols], B [rows, r], row-major
  int64_t rank = 0;
};

// Rank-r factors of `delta` [rows, cols] by truncated SVD; fills the report's numbers.
Factors factorise(const std::vector<double>& delta, int64_t rows, int64_t cols, const ExtractOptions& o, DType dtype,
                  ExtractedModule& report) {
  double total = 0;
  for (double x : delta) total += x * x;
  report.delta_norm = std::sqrt(total);
  Factors f;
  if (total == 0) return f;
  const ThinSvd svd = thin_svd(delta, rows, cols);
  int64_t r = std::min<int64_t>(o.rank, svd.k);
  if (o.sv_epsilon > 0)
    r = std::min<int64_t>(r, std::count_if(svd.s.begin(), svd.s.end(), [&](double s) { return s > o.sv_epsilon; }));
  f.rank = r;
  double discarded = 0;
  for (int64_t j = r; j < svd.k; ++j) discarded += svd.s[j] * svd.s[j];
  report.discarded_fraction = std::sqrt(discarded / total);
  f.b.resize(static_cast<size_t>(rows * r));
  f.a.resize(static_cast<size_t>(r * cols));
  for (int64_t j = 0; j < r; ++j) {
    const double s = svd.s[j];
    const double to_b = o.distribute_scale ? std::sqrt(s) : 1.0, to_a = o.distribute_scale ? std::sqrt(s) : s;
    for (int64_t i = 0; i < rows; ++i) f.b[i * r + j] = svd.u[i * svd.k + j] * to_b;
    for (int64_t c = 0; c < cols; ++c) f.a[j * cols + c] = svd.vt[j * cols + c] * to_a;
  }
  // The error of the factors as they will be stored.
  const std::vector<double> a = as_written(f.a, dtype), b = as_written(f.b, dtype);
  double residual = 0;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      double ba = 0;
      for (int64_t j = 0; j < r; ++j) ba += b[i * r + j] * a[j * cols + c];
      const double e = delta[i * cols + c] - ba;
      residual += e * e;
    }
  report.relative_error = std::sqrt(residual / total);
  return f;
}

// Modules in first-appearance order, each with its parameters ("weight", "bias").
std::vector<std::pair<std::string, std::vector<std::string>>> modules_of(const Checkpoint& ck) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  std::map<std::string, size_t> index;
  for (const std::string& name : ck.tensor_names()) {
    if (!traits(ck.tensor(name).dtype).is_float) continue;  // position ids and the like
    const size_t dot = name.rfind('.');
    const std::string module = dot == std::string::npos ? "" : name.substr(0, dot);
    auto [it, fresh] = index.emplace(module, out.size());
    if (fresh) out.push_back({module, {}});
    out[it->second].second.push_back(name.substr(dot + 1));
  }
  return out;
}

void write_adapter(const fs::path& dir, const std::vector<OutTensor>& tensors, const ojson& config,
                   const ojson& report) {
  std::vector<NamedTensor> named;
  for (const auto& t : tensors) {
    TensorView v = t.view;
    if (!t.owned.empty()) {
      v.data = t.owned.data();
      v.nbytes = t.owned.size();
    }
    named.push_back({t.name, v});
  }
  write_safetensors(dir / "adapter_model.safetensors", named);
  write_json_file(dir / "adapter_config.json", nlohmann::json::parse(config.dump()));
  write_json_file(dir / "extract_report.json", nlohmann::json::parse(report.dump()));
}

}  // namespace

ExtractReport extract_lora(const fs::path& fine_tuned, const fs::path& base_path, const fs::path& out,
                           const ExtractOptions& o) {
  if (o.rank <= 0) fail("--rank must be positive, not ", o.rank);
  std::error_code ec;
  const bool out_exists = fs::exists(out, ec);
  if (out_exists && !o.force) fail(out.string(), ": exists; give --force to replace it");
  const auto ft = Checkpoint::open(fine_tuned);
  const auto base = Checkpoint::open(base_path);
  const Architecture arch = architecture_of(*ft);
  const auto include = compile(o.include_regex, "--include-regex");
  const auto exclude = compile(o.exclude_regex, "--exclude-regex");
  auto is_input_embedding = [&](const std::string& tensor) {
    return std::any_of(arch.pre_weights.begin(), arch.pre_weights.end(),
                       [&](const WeightInfo& w) { return w.is_embed && w.name == tensor; });
  };

  ExtractReport report;
  std::vector<OutTensor> tensors;
  std::vector<std::string> saved, lora_modules;
  for (const auto& [module, params] : modules_of(*ft)) {
    const std::string weight = module + ".weight";
    for (const auto& p : params) {
      const std::string name = module.empty() ? p : module + "." + p;
      if (!base->has(name))
        fail(fine_tuned.string(), " has tensor '", name, "', which base model ", base_path.string(), " lacks");
    }
    const bool has_matrix = ft->has(weight) && ft->tensor(weight).shape.size() == 2;
    const WeightInfo* info = find_weight(arch, weight);
    const bool embedding = info && info->is_embed;
    const bool same_shapes = std::all_of(params.begin(), params.end(), [&](const std::string& p) {
      return ft->tensor(module + "." + p).shape == base->tensor(module + "." + p).shape;
    });
    ExtractedModule m;
    m.module = module;
    enum class Do { Save, Lora, LoraEmbedding, Skip } action;
    if (listed(o.save_modules, module))
      action = Do::Save;
    else if (embedding)
      action = !o.embed_lora || !same_shapes ? Do::Save : is_input_embedding(weight) ? Do::LoraEmbedding : Do::Lora;
    else if ((!include.empty() && !search_any(include, module)) || search_any(exclude, module))
      action = Do::Skip;
    else if (has_matrix)
      action = Do::Lora;
    else
      action = o.skip_undecomposable ? Do::Skip : Do::Save;
    if (action == Do::Skip) continue;
    if (action != Do::Save && !same_shapes)
      fail(fine_tuned.string(), " and base model ", base_path.string(), " differ in the shapes of module '", module,
           "' (", shape_str(ft->tensor(weight).shape), " vs ", shape_str(base->tensor(weight).shape), ")");
    if (action == Do::Save) {
      for (const auto& p : params)
        tensors.push_back({"base_model.model." + module + "." + p, ft->tensor(module + "." + p), {}});
      saved.push_back(module);
      m.kind = "saved";
      report.modules.push_back(m);
      continue;
    }
    for (const auto& p : params)
      if (p != "weight" && values_of(ft->tensor(module + "." + p)) != values_of(base->tensor(module + "." + p)))
        fail("module '", module, "': its ", p, " differs between ", fine_tuned.string(), " and ", base_path.string(),
             ", which a LoRA adapter cannot carry; save the module whole with --save-module ", module);
    const TensorView w = ft->tensor(weight);
    const DType dtype = traits(w.dtype).is_writable_float ? w.dtype : DType::F32;
    std::vector<double> delta = values_of(w);
    const std::vector<double> w_base = values_of(base->tensor(weight));
    for (size_t i = 0; i < delta.size(); ++i) delta[i] -= w_base[i];
    int64_t rows = w.shape[0], cols = w.shape[1];
    const bool transposed = action == Do::LoraEmbedding;
    if (transposed) {  // PEFT's embedding delta is (B·A)ᵀ: factor ΔWᵀ
      std::vector<double> t(delta.size());
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t c = 0; c < cols; ++c) t[c * rows + i] = delta[i * cols + c];
      delta.swap(t);
      std::swap(rows, cols);
    }
    Factors f = factorise(delta, rows, cols, o, dtype, m);
    m.rank = f.rank;
    m.kind = f.rank == 0 ? "unchanged" : transposed ? "lora_embedding" : "lora";
    if (f.rank > 0) {
      const std::string p = "base_model.model." + module;
      tensors.push_back(owned_tensor(p + (transposed ? ".lora_embedding_A" : ".lora_A.weight"), {f.rank, cols}, dtype, f.a));
      tensors.push_back(owned_tensor(p + (transposed ? ".lora_embedding_B" : ".lora_B.weight"), {rows, f.rank}, dtype, f.b));
      lora_modules.push_back(module);
    }
    report.modules.push_back(m);
  }
  if (tensors.empty())
    fail("nothing to extract: no module of ", fine_tuned.string(), " differs from ", base_path.string(),
         " or passes the filters");

  int64_t max_rank = 0;
  for (const auto& m : report.modules) max_rank = std::max(max_rank, m.rank);
  if (max_rank == 0) max_rank = o.rank;  // only whole modules: r is unused, but PEFT needs one
  ojson rank_pattern = ojson::object();
  std::set<std::string> targets;
  for (const auto& m : report.modules) {
    if (m.rank > 0 && m.rank < max_rank) rank_pattern[m.module] = m.rank;
    if (m.rank > 0) targets.insert(m.module.substr(m.module.rfind('.') + 1));
  }
  ojson config = {{"peft_type", "LORA"},
                  {"task_type", "CAUSAL_LM"},
                  {"base_model_name_or_path", base_path.string()},
                  {"r", max_rank},
                  {"lora_alpha", max_rank},
                  {"rank_pattern", rank_pattern},
                  {"alpha_pattern", rank_pattern},
                  {"target_modules", std::vector<std::string>(targets.begin(), targets.end())},
                  {"modules_to_save", saved},
                  {"use_rslora", false},
                  {"lora_dropout", 0},
                  {"bias", "none"},
                  {"fan_in_fan_out", false},
                  {"inference_mode", true}};
  ojson modules = ojson::array();
  for (const auto& m : report.modules)
    modules.push_back({{"module", m.module}, {"kind", m.kind}, {"rank", m.rank}, {"delta_norm", m.delta_norm},
                       {"relative_error", m.relative_error}, {"discarded_fraction", m.discarded_fraction}});
  const ojson report_json = {{"fine_tuned", fine_tuned.string()}, {"base", base_path.string()},
                             {"max_rank", o.rank}, {"modules", modules}};

  remove_stale_temp_dirs(out);
  const fs::path tmp = temp_dir_for(out, ::getpid());
  if (!clear_temp_dir(tmp))
    fail(tmp.string(), ": in use by another run writing to the same destination; wait for it or write elsewhere");
  if (!fs::create_directory(tmp, ec)) fail(tmp.string(), ": cannot create: ", ec.message());
  const int lock = create_temp_dir_lock(tmp);
  try {
    write_adapter(tmp, tensors, config, report_json);
    move_into_place(tmp, out, out_exists);
  } catch (...) {
    remove_temp_dir(tmp);
    if (lock >= 0) ::close(lock);
    throw;
  }
  if (lock >= 0) ::close(lock);
  return report;
}

}  // namespace alloy
