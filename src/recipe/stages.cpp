#include "recipe/stages.h"

#include <algorithm>
#include <map>

#include "util/error.h"

namespace alloy {

namespace {

// Every model reference of a recipe, for rewriting.
template <class F>
void for_each_model_ref(Recipe& r, F&& f) {
  auto layout = [&](std::vector<InputModel>& models, std::vector<OutputSlice>& slices) {
    for (auto& m : models) f(m.model);
    for (auto& s : slices) {
      for (auto& src : s.sources) f(src.model);
      if (s.base_model) f(*s.base_model);
    }
  };
  layout(r.models, r.slices);
  for (auto& module : r.modules) layout(module.models, module.slices);
  if (r.base_model) f(*r.base_model);
}

std::string label(const Recipe& r) {
  return r.name.empty() ? cat("the unnamed document (", r.where(r.merge_method_loc), ")")
                        : cat("'", r.name, "' (", r.where(r.name_loc), ")");
}

}  // namespace

std::vector<Stage> order_stages(std::vector<Recipe> docs, const std::filesystem::path& intermediate_dir) {
  const size_t n = docs.size();
  std::map<std::string, size_t> by_name;
  std::optional<size_t> unnamed;
  for (size_t i = 0; i < n; ++i) {
    const Recipe& d = docs[i];
    if (d.name.empty()) {
      if (unnamed) fail(d.where(d.merge_method_loc), ": a second document without name: (the first is ",
                        label(docs[*unnamed]), "); only the final merge may be unnamed");
      unnamed = i;
      continue;
    }
    if (d.name == "." || d.name == ".." || d.name.find('/') != std::string::npos)
      fail(d.where(d.name_loc), ": name: '", d.name, "' is not a directory name (stages are written to ",
           intermediate_dir.string(), "/<name>)");
    if (auto [it, fresh] = by_name.emplace(d.name, i); !fresh)
      fail(d.where(d.name_loc), ": name: '", d.name, "' is also the name of the document at ",
           docs[it->second].where(docs[it->second].name_loc), "; stage names must differ");
  }
  const size_t final_index = unnamed.value_or(n - 1);

  // Edges: a reference whose path is another document's name.
  std::vector<std::vector<size_t>> needs(n);
  for (size_t i = 0; i < n; ++i)
    for_each_model_ref(docs[i], [&](ModelRef& ref) {
      auto it = by_name.find(ref.path);
      if (it == by_name.end()) return;
      if (!ref.revision.empty() || ref.has_lora())
        fail(docs[i].where(ref.loc), ": '", ref.str(), "': stage '", ref.path,
             "' is an output of this recipe; it has no @revision and takes no +lora");
      if (it->second == final_index)
        fail(docs[i].where(ref.loc), ": uses ", label(docs[final_index]),
             ", the final merge (written to OUT); put the stage it reads before it and end the file with the final merge");
      if (std::find(needs[i].begin(), needs[i].end(), it->second) == needs[i].end()) needs[i].push_back(it->second);
      ref.path = (intermediate_dir / ref.path).string();
    });

  // Depth-first order; a stage met again while still open closes a cycle.
  std::vector<int> state(n, 0);  // 0 new, 1 open, 2 done
  std::vector<size_t> order, path;
  std::vector<size_t> position(n);
  auto visit = [&](auto&& self, size_t i) -> void {
    if (state[i] == 2) return;
    if (state[i] == 1) {
      std::string cycle;
      for (auto it = std::find(path.begin(), path.end(), i); it != path.end(); ++it) cycle += label(docs[*it]) + " -> ";
      fail(docs[i].file, ": the stages form a cycle: ", cycle, label(docs[i]));
    }
    state[i] = 1;
    path.push_back(i);
    for (size_t d : needs[i]) self(self, d);
    path.pop_back();
    state[i] = 2;
    position[i] = order.size();
    order.push_back(i);
  };
  for (size_t i = 0; i < n; ++i)
    if (i != final_index) visit(visit, i);
  visit(visit, final_index);

  std::vector<Stage> out;
  for (size_t i : order) {
    Stage s;
    s.final = i == final_index;
    for (size_t d : needs[i]) s.inputs.push_back(position[d]);
    s.recipe = std::move(docs[i]);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace alloy
