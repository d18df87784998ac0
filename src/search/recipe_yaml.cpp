#include "search/recipe_yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>

#include "methods/method.h"
#include "util/error.h"

namespace alloy {

std::string yaml_number(double value) {
  if (!std::isfinite(value)) fail("cannot write the non-finite number ", value, " into a recipe");
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  std::string text(buf, end);
  // PyYAML (mergekit) reads "1e-08" as a string: a float needs a '.' before its exponent.
  if (size_t e = text.find('e'); e != std::string::npos && text.find('.') == std::string::npos)
    text.insert(e, ".0");
  return text;
}

namespace {

void emit_value(YAML::Emitter& out, const ParamValue& value) {
  switch (value.kind) {
    case ParamValue::Kind::Scalar:
      out << yaml_number(value.scalar);
      return;
    case ParamValue::Kind::Gradient:
      out << YAML::Flow << YAML::BeginSeq;
      for (double v : value.gradient) out << yaml_number(v);
      out << YAML::EndSeq;
      return;
    case ParamValue::Kind::Conditional:
      if (value.conditions.empty()) {
        out << YAML::Null;
        return;
      }
      out << YAML::BeginSeq;
      for (const ParamValue::Condition& c : value.conditions) {
        out << YAML::BeginMap;
        if (c.filter) out << YAML::Key << "filter" << YAML::Value << YAML::DoubleQuoted << *c.filter;
        out << YAML::Key << "value" << YAML::Value;
        emit_value(out, c.value);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
      return;
  }
}

void emit_params(YAML::Emitter& out, const ParamMap& params) {
  out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : params) {
    out << YAML::Key << name << YAML::Value;
    emit_value(out, value);
  }
  out << YAML::EndMap;
}

void emit_model(YAML::Emitter& out, const ModelRef& ref) {
  if (ref.override_architecture.empty()) {
    out << ref.str();
    return;
  }
  out << YAML::BeginMap << YAML::Key << "model" << YAML::Value << YAML::BeginMap << YAML::Key << "path"
      << YAML::Value << ref.path;
  if (!ref.revision.empty()) out << YAML::Key << "revision" << YAML::Value << ref.revision;
  out << YAML::EndMap;
  if (ref.has_lora()) {
    out << YAML::Key << "lora" << YAML::Value << YAML::BeginMap << YAML::Key << "path" << YAML::Value << ref.lora_path;
    if (!ref.lora_revision.empty()) out << YAML::Key << "revision" << YAML::Value << ref.lora_revision;
    out << YAML::EndMap;
  }
  out << YAML::Key << "override_architecture" << YAML::Value << ref.override_architecture << YAML::EndMap;
}

void emit_tokenizer(YAML::Emitter& out, const TokenizerSettings& t) {
  out << YAML::Key << "tokenizer" << YAML::Value << YAML::BeginMap << YAML::Key << "source" << YAML::Value;
  if (t.source == TokenizerSettings::Source::Model)
    emit_model(out, t.model);
  else
    out << t.source_text();
  if (t.pad_to_multiple_of) out << YAML::Key << "pad_to_multiple_of" << YAML::Value << *t.pad_to_multiple_of;
  if (!t.tokens.empty()) {
    out << YAML::Key << "tokens" << YAML::Value << YAML::BeginMap;
    for (const TokenSetting& token : t.tokens) {
      out << YAML::Key << token.token << YAML::Value << YAML::BeginMap << YAML::Key << "source" << YAML::Value;
      const TokenSource& src = token.source;
      if (src.kind == TokenSource::Kind::Model) {
        emit_model(out, src.model);
      } else if (src.kind == TokenSource::Kind::Zero) {
        out << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << "zero" << YAML::EndMap;
      } else {
        out << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << "model_token" << YAML::Key << "model"
            << YAML::Value;
        emit_model(out, src.model);
        if (src.token_id) out << YAML::Key << "token_id" << YAML::Value << *src.token_id;
        if (src.token) out << YAML::Key << "token" << YAML::Value << *src.token;
        out << YAML::EndMap;
      }
      if (token.force) out << YAML::Key << "force" << YAML::Value << true;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

}  // namespace

std::string recipe_yaml(const Recipe& recipe) {
  if (!recipe.slices.empty() || !recipe.modules.empty())
    fail(recipe.file, ": a search tunes `models:` recipes; ", recipe.slices.empty() ? "modules:" : "slices:",
         " recipes are not supported yet");
  const MethodSpec* method = find_method(recipe.merge_method);
  const bool data_keys = method && !method->statistics.empty();
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "merge_method" << YAML::Value << recipe.merge_method;
  if (recipe.base_model) {
    out << YAML::Key << "base_model" << YAML::Value;
    emit_model(out, *recipe.base_model);
  }
  if (data_keys && recipe.probe.given()) out << YAML::Key << "probe" << YAML::Value << recipe.probe.path;
  out << YAML::Key << "models" << YAML::Value << YAML::BeginSeq;
  for (const InputModel& m : recipe.models) {
    out << YAML::BeginMap << YAML::Key << "model" << YAML::Value;
    emit_model(out, m.model);
    if (data_keys && m.probe.given()) out << YAML::Key << "probe" << YAML::Value << m.probe.path;
    if (data_keys && m.fisher.given()) out << YAML::Key << "fisher" << YAML::Value << m.fisher.path;
    if (!m.parameters.empty()) emit_params(out, m.parameters);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!recipe.parameters.empty()) emit_params(out, recipe.parameters);
  if (recipe.dtype) out << YAML::Key << "dtype" << YAML::Value << std::string(traits(*recipe.dtype).torch_name);
  if (recipe.out_dtype)
    out << YAML::Key << "out_dtype" << YAML::Value << std::string(traits(*recipe.out_dtype).torch_name);
  if (recipe.tokenizer) emit_tokenizer(out, *recipe.tokenizer);
  if (recipe.chat_template) out << YAML::Key << "chat_template" << YAML::Value << *recipe.chat_template;
  out << YAML::EndMap;
  if (!out.good()) fail(recipe.file, ": cannot write the tuned recipe as YAML (", out.GetLastError(), ")");
  return std::string(out.c_str()) + "\n";
}

}  // namespace alloy
