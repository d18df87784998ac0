// Reading config.json values for the engine: a missing or mistyped key is an Error that names it.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace alloy::config_json {

// The value at `key`, or nullptr when it is absent or null.
const nlohmann::json* find(const nlohmann::json& config, const char* key);
// Bounds on config.json integers, checked before the engine sizes anything by them: far above
// any released model (the deepest have a few hundred layers), far below what would overflow a
// tensor's element count or exhaust memory listing the expected tensors.
inline constexpr int64_t kMaxConfigInteger = (int64_t{1} << 31) - 1;
inline constexpr int64_t kMaxConfigLayers = 4096;

// A required positive integer, at most `max`.
int64_t positive_int(const nlohmann::json& config, const char* key, int64_t max = kMaxConfigInteger);
// `where` prefixes the key in errors, for nested objects ("rope_scaling.").
double number_or(const nlohmann::json& config, const char* key, double fallback, const std::string& where = "");
std::string string_or(const nlohmann::json& config, const char* key, const std::string& fallback);
bool bool_or(const nlohmann::json& config, const char* key, bool fallback);

}  // namespace alloy::config_json
