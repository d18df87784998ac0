#include "check/check_recipe.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>

#include "recipe/stages.h"
#include "util/error.h"
#include "util/read_whole_file.h"
#include "util/size_text.h"

namespace alloy {

namespace fs = std::filesystem;

namespace {

// The files that make a Hugging Face tokenizer; two models whose files hold the same bytes have the
// same tokenizer.
const char* const kTokenizerFiles[] = {"tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt",
                                       "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"};

std::string bytes_text(uint64_t bytes) { return format_size(bytes, SizeUnit::Bytes); }

std::string shape_text(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += cat(i ? "," : "", shape[i]);
  return s + "]";
}

std::string value_text(const std::optional<double>& v) {
  if (!v) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", *v);
  return text;
}

std::string params_text(const ParamValues& values) {
  std::string s;
  for (const auto& [name, value] : values) s += cat(s.empty() ? "" : " ", name, "=", value_text(value));
  return s.empty() ? "(none)" : s;
}

CheckedModel describe_model(const LoadedModel& m) {
  CheckedModel c;
  const Checkpoint& ck = *m.checkpoint;
  c.label = m.label;
  c.path = fs::absolute(ck.is_single_file() ? ck.path() : ck.dir()).lexically_normal();
  c.format = ck.format();
  c.files = ck.files().size();
  c.architecture = m.arch.name;
  c.layers = m.arch.num_layers;
  if (const nlohmann::json* v = json_get_dotted(ck.config(), m.arch.vocab_size_key); v && v->is_number_integer())
    c.vocab_size = v->get<int64_t>();
  c.tensor_bytes = ck.tensor_bytes();
  if (c.format == "gguf") {
    c.tokenizer = "in the GGUF metadata";
    return c;
  }
  std::string bytes;
  std::error_code ec;
  for (const char* name : kTokenizerFiles)
    if (fs::is_regular_file(ck.dir() / name, ec)) {
      c.tokenizer += cat(c.tokenizer.empty() ? "" : ", ", name);
      bytes += cat(name, "\n", read_whole_file(ck.dir() / name, "tokenizer file"));
    }
  if (!bytes.empty()) c.tokenizer_hash = std::hash<std::string>{}(bytes) | 1;
  return c;
}

std::vector<std::string> tokenizer_notes(const Recipe& recipe, const std::vector<CheckedModel>& models,
                                         size_t donor) {
  std::vector<std::string> notes;
  const CheckedModel& d = models[donor];
  if (recipe.tokenizer) {
    notes.push_back(cat("tokenizer_source: ", recipe.tokenizer->source_text(), " builds the output's tokenizer from every "
                        "model's tokenizer.json and lays out each model's embedding and lm_head rows in it by token "
                        "(docs/tokenizers.md)"));
    return notes;
  }
  for (const CheckedModel& m : models) {
    if (&m == &d) continue;
    if (m.vocab_size && d.vocab_size && *m.vocab_size != *d.vocab_size)
      notes.push_back(cat("'", m.label, "' has ", *m.vocab_size, " tokens, the donor '", d.label, "' ", *d.vocab_size,
                          ": embedding and lm_head rows past a model's vocabulary read the base model's rows (zeros "
                          "without a base), and the output has the donor's vocabulary"));
    else if (m.tokenizer_hash != d.tokenizer_hash)
      notes.push_back(cat("'", m.label, "' has other tokenizer files than the donor '", d.label, "' (",
                          m.tokenizer.empty() ? "none" : m.tokenizer, "): the rows are merged by token id as they are"));
  }
  notes.push_back(cat("the output takes the tokenizer files of '", d.label, "'", d.tokenizer.empty() ? " (it has none)" : ""));
  return notes;
}

std::string explain_tensor(const MergePlan& plan, const std::string& name) {
  auto job = std::find_if(plan.jobs.begin(), plan.jobs.end(), [&](const TensorJob& j) { return j.out.name == name; });
  if (job == plan.jobs.end()) {
    // The output names closest to the one asked for: the longest shared prefix.
    auto shared = [&](const std::string& other) {
      return std::mismatch(name.begin(), name.end(), other.begin(), other.end()).first - name.begin();
    };
    std::vector<std::string> names;
    for (const auto& j : plan.jobs) names.push_back(j.out.name);
    std::stable_sort(names.begin(), names.end(),
                     [&](const std::string& a, const std::string& b) { return shared(a) > shared(b); });
    names.resize(std::min<size_t>(names.size(), 3));
    std::string near;
    for (const auto& n : names) near += cat(near.empty() ? "" : ", ", "'", n, "'");
    fail("--explain: the output has no tensor '", name, "' (the closest: ", near, ")");
  }
  const MergeCall& call = job->call;
  std::string text = cat("tensor '", name, "' ", shape_text(job->out.shape), " ", dtype_name(job->out.dtype), " <- ",
                         job->method ? job->method->name : "copied unchanged", "\n");
  if (job->method) text += cat("  parameters: ", params_text(call.global), "\n");
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const MergeInput& in = call.inputs[i];
    text += cat("  ", in.label, ": '", in.name, "' ", shape_text(in.view.shape), " ", dtype_name(in.view.dtype),
                static_cast<int>(i) == call.base ? " (base)" : "");
    if (job->method && i < call.per_model.size()) text += cat("  ", params_text(call.per_model[i]));
    if (i < call.statistics.size())
      text += call.statistics[i].view.data ? cat("  statistics: ", shape_text(call.statistics[i].view.shape))
                                           : std::string("  statistics: computed by the merge");
    text += "\n";
  }
  return text;
}

CheckedStage check_one(const CheckOptions& options, const Recipe& recipe) {
  MergeOptions merge = options.merge;
  merge.parsed_recipe = &recipe;
  const bool has_out = !merge.out.empty();
  const fs::path dest = merge_destination(has_out ? merge.out : fs::path("merged"));
  const PreparedMerge prepared = prepare_merge(merge, dest, false);
  const MergePlan& plan = prepared.plan;

  CheckedStage s;
  s.name = recipe.name;
  s.method = recipe.merge_method;
  for (const auto& m : plan.models) s.models.push_back(describe_model(m));
  s.donor = plan.models[plan.donor].label;
  const Architecture& arch = plan.models[plan.donor].arch;
  s.architecture = arch.name;
  if (const nlohmann::json* n = json_get_dotted(plan.config, arch.num_layers_key); n && n->is_number_integer())
    s.output_layers = n->get<int>();
  if (!arch.modules.empty()) s.modules = plan.modules;
  s.tokenizer_notes = tokenizer_notes(prepared.recipe, s.models, plan.donor);
  s.statistics = plan.statistics_sources;
  s.output_format = merge.out_format == OutFormat::Gguf ? "gguf" : "safetensors";
  s.tensors = plan.jobs.size();
  s.files = prepared.layout.shards.size();
  for (const auto& shard : prepared.layout.shards) s.output_bytes += shard.file_size;
  s.input_bytes = plan.input_bytes;
  for (const auto& job : plan.jobs) {
    if (!job.method) ++s.copied_tensors;
    for (const auto& in : job.call.inputs)
      if (in.view.nbytes > s.largest_tensor_bytes) {
        s.largest_tensor_bytes = in.view.nbytes;
        s.largest_tensor = job.out.name;
      }
  }
  // docs/large-models.md: free memory of about twice the largest tensor per model kept merges at
  // the disk's speed.
  s.page_cache_for_full_speed = 2 * s.largest_tensor_bytes * plan.models.size();
  if (has_out) {
    std::error_code ec;
    if (fs::exists(dest, ec) && !(fs::is_directory(dest, ec) && fs::is_empty(dest, ec)))
      s.notes.push_back(cat(dest.string(), " exists: the merge needs --force to replace it"));
    else if (!fs::is_directory(dest.parent_path(), ec))
      fail(dest.parent_path().string(), ": output's parent directory does not exist");
  }
  for (const std::string& name : options.explain) s.explained.push_back(explain_tensor(plan, name));
  return s;
}

}  // namespace

CheckReport check_recipe(const CheckOptions& options) {
  std::vector<Recipe> docs = load_recipe_documents(options.merge.recipe);
  CheckReport report;
  if (docs.size() == 1) {
    if (!options.intermediate_dir.empty())
      fail("--intermediate-dir: ", options.merge.recipe.string(), " has one YAML document, so no stages; drop the option");
    report.stages.push_back(check_one(options, docs.front()));
    return report;
  }
  const fs::path out = merge_destination(options.merge.out.empty() ? fs::path("merged") : options.merge.out);
  const fs::path dir = options.intermediate_dir.empty() ? fs::path(out.string() + ".alloy-stages")
                                                        : fs::absolute(options.intermediate_dir).lexically_normal();
  const std::vector<Stage> stages = order_stages(std::move(docs), dir);
  for (const Stage& stage : stages) {
    // A stage that reads another stage's output can be checked once that output exists.
    std::string missing;
    std::error_code ec;
    for (size_t i : stage.inputs) {
      const fs::path input = dir / stages[i].recipe.name;
      if (!fs::exists(input / "config.json", ec))
        missing += cat(missing.empty() ? "" : ", ", "'", stages[i].recipe.name, "'");
    }
    if (!missing.empty()) {
      CheckedStage s;
      s.name = stage.final ? "" : stage.recipe.name;
      s.method = stage.recipe.merge_method;
      s.not_checked = cat("reads stage ", missing, ", not merged yet (", dir.string(),
                          "): its models and parameters are checked when that output exists");
      report.stages.push_back(s);
      continue;
    }
    CheckOptions one = options;
    if (!stage.final) {
      one.merge.out.clear();  // the intermediate directory, which the merge creates, reuses or replaces
      one.explain.clear();
    }
    report.stages.push_back(check_one(one, stage.recipe));
  }
  return report;
}

std::string check_report_text(const CheckReport& report) {
  std::string t;
  for (const CheckedStage& s : report.stages) {
    if (report.stages.size() > 1) t += cat("stage ", s.name.empty() ? "(final)" : s.name, ": ");
    if (!s.not_checked.empty()) {
      t += cat(s.method, ", not checked yet: ", s.not_checked, "\n\n");
      continue;
    }
    t += cat("merge_method ", s.method, ", ", s.models.size(), " model", s.models.size() == 1 ? "" : "s", "\n");
    for (const CheckedModel& m : s.models) {
      t += cat("  ", m.label, (m.label == s.donor ? " (donor)" : ""), ": ", m.path.string(), "\n    ", m.format, ", ",
               m.files, " file", m.files == 1 ? "" : "s", ", ", bytes_text(m.tensor_bytes), ", ", m.architecture, ", ", m.layers,
               " layers", m.vocab_size ? cat(", vocabulary ", *m.vocab_size) : "",
               ", tokenizer: ", m.tokenizer.empty() ? "none" : m.tokenizer, "\n");
    }
    t += cat("architecture: ", s.architecture, ", every model compatible; output ", s.output_layers, " layers\n");
    for (const PlannedModuleSummary& m : s.modules)
      t += cat("  module ", m.name, " ('", m.weight_prefix, "'): ", m.tensors, " tensors, ", m.output_layers, " layers",
               m.sliced ? cat(" from slices", m.layer_count_key.empty() ? "" : cat(" (config ", m.layer_count_key, ")"))
                        : std::string(", merged whole"),
               "\n");
    for (const std::string& note : s.tokenizer_notes) t += cat("tokenizer: ", note, "\n");
    for (const StatisticsSource& st : s.statistics)
      t += cat("statistics of '", st.model, "': ",
               st.exists ? cat(st.probe.empty() ? "precomputed " : "cached ", st.file.string())
                         : cat("computed by the merge from ", st.probe.string(), " (a run of the model over it)",
                               st.file.empty() ? "" : cat(", kept in ", st.file.string())),
               "\n");
    t += cat("output: ", s.output_format, ", ", s.tensors, " tensors (", s.copied_tensors, " copied unchanged), ",
             s.files, " file", s.files == 1 ? "" : "s", ", ", bytes_text(s.output_bytes), "; reads ", bytes_text(s.input_bytes), "\n");
    t += cat("memory: free memory of about ", bytes_text(s.page_cache_for_full_speed), " (twice the largest tensor, '",
             s.largest_tensor, "' at ", bytes_text(s.largest_tensor_bytes), ", per model) keeps the merge at the disk's "
             "speed; with less it runs slower, never out of memory\n");
    for (const std::string& note : s.notes) t += cat("note: ", note, "\n");
    for (const std::string& e : s.explained) t += e;
    t += "\n";
  }
  if (!t.empty()) t.pop_back();
  return t;
}

nlohmann::json check_report_json(const CheckReport& report) {
  nlohmann::json stages = nlohmann::json::array();
  for (const CheckedStage& s : report.stages) {
    nlohmann::json j{{"name", s.name}, {"merge_method", s.method}};
    if (!s.not_checked.empty()) {
      j["not_checked"] = s.not_checked;
      stages.push_back(j);
      continue;
    }
    nlohmann::json models = nlohmann::json::array();
    for (const CheckedModel& m : s.models)
      models.push_back({{"label", m.label}, {"path", m.path.string()}, {"format", m.format}, {"files", m.files},
                        {"architecture", m.architecture}, {"layers", m.layers},
                        {"vocab_size", m.vocab_size ? nlohmann::json(*m.vocab_size) : nlohmann::json()},
                        {"tensor_bytes", m.tensor_bytes}, {"tokenizer", m.tokenizer}});
    nlohmann::json modules = nlohmann::json::array();
    for (const PlannedModuleSummary& m : s.modules)
      modules.push_back({{"name", m.name}, {"weight_prefix", m.weight_prefix}, {"tensors", m.tensors},
                         {"output_layers", m.output_layers}, {"layer_count_key", m.layer_count_key}, {"sliced", m.sliced}});
    nlohmann::json statistics = nlohmann::json::array();
    for (const StatisticsSource& st : s.statistics)
      statistics.push_back({{"model", st.model}, {"file", st.file.string()}, {"probe", st.probe.string()},
                            {"exists", st.exists}});
    j.update({{"models", models}, {"donor", s.donor}, {"architecture", s.architecture},
              {"output_layers", s.output_layers}, {"modules", modules}, {"tokenizer", s.tokenizer_notes}, {"statistics", statistics},
              {"output", {{"format", s.output_format}, {"tensors", s.tensors}, {"copied_tensors", s.copied_tensors},
                          {"files", s.files}, {"bytes", s.output_bytes}}},
              {"input_bytes", s.input_bytes},
              {"largest_tensor", {{"name", s.largest_tensor}, {"bytes", s.largest_tensor_bytes}}},
              {"page_cache_for_full_speed", s.page_cache_for_full_speed}, {"notes", s.notes},
              {"explained", s.explained}});
    stages.push_back(j);
  }
  return {{"stages", stages}};
}

}  // namespace alloy
