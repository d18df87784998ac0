// Reading config.json values for the engine: a missing or mistyped key is an Error that names it.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace alloy::config_json {

// The value at `key`, or nullptr when it is absent or null.
const nlohmann::json* find(const nlohmann::json& config, const char* key);
// A required positive integer.
int64_t positive_int(const nlohmann::json& config, const char* key);
// `where` prefixes the key in errors, for nested objects ("rope_scaling.").
double number_or(const nlohmann::json& config, const char* key, double fallback, const std::string& where = "");
std::string string_or(const nlohmann::json& config, const char* key, const std::string& fallback);
bool bool_or(const nlohmann::json& config, const char* key, bool fallback);

}  // namespace alloy::config_json
