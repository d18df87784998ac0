#include "model/config_json.h"

#include "util/error.h"

namespace alloy::config_json {

const nlohmann::json* find(const nlohmann::json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t positive_int(const nlohmann::json& config, const char* key, int64_t max) {
  const nlohmann::json* value = find(config, key);
  if (!value) fail("config.json: '", key, "' is missing; the engine needs it to run the model");
  if (!value->is_number_integer() || value->get<int64_t>() <= 0)
    fail("config.json: '", key, "' must be a positive integer, got ", value->dump());
  if (value->get<int64_t>() > max)
    fail("config.json: '", key, "' is ", value->dump(), ", more than the ", max, " alloy accepts (no real model is near it)");
  return value->get<int64_t>();
}

double number_or(const nlohmann::json& config, const char* key, double fallback, const std::string& where) {
  const nlohmann::json* value = find(config, key);
  if (!value) return fallback;
  if (!value->is_number()) fail("config.json: '", where, key, "' must be a number, got ", value->dump());
  return value->get<double>();
}

std::string string_or(const nlohmann::json& config, const char* key, const std::string& fallback) {
  const nlohmann::json* value = find(config, key);
  if (!value) return fallback;
  if (!value->is_string()) fail("config.json: '", key, "' must be a string, got ", value->dump());
  return value->get<std::string>();
}

bool bool_or(const nlohmann::json& config, const char* key, bool fallback) {
  const nlohmann::json* value = find(config, key);
  if (!value) return fallback;
  if (!value->is_boolean()) fail("config.json: '", key, "' must be true or false, got ", value->dump());
  return value->get<bool>();
}

}  // namespace alloy::config_json
