// Recipe: a mergekit-compatible YAML merge recipe as validated value types. Every element keeps
// its source line so errors can say "recipe.yml:12: ...".
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"

namespace alloy {

struct SourceLoc {
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

// "<path>[@<revision>][+<lora>[@<revision>]]", or the dict form {model: {path, revision}, lora, override_architecture}.
struct ModelRef {
  std::string path;
  std::string revision;       // empty = none
  std::string lora_path;      // empty = none
  std::string lora_revision;
  std::string override_architecture;
  SourceLoc loc;

  std::string str() const;  // round-trips to the string syntax
  // Throws Error for "a+b+c" or more than one '@' in a part.
  static ModelRef parse(std::string_view text, SourceLoc loc = {});
  bool operator==(const ModelRef& o) const {
    return path == o.path && revision == o.revision && lora_path == o.lora_path &&
           lora_revision == o.lora_revision;
  }
};

// A parameter value as written: a scalar, a gradient (list of numbers interpolated over the layer
// position t), or a conditional list of {filter, value} entries (first matching filter wins).
struct ParamValue {
  enum class Kind { Scalar, Gradient, Conditional };
  struct Condition;
  Kind kind = Kind::Scalar;
  double scalar = 0;
  std::vector<double> gradient;
  std::vector<Condition> conditions;
  SourceLoc loc;
};
struct ParamValue::Condition {
  std::optional<std::string> filter;  // nullopt or "*" matches every tensor; else substring match
  ParamValue value;
};

// Value at `tensor_name` and gradient position t in [0,1]; nullopt when no condition matches.
std::optional<double> evaluate(const ParamValue& value, std::string_view tensor_name, double t);

using ParamMap = std::map<std::string, ParamValue>;

struct InputModel {
  ModelRef model;
  ParamMap parameters;
  SourceLoc loc;
};

struct InputSlice {
  ModelRef model;
  int layer_start = 0;  // half-open [layer_start, layer_end)
  int layer_end = 0;
  ParamMap parameters;
  SourceLoc loc;
};

struct OutputSlice {
  std::vector<InputSlice> sources;
  std::optional<ModelRef> base_model;
  ParamMap parameters;
  SourceLoc loc;
};

struct Recipe {
  std::string file;         // for error messages ("recipe.yml")
  std::string source_text;  // verbatim YAML, written to the output as alloy_config.yml
  std::string merge_method;
  SourceLoc merge_method_loc;
  std::vector<InputModel> models;   // exactly one of models / slices is non-empty
  std::vector<OutputSlice> slices;
  std::optional<ModelRef> base_model;
  std::optional<DType> dtype;       // inputs are rounded to this on load
  std::optional<DType> out_dtype;   // outputs are written in this
  ParamMap parameters;              // top-level ("global") parameters
  SourceLoc parameters_loc;
  // Kept for a later issue (tokenizer building); parsed and validated for shape only.
  std::optional<std::string> tokenizer_source;
  nlohmann::json tokenizer;  // null when absent
  std::optional<std::string> chat_template;

  // Every model referenced, in recipe order, without duplicates (base model first if set? no:
  // recipe order, base where it first appears).
  std::vector<ModelRef> referenced_models() const;
  // "recipe.yml:12" for a location in this recipe.
  std::string where(SourceLoc loc) const;
};

// Parses and validates YAML text. Throws Error "<file>:<line>: <problem>" for: unknown top-level
// key, both/neither of models and slices, modules (not supported), bad layer_range, wrong value
// types, unknown dtype, malformed model references. The merge method name is checked later,
// against the method registry.
Recipe parse_recipe(const std::string& text, const std::string& file_name);
Recipe load_recipe(const std::filesystem::path& path);

// Resolves a parameter with mergekit's precedence: the slice's sources (only when `model` is given:
// the sources whose model equals it, in order) > the slice's parameters > top-level parameters.
// For `models:` recipes pass slice = nullptr: the model's own parameters, then top level.
// Returns nullopt when no level sets it (the caller applies the method default).
std::optional<double> resolve_parameter(const Recipe& recipe, const OutputSlice* slice,
                                        const ModelRef* model, const std::string& name,
                                        std::string_view tensor_name, double t);

}  // namespace alloy
