#include "cli/inspect.h"

#include <algorithm>
#include <cstdio>

#include "arch/architecture.h"
#include "io/checkpoint.h"
#include "util/error.h"

namespace alloy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string config_string(const json& config, const char* key) {
  const json* v = json_get_dotted(config, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

// Architecture detection may fail in ways that do not say which model it was looking at.
Architecture architecture_named(const Checkpoint& ck, const fs::path& path) {
  try {
    return architecture_of(ck);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_with(path.string(), e);
  }
}

std::string pad_right(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string pad_left(const std::string& s, size_t width) {
  return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
}

// "1,171,200 bytes (1.12 MiB)" with the byte count right-aligned to `width` characters.
std::string bytes_value(uint64_t bytes, size_t width) {
  return pad_left(with_thousands(bytes), width) + " bytes (" + human_bytes(bytes) + ")";
}

std::string tensor_table(const std::vector<TensorSummary>& tensors) {
  const std::vector<std::string> header = {"name", "dtype", "shape", "parameters"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : tensors)
    rows.push_back({t.name, t.dtype, shape_str(t.shape), with_thousands(numel(t.shape))});
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c + 1 < cells.size(); ++c) out += pad_right(cells[c], width[c] + 2);
    return out + pad_left(cells.back(), width.back()) + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string metadata_table(const std::vector<MetadataSummary>& metadata) {
  size_t key_width = 3, type_width = 4;
  for (const auto& m : metadata) {
    key_width = std::max(key_width, m.key.size());
    type_width = std::max(type_width, m.type.size());
  }
  std::string out = pad_right("key", key_width + 2) + pad_right("type", type_width + 2) + "value\n";
  for (const auto& m : metadata) out += pad_right(m.key, key_width + 2) + pad_right(m.type, type_width + 2) + m.text + "\n";
  return out;
}

// The tensors of `module` that `ck` holds (a weight under its name or one of its aliases; an
// optional one, such as a tied head, may be absent), counted with their parameters.
ModuleSummary module_summary(const Checkpoint& ck, const ArchModule& module) {
  ModuleSummary m{module.name, module.weight_prefix, module.arch.num_layers};
  auto count = [&](const WeightInfo& w, int layer) {
    std::vector<std::string> spellings = {w.name};
    spellings.insert(spellings.end(), w.aliases.begin(), w.aliases.end());
    for (const std::string& spelling : spellings)
      if (const std::string name = instantiate(spelling, layer); ck.has(name)) {
        ++m.tensor_count;
        m.parameter_count += static_cast<uint64_t>(ck.tensor(name).numel());
        return;
      }
  };
  for (const auto* section : {&module.arch.pre_weights, &module.arch.post_weights})
    for (const WeightInfo& w : *section) count(w, 0);
  for (int l = 0; l < module.arch.num_layers; ++l)
    for (const WeightInfo& w : module.arch.layer_weights) count(w, l);
  return m;
}

}  // namespace

CheckpointSummary summarize_checkpoint(const fs::path& path) {
  if (path.extension() == ".gguf") return summarize_gguf(path);
  auto ck = Checkpoint::open(path);
  Architecture arch = architecture_named(*ck, path);
  CheckpointSummary s;
  s.path = path.string();
  s.architecture = arch.name;
  s.model_type = arch.model_type.empty() ? config_string(ck->config(), "model_type") : arch.model_type;
  s.num_layers = arch.num_layers;
  for (const auto& name : ck->tensor_names()) {
    TensorView v = ck->tensor(name);
    s.tensors.push_back({name, std::string(dtype_name(v.dtype)), v.shape});
    // Element counts are bounded by the file sizes (at least one byte each): no overflow.
    s.parameter_count += static_cast<uint64_t>(v.numel());
    s.bytes_by_dtype[std::string(dtype_name(v.dtype))] += v.nbytes;
    s.total_bytes += v.nbytes;
  }
  s.tensor_count = s.tensors.size();
  for (const ArchModule& module : arch.modules) s.modules.push_back(module_summary(*ck, module));
  return s;
}

nlohmann::ordered_json summary_json(const CheckpointSummary& s, bool with_tensors) {
  nlohmann::ordered_json out = {
      {"path", s.path},
      {"architecture", s.architecture},
      {"model_type", s.model_type},
      {"num_layers", s.num_layers},
      {"tensor_count", s.tensor_count},
      {"parameter_count", s.parameter_count},
      {"bytes_by_dtype", s.bytes_by_dtype},
      {"total_bytes", s.total_bytes},
  };
  if (!s.modules.empty()) {
    auto modules = nlohmann::ordered_json::array();
    for (const ModuleSummary& m : s.modules)
      modules.push_back({{"name", m.name}, {"weight_prefix", m.weight_prefix}, {"num_layers", m.num_layers},
                         {"tensor_count", m.tensor_count}, {"parameter_count", m.parameter_count}});
    out["modules"] = std::move(modules);
  }
  if (!s.format.empty()) {
    out["format"] = s.format;
    auto metadata = nlohmann::ordered_json::object();
    for (const auto& m : s.metadata) metadata[m.key] = {{"type", m.type}, {"value", m.json}};
    out["metadata"] = std::move(metadata);
  }
  if (with_tensors) {
    auto tensors = nlohmann::ordered_json::array();
    for (const auto& t : s.tensors)
      tensors.push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}});
    out["tensors"] = std::move(tensors);
  }
  return out;
}

std::string summary_json_text(const CheckpointSummary& s, bool with_tensors) {
  // dump(2) would spread every shape over several lines; keep each tensor on one.
  nlohmann::ordered_json j = summary_json(s, with_tensors);
  std::string out = "{";
  const char* separator = "\n";
  for (const auto& [key, value] : j.items()) {
    out += separator;
    out += "  " + nlohmann::ordered_json(key).dump() + ": ";
    if (key == "tensors") {
      out += "[";
      for (size_t i = 0; i < value.size(); ++i) out += (i == 0 ? "\n    " : ",\n    ") + value[i].dump();
      out += value.empty() ? "]" : "\n  ]";
    } else if (key == "metadata") {  // one line per key; GGUF strings need not be valid UTF-8
      constexpr auto kReplace = nlohmann::ordered_json::error_handler_t::replace;
      out += "{";
      const char* item_separator = "\n    ";
      for (const auto& [k, v] : value.items()) {
        out += item_separator + nlohmann::ordered_json(k).dump(-1, ' ', false, kReplace) + ": " +
               v.dump(-1, ' ', false, kReplace);
        item_separator = ",\n    ";
      }
      out += value.empty() ? "}" : "\n  }";
    } else {
      out += value.dump();
    }
    separator = ",\n";
  }
  return out + "\n}\n";
}

std::string summary_text(const CheckpointSummary& s, bool with_tensors) {
  const size_t number_width = with_thousands(s.total_bytes).size();
  std::vector<std::pair<std::string, std::string>> rows = {
      {"path", s.path},
      {"architecture", s.model_type.empty() ? s.architecture : s.architecture + " (" + s.model_type + ")"},
      {"layers", std::to_string(s.num_layers)},
      {"tensors", with_thousands(s.tensor_count)},
      {"parameters", with_thousands(s.parameter_count) + " (" + human_count(s.parameter_count) + ")"},
      {"size", bytes_value(s.total_bytes, number_width)},
  };
  for (const auto& [dtype, bytes] : s.bytes_by_dtype) rows.push_back({"  " + dtype, bytes_value(bytes, number_width)});
  for (const ModuleSummary& m : s.modules)
    rows.push_back({"module " + m.name, cat("'", m.weight_prefix, "': ", m.num_layers, " layers, ",
                                            with_thousands(m.tensor_count), " tensors, ",
                                            human_count(m.parameter_count), " parameters")});
  if (!s.format.empty()) rows.insert(rows.begin() + 1, {"format", s.format});
  size_t label_width = 0;
  for (const auto& r : rows) label_width = std::max(label_width, r.first.size());
  std::string out;
  for (const auto& [label, value] : rows) out += pad_right(label, label_width + 2) + value + "\n";
  if (!s.format.empty()) out += "\n" + metadata_table(s.metadata);
  if (with_tensors) out += "\n" + tensor_table(s.tensors);
  return out;
}

std::string with_thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_bytes(uint64_t n) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n);
  size_t unit = 0;
  // 1023.995 and up would print as "1024.00": move to the next unit instead.
  while (unit + 1 < std::size(kUnits) && v >= 1023.995) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f %s", v, kUnits[unit]);
  return buf;
}

std::string human_count(uint64_t n) {
  static const char* const kUnits[] = {"", "K", "M", "B", "T", "P", "E"};
  if (n < 1000) return std::to_string(n);
  double v = static_cast<double>(n);
  size_t unit = 0;
  while (unit + 1 < std::size(kUnits) && v >= 999.95) {
    v /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%s", v, kUnits[unit]);
  return buf;
}

}  // namespace alloy
