// Targets of the parsers that read bytes in memory: safetensors and GGUF headers, recipes.
#include <string>

#include "fuzz_target.h"
#include "io/gguf_file.h"
#include "io/safetensors.h"
#include "recipe/recipe.h"

namespace alloy::fuzz {

Outcome fuzz_safetensors_header(std::span<const uint8_t> input) {
  parse_safetensors_header(reinterpret_cast<const std::byte*>(input.data()), input.size());
  return Outcome::accepted;
}

Outcome fuzz_gguf(std::span<const uint8_t> input) {
  parse_gguf_header(reinterpret_cast<const std::byte*>(input.data()), input.size());
  return Outcome::accepted;
}

Outcome fuzz_recipe_yaml(std::span<const uint8_t> input) {
  parse_recipe(std::string(input.begin(), input.end()), "fuzz.yml");
  return Outcome::accepted;
}

}  // namespace alloy::fuzz
