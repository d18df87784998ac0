#include "analyze/analyze_models.h"

#include <map>
#include <memory>

#include "analyze/tensor_geometry.h"
#include "analyze/tensor_place.h"
#include "arch/architecture.h"
#include "io/checkpoint.h"
#include "util/error.h"

namespace alloy {
namespace {

using CheckpointPtr = std::shared_ptr<const Checkpoint>;

// Every model has exactly the base's tensors, with its shapes, float where the base's is float.
void check_same_tensors(const Checkpoint& base, const std::string& base_label, const Checkpoint& model,
                        const std::string& label) {
  for (const std::string& name : base.tensor_names()) {
    if (!model.has(name))
      fail(label, " lacks tensor '", name, "' that the base ", base_label,
           " has; analyze compares models with the same tensors");
    TensorView b = base.tensor(name), m = model.tensor(name);
    if (m.shape != b.shape)
      fail("tensor '", name, "' has shape ", shape_str(m.shape), " in ", label, " but ", shape_str(b.shape),
           " in the base ", base_label, "; task vectors need models of one architecture");
    if (traits(b.dtype).is_float && !traits(m.dtype).is_float)
      fail("tensor '", name, "' is ", dtype_name(m.dtype), " in ", label, " but ", dtype_name(b.dtype),
           " in the base ", base_label, "; task vectors need float weights");
  }
  for (const std::string& name : model.tensor_names())
    if (!base.has(name))
      fail(label, " has tensor '", name, "' which the base ", base_label,
           " lacks; analyze compares models with the same tensors");
}

}  // namespace

GeometryReport analyze_models(const AnalyzeRequest& request) {
  if (request.models.empty()) fail("analyze needs at least one model besides the base");
  GeometryReport report;
  report.base = request.base;
  report.models = request.models;
  const int count = static_cast<int>(request.models.size());

  CheckpointPtr base = Checkpoint::open(request.base);
  std::vector<CheckpointPtr> models;
  for (const auto& path : request.models) models.push_back(Checkpoint::open(path));
  for (int m = 0; m < count; ++m) check_same_tensors(*base, request.base, *models[m], request.models[m]);
  const Architecture arch = architecture_of(*base);

  // Rows: index 0 before the layers, 1..L the layers, L+1 after them; empty rows are dropped.
  int layers = arch.num_layers;
  std::vector<TensorPlace> places;
  for (const std::string& name : base->tensor_names()) {
    places.push_back(place_of(arch, name));
    if (places.back().section == TensorPlace::Section::Layer) layers = std::max(layers, places.back().layer + 1);
  }
  std::vector<GroupGeometry> rows(static_cast<size_t>(layers) + 2);
  rows.front().label = "pre";
  for (int l = 0; l < layers; ++l) rows[l + 1].label = std::to_string(l);
  rows.back().label = "post";
  for (auto& r : rows) r.sums = GeometrySums(count);

  std::vector<GroupGeometry> kinds;
  std::map<std::string, size_t> kind_index;
  auto kind_row = [&](const std::string& kind) -> GroupGeometry& {
    auto [it, added] = kind_index.emplace(kind, kinds.size());
    if (added) kinds.push_back(GroupGeometry{kind, 0, GeometrySums(count)});
    return kinds[it->second];
  };
  for (const auto& kind : kinds_in_order(arch)) kind_row(kind);
  report.whole = GroupGeometry{"model", 0, GeometrySums(count)};

  std::vector<std::string> labels{request.base};
  labels.insert(labels.end(), request.models.begin(), request.models.end());
  const auto& names = base->tensor_names();
  for (size_t t = 0; t < names.size(); ++t) {
    TensorInputs in{names[t], base->tensor(names[t]), {}, labels};
    if (!traits(in.base.dtype).is_float) {
      report.skipped.push_back(names[t]);
    } else {
      for (const auto& m : models) in.models.push_back(m->tensor(names[t]));
      const GeometrySums sums = tensor_geometry(in, request.threads);
      const TensorPlace& place = places[t];
      GroupGeometry& row = place.section == TensorPlace::Section::Pre    ? rows.front()
                           : place.section == TensorPlace::Section::Post ? rows.back()
                                                                         : rows[place.layer + 1];
      for (GroupGeometry* g : {&row, &kind_row(place.kind), &report.whole}) {
        g->sums += sums;
        ++g->tensors;
      }
    }
    if (request.progress) request.progress(t + 1, names.size());
  }
  for (auto& r : rows)
    if (r.tensors > 0) report.layers.push_back(std::move(r));
  for (auto& k : kinds)
    if (k.tensors > 0) report.kinds.push_back(std::move(k));
  return report;
}

}  // namespace alloy
