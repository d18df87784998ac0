// Targets of the parsers that read bytes in memory: safetensors and GGUF headers, recipes,
// mergekit-moe configs, the pickle of a PyTorch state dict.
#include <string>
#include <string_view>

#include "fuzz_target.h"
#include "io/gguf_file.h"
#include "io/safetensors.h"
#include "io/torch_pickle.h"
#include "recipe/moe_config.h"
#include "recipe/recipe.h"
#include "recipe/stages.h"

namespace alloy::fuzz {

Outcome fuzz_safetensors_header(std::span<const uint8_t> input) {
  parse_safetensors_header(reinterpret_cast<const std::byte*>(input.data()), input.size());
  return Outcome::accepted;
}

Outcome fuzz_gguf(std::span<const uint8_t> input) {
  parse_gguf_header(reinterpret_cast<const std::byte*>(input.data()), input.size());
  return Outcome::accepted;
}

// As alloy merge reads a recipe file: every document, and of several, the order of the stages.
Outcome fuzz_recipe_yaml(std::span<const uint8_t> input) {
  std::vector<Recipe> documents = parse_recipe_documents(std::string(input.begin(), input.end()), "fuzz.yml");
  if (documents.size() > 1) order_stages(std::move(documents), "/nonexistent/fuzz-stages");
  return Outcome::accepted;
}

Outcome fuzz_moe_yaml(std::span<const uint8_t> input) {
  parse_moe_config(std::string(input.begin(), input.end()), "fuzz-moe.yml");
  return Outcome::accepted;
}

// The whole input as an archive's data.pkl, with no zip around it: every byte reaches the
// unpickler. Each record is then checked for contiguity, as the .bin reader does.
Outcome fuzz_torch_pickle(std::span<const uint8_t> input) {
  const std::string_view pickle(reinterpret_cast<const char*>(input.data()), input.size());
  for (const TorchTensorRecord& t : read_torch_state_dict(pickle)) is_row_major(t.shape, t.stride);
  return Outcome::accepted;
}

}  // namespace alloy::fuzz
