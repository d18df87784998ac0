// Multi-stage recipes (mergekit-multi): several YAML documents, each a recipe with a `name:`; a
// document that uses another's name as a model depends on it and reads its output from the
// intermediate directory. This orders the documents and checks the graph; exec/run_stages runs them.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "recipe/recipe.h"

namespace alloy {

struct Stage {
  Recipe recipe;               // references to other stages rewritten to their output directories
  std::vector<size_t> inputs;  // positions (in the returned order) of the stages it reads
  bool final = false;          // written to OUT; every other stage to intermediate_dir/<name>
};

// The documents in an order where every stage comes after the stages it reads, the final one last
// (the unnamed document, else the last document of the file; no other document may read it).
// Throws Error naming the documents (file:line) for: a second unnamed document, a name given
// twice, a name that cannot be a directory name, a cycle (listing it), a stage used with
// @revision or +lora, and a final document that another reads.
std::vector<Stage> order_stages(std::vector<Recipe> documents, const std::filesystem::path& intermediate_dir);

}  // namespace alloy
