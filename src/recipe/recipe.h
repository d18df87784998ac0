// Recipe: a mergekit-compatible YAML merge recipe as validated value types. Every element keeps
// its source line so errors can say "recipe.yml:12: ...".
#pragma once
#include <cstdint>
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

// A model reference as written in a recipe: "<path>[@<revision>][+<lora>[@<revision>]]", or the
// dict form {model: {path, revision}, lora: {path, revision}, override_architecture}. Paths are kept
// as written; whether they exist is the planner's business.
struct ModelRef {
  std::string path;
  std::string revision;       // empty = none
  std::string lora_path;      // empty = none
  std::string lora_revision;
  std::string override_architecture;
  SourceLoc loc;

  std::string str() const;  // round-trips to the string syntax (override_architecture is not in it)
  // Throws Error for "a+b+c", more than one '@' in a part, or an empty path. The message does not
  // name a file; the recipe parser adds "<file>:<line>: <key>: ".
  static ModelRef parse(std::string_view text, SourceLoc loc = {});
  bool has_lora() const { return !lora_path.empty(); }
  // Equality ignores loc and override_architecture.
  bool operator==(const ModelRef& o) const {
    return path == o.path && revision == o.revision && lora_path == o.lora_path &&
           lora_revision == o.lora_revision;
  }
};

// A parameter value as written: a scalar, a gradient (list of numbers interpolated over the layer
// position t), or a conditional list of {filter, value} entries (first matching filter wins).
// YAML booleans are stored as 1/0 and numeric strings as their number. A YAML null ("weight: ~") is
// stored as a Conditional with no entries: it evaluates to nullopt, i.e. "not set at this level".
// A bare {filter, value} map (not in a list) is stored as a one-entry Conditional (mergekit parses
// it but fails when evaluating it: QUIRK, alloy accepts it).
struct ParamValue {
  enum class Kind { Scalar, Gradient, Conditional };
  struct Condition;
  Kind kind = Kind::Scalar;
  double scalar = 0;
  std::vector<double> gradient;
  std::vector<Condition> conditions;
  SourceLoc loc;

  static ParamValue constant(double v, SourceLoc loc = {});
  static ParamValue interpolated(std::vector<double> knots, SourceLoc loc = {});
};
struct ParamValue::Condition {
  std::optional<std::string> filter;  // nullopt or "*" matches every tensor; else substring match
  ParamValue value;
};

// Value at `tensor_name` and gradient position t in [0,1] (t is clamped to it).
//  Scalar: the number. Gradient s of n knots: x = t*(n-1), i0 = floor(x), i1 = min(n-1, i0+1),
//  f = x - i0, value = (1-f)*s[i0] + f*s[i1] (n = 1: constant).
//  Conditional: the first entry, in order, whose filter is absent, "*" or a substring of
//  tensor_name decides: its value evaluated at the same t (a nested conditional may give nullopt).
//  nullopt when no entry matches.
std::optional<double> evaluate(const ParamValue& value, std::string_view tensor_name, double t);

using ParamMap = std::map<std::string, ParamValue>;

// A file a recipe names for data-aware methods (probe text, a precomputed statistics file), kept
// as written; the planner resolves it like a model path.
struct DataPath {
  std::string path;  // empty = none
  SourceLoc loc;
  bool given() const { return !path.empty(); }
};

struct InputModel {
  ModelRef model;
  ParamMap parameters;
  SourceLoc loc;
  DataPath probe;   // `probe:` text this model learns from (data-aware methods only)
  DataPath fisher;  // `fisher:` a precomputed Fisher statistics file (alloy stats fisher)
};

struct InputSlice {
  ModelRef model;
  int layer_start = 0;  // half-open [layer_start, layer_end)
  int layer_end = 0;
  ParamMap parameters;
  SourceLoc loc;

  int num_layers() const { return layer_end - layer_start; }
};

struct OutputSlice {
  std::vector<InputSlice> sources;
  std::optional<ModelRef> base_model;
  ParamMap parameters;
  SourceLoc loc;
};

// One module of a `modules:` recipe, for models of several modules (text decoder, vision tower,
// projector): the module's own models: or slices:, and parameters that rank between the slices'
// and the top-level ones.
struct OutputModule {
  std::string name;                 // as the architecture description names it ("text_decoder")
  std::vector<InputModel> models;   // exactly one of models / slices is non-empty
  std::vector<OutputSlice> slices;
  ParamMap parameters;
  SourceLoc loc;                    // of the module's key
};

// Where the embedding row of one token comes from (mergekit's `tokenizer.tokens.<token>.source`).
struct TokenSource {
  enum class Kind { Model, ModelToken, Zero };
  Kind kind = Kind::Model;
  ModelRef model;                    // Model, ModelToken
  std::optional<int64_t> token_id;   // ModelToken: a row of that model's embedding ...
  std::optional<std::string> token;  // ... or the row of this token in that model's vocabulary
};

struct TokenSetting {
  std::string token;  // added to the output vocabulary when absent
  TokenSource source;
  bool force = false;  // every model takes the source's row, even one that has the token
  SourceLoc loc;
};

// `tokenizer_source:` (legacy) or the `tokenizer:` block: the output vocabulary and how each
// model's embedding rows are laid out in it (spec §1.6, §5).
struct TokenizerSettings {
  enum class Source { Base, Union, Model };
  Source source = Source::Union;
  ModelRef model;  // Source::Model
  std::optional<int64_t> pad_to_multiple_of;
  std::vector<TokenSetting> tokens;  // in recipe order
  SourceLoc loc;                     // of the key
  std::string source_text() const;   // "base", "union" or the model reference
};

struct Recipe {
  std::string file;         // for error messages ("recipe.yml")
  std::string source_text;  // verbatim YAML, written to the output as alloy_config.yml
  // `name:` of a stage of a multi-stage recipe (several YAML documents); empty when not given.
  std::string name;
  SourceLoc name_loc;
  std::string merge_method;
  SourceLoc merge_method_loc;
  std::vector<InputModel> models;   // exactly one of models / slices / modules is non-empty
  std::vector<OutputSlice> slices;
  std::vector<OutputModule> modules;  // in recipe order
  SourceLoc modules_loc;
  std::optional<ModelRef> base_model;
  std::optional<DType> dtype;       // inputs are rounded to this on load
  std::optional<DType> out_dtype;   // outputs are written in this
  ParamMap parameters;              // top-level ("global") parameters
  SourceLoc parameters_loc;
  // tokenizer_source: / tokenizer: (docs/tokenizers.md); absent: the donor's tokenizer files are
  // copied and embeddings of different vocabularies are cropped (mergekit's legacy mode).
  std::optional<TokenizerSettings> tokenizer;
  // auto, a built-in template's name or a literal Jinja template (tokenizer/chat_template.h).
  std::optional<std::string> chat_template;
  SourceLoc chat_template_loc;
  DataPath probe;  // top-level `probe:`, for every model without its own
  // `fallback:` the method for the tensors regmean cannot fit (not linear-layer weights); checked
  // against the registry by the planner.
  std::optional<std::string> fallback;
  SourceLoc fallback_loc;

  // Every model referenced, without duplicates (ModelRef ==), in this order: the `models:` entries
  // or the slices' sources as they appear (slice by slice, source by source; for modules: module
  // by module, each module's models or sources); then the slices' base_models in slice order; then
  // the top-level base_model. A model keeps the position where it first appears.
  std::vector<ModelRef> referenced_models() const;
  // "recipe.yml:12" for a location in this recipe ("recipe.yml" when the line is unknown).
  std::string where(SourceLoc loc) const;
};

// Parses and validates YAML text. Throws Error "<file>:<line>: <key>: <problem>" for: YAML syntax
// errors, unknown keys (top-level and inside models/slices/sources/conditions/modules, with a
// suggestion for a likely typo) and duplicate keys, not exactly one of models, slices and modules
// (also inside each module),
// empty lists, missing merge_method, bad layer_range, a source without model, wrong value types,
// unknown or non-float dtype, malformed model references, several YAML documents (see below), a
// mergekit-moe config, both tokenizer_source: and tokenizer:, a token source that names no model of
// the recipe or is not exactly one of its forms, a pad_to_multiple_of below 1; a chat_template that is no built-in name and too short to be
// a template; `residual_weight` (slices) and `embed_slerp` (legacy), which mergekit accepts and
// ignores. The merge method name is checked
// later, against the method registry, and so is whether the method uses `probe:` / `fisher:`.
Recipe parse_recipe(const std::string& text, const std::string& file_name);
Recipe load_recipe(const std::filesystem::path& path);
// Every YAML document of a multi-stage recipe (mergekit-multi), each validated as above and with
// its own source_text; one document gives one recipe. recipe/stages.h orders and checks them.
std::vector<Recipe> parse_recipe_documents(const std::string& text, const std::string& file_name);
std::vector<Recipe> load_recipe_documents(const std::filesystem::path& path);

// Resolves a parameter with mergekit's precedence; the first level whose value evaluates to a
// number wins:
//  `slices:` recipes (slice given):  1. the slice's sources whose model equals `model`, in order
//                                       (skipped when model == nullptr)
//                                    2. the slice's parameters   3. top-level parameters
//  `models:` recipes (slice null):   1. the models entries equal to `model`, in order (skipped when
//                                       model == nullptr)        2. top-level parameters
//  `modules:` recipes (module given): the module's slice as above, or its models entries, then the
//                                    module's parameters, then top-level parameters.
// Global (method-level) parameters are resolved with model = nullptr, so e.g. `t` set inside
// models[*].parameters has no effect, as in mergekit. Per-model parameters pass the input model.
// Returns nullopt when no level sets it (the caller applies the method default).
std::optional<double> resolve_parameter(const Recipe& recipe, const OutputSlice* slice,
                                        const ModelRef* model, const std::string& name,
                                        std::string_view tensor_name, double t,
                                        const OutputModule* module = nullptr);

}  // namespace alloy
