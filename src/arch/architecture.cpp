// architecture_of: groups a checkpoint's tensor names into pre-layer weights, layer templates and
// post-layer weights, then lays the metadata of a matching description (or the inference tables)
// over them. Also the name helpers: instantiate, split_layer_name, find_weight.
#include "arch/architecture.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>

#include "arch/arch_catalog.h"
#include "arch/arch_inference.h"
#include "util/error.h"

namespace alloy {
namespace {

using nlohmann::json;

// Where the layer count lives in config.json, tried in order after the description's own key.
constexpr std::array<std::string_view, 5> kNumLayersKeys = {
    "num_hidden_layers", "n_layer", "num_layers", "n_layers", "text_config.num_hidden_layers"};
constexpr std::array<std::string_view, 2> kVocabSizeKeys = {"vocab_size", "text_config.vocab_size"};

enum class Section { Pre, Layer, Post };

// Guards the expansion of ${expert_index} against a corrupt config (released models have <= 384).
constexpr int64_t kMaxExperts = 65536;

void read_class(const Checkpoint& ck, Architecture& a) {
  const json& cfg = ck.config();
  a.name = "unknown";
  if (const json* v = json_get_dotted(cfg, "architectures"); v && !v->is_null()) {
    bool strings = v->is_array() && std::all_of(v->begin(), v->end(), [](const json& e) { return e.is_string(); });
    if (!strings) fail(ck.path().string(), ": config.json 'architectures' must be a list of class names");
    if (v->size() != 1) {
      std::string names;
      for (const auto& e : *v) names += (names.empty() ? "" : ", ") + e.get<std::string>();
      fail(ck.path().string(), ": config.json 'architectures' must list exactly one class, found ",
           v->size(), names.empty() ? "" : " (" + names + ")");
    }
    a.name = (*v)[0].get<std::string>();
  }
  if (const json* v = json_get_dotted(cfg, "model_type"); v && v->is_string()) a.model_type = v->get<std::string>();
  // A GGUF model under llama.cpp's names: its metadata is the config (io/gguf_checkpoint.h).
  if (const json* v = json_get_dotted(cfg, "general.architecture"); v && v->is_string() && a.name == "unknown")
    a.name = "gguf:" + v->get<std::string>();
}

// The GGUF metadata key of the layer count ("llama.block_count"), or "" for other configs.
std::string gguf_block_count_key(const json& cfg) {
  const json* v = json_get_dotted(cfg, "general.architecture");
  return v && v->is_string() ? v->get<std::string>() + ".block_count" : std::string();
}

// The description claiming the class whose layer prefix the checkpoint uses; among several, the
// one whose model_type equals the config's. nullptr when none fits.
const ArchDescription* choose_description(const Architecture& a, const std::map<std::string, int>& prefixes) {
  if (a.name == "unknown") return nullptr;
  const ArchDescription* best = nullptr;
  int best_score = -1;
  for (const ArchDescription* d : descriptions_for(a.name)) {
    bool fits = d->layer_prefix.empty() ? prefixes.empty() : prefixes.count(d->layer_prefix) != 0;
    if (!d->modules.empty())  // modular: every module's layers are where it says
      fits = std::all_of(d->modules.begin(), d->modules.end(), [&](const ArchModuleDescription& m) {
        return m.arch.layer_prefix.empty() || prefixes.count(m.arch.layer_prefix) != 0;
      });
    if (!fits) continue;
    int score = !d->model_type.empty() && d->model_type == a.model_type ? 1 : 0;
    if (score > best_score) best = d, best_score = score;
  }
  return best;
}

struct Described {
  Section section;
  const WeightInfo* info;
};

const WeightInfo* find_in(const std::vector<WeightInfo>& list, std::string_view name) {
  for (const auto& w : list) {
    if (w.name == name) return &w;
    for (const auto& alias : w.aliases)
      if (alias == name) return &w;
  }
  return nullptr;
}

// A plain decimal number (no sign, no leading zeros) of at most 9 digits, or -1.
int parse_index(std::string_view digits) {
  if (digits.empty() || digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return -1;
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

struct LayerTemplate {
  WeightInfo info;
  std::string spelled;  // as the checkpoint spells it (may be an alias of info.name)
  std::set<int> layers;
};

class Builder {
 public:
  // `names`: the checkpoint's tensors to describe; `module`: the description of the module they
  // form (else one is chosen by the config's class).
  Builder(const Checkpoint& ck, Architecture& a, const std::vector<std::string>& names,
          const ArchDescription* module = nullptr)
      : ck_(ck), a_(a), names_(names), module_(module) {}

  void run() {
    read_class(ck_, a_);
    std::map<std::string, int> prefix_counts;
    std::vector<std::string> prefix_order;
    for (const auto& name : names_) {
      if (auto s = split_at_layer_index(name)) {
        auto [it, fresh] = prefix_counts.emplace(std::string(s->prefix), 0);
        if (fresh) prefix_order.push_back(it->first);
        ++it->second;
      }
    }
    if (module_) {
      expanded_ = expand_description(*module_);
      desc_ = &expanded_;
    } else if (const ArchDescription* chosen = choose_description(a_, prefix_counts)) {
      if (!chosen->modules.empty()) return build_modules(*chosen);
      expanded_ = expand_description(*chosen);
      desc_ = &expanded_;
    }
    if (desc_) {
      a_.layer_prefix = desc_->layer_prefix;
      a_.description = desc_->file;
      index_description();
    } else {
      int most = 0;
      for (const auto& p : prefix_order)
        if (prefix_counts[p] > most) most = prefix_counts[p], a_.layer_prefix = p;
    }
    a_.inferred = desc_ == nullptr;

    collect();
    check_layers_uniform();
    add_absent_described();
    apply_tie_rules();
    order_sections();
    read_config_keys();
    check_layer_bounds();
  }

 private:
  std::string where() const { return ck_.path().string(); }

  // A modular description: each tensor goes to the module with the longest weight prefix it
  // starts with, and each module is described on its own. The top level is the module holding
  // the token embedding, with every other module's tensors as loose weights, so that code that
  // knows no modules still sees every tensor once.
  void build_modules(const ArchDescription& d) {
    std::vector<std::vector<std::string>> names(d.modules.size());
    for (const auto& name : names_) {
      std::optional<size_t> best;
      for (size_t i = 0; i < d.modules.size(); ++i)
        if (name.starts_with(d.modules[i].weight_prefix) &&
            (!best || d.modules[i].weight_prefix.size() > d.modules[*best].weight_prefix.size()))
          best = i;
      if (!best) {
        std::string known;
        for (const auto& m : d.modules) known += cat(known.empty() ? "" : ", ", m.name, " '", m.weight_prefix, "'");
        fail(where(), ": tensor '", name, "' belongs to none of the modules of the ", a_.name,
             " description (data/architectures/", d.file, "): ", known);
      }
      names[*best].push_back(name);
    }
    std::vector<ArchModule> modules;
    for (size_t i = 0; i < d.modules.size(); ++i) {
      ArchModule m{d.modules[i].name, d.modules[i].weight_prefix, {}};
      Builder(ck_, m.arch, names[i], &d.modules[i].arch).run();
      modules.push_back(std::move(m));
    }
    size_t primary = 0;
    for (size_t i = modules.size(); i-- > 0;)
      for (const auto& w : modules[i].arch.pre_weights)
        if (w.is_embed) primary = i;
    a_ = modules[primary].arch;
    for (size_t i = 0; i < modules.size(); ++i) {
      if (i == primary) continue;
      const Architecture& m = modules[i].arch;
      a_.pre_weights.insert(a_.pre_weights.end(), m.pre_weights.begin(), m.pre_weights.end());
      for (int l = 0; l < m.num_layers; ++l)
        for (WeightInfo w : m.layer_weights) {
          w.name = instantiate(w.name, l);
          for (auto& alias : w.aliases) alias = instantiate(alias, l);
          for (auto& tied : w.tied_names) tied = instantiate(tied, l);
          w.layers_below.clear();
          w.layers_from.clear();
          a_.pre_weights.push_back(std::move(w));
        }
      a_.post_weights.insert(a_.post_weights.end(), m.post_weights.begin(), m.post_weights.end());
    }
    a_.modules = std::move(modules);
    a_.tagalong_files = d.tagalong_files;
  }

  std::string described_by() const {
    return cat("the ", a_.name, " description (data/architectures/", desc_->file, ")");
  }

  // An integer config.json value the description relies on; an error naming the key otherwise.
  int64_t config_int(std::string_view key, std::string_view what) const {
    const json* v = json_get_dotted(ck_.config(), key);
    if (!v) fail(where(), ": config.json lacks '", key, "', ", what, " that ", described_by(), " needs");
    if (!v->is_number_integer() || v->get<int64_t>() < 0)
      fail(where(), ": config.json '", key, "' must be a non-negative integer, found ", v->dump());
    return v->get<int64_t>();
  }

  // The chosen description for this checkpoint: one weight per expert where a name holds
  // ${expert_index}, and weights only some layers have made optional (check_layer_bounds
  // checks exactly which layers have them).
  ArchDescription expand_description(const ArchDescription& d) {
    ArchDescription out = d;
    desc_ = &d;  // for messages while expanding
    out.layer_weights.clear();
    for (const auto& w : d.layer_weights) {
      WeightInfo base = w;
      if (!w.layers_below.empty() || !w.layers_from.empty()) base.optional = true;
      if (w.name.find(kExpertIndex) == std::string::npos) {
        out.layer_weights.push_back(std::move(base));
        continue;
      }
      const int64_t experts = config_int(d.num_experts_key, "the expert count");
      if (experts > kMaxExperts)
        fail(where(), ": config.json ", d.num_experts_key, " = ", experts, " is more experts than alloy expects (at most ",
             kMaxExperts, "); is the config corrupt?");
      auto with_expert = [](std::string s, int64_t e) {
        std::string index = std::to_string(e);
        for (size_t pos; (pos = s.find(kExpertIndex)) != std::string::npos;) s.replace(pos, kExpertIndex.size(), index);
        return s;
      };
      for (int64_t e = 0; e < experts; ++e) {
        WeightInfo one = base;
        one.name = with_expert(one.name, e);
        for (auto* list : {&one.aliases, &one.tied_names})
          for (auto& n : *list) n = with_expert(n, e);
        out.layer_weights.push_back(std::move(one));
      }
    }
    desc_ = nullptr;
    return out;
  }

  // A layer bound: a number, or the config.json value it names.
  int64_t layer_bound(const std::string& bound) const {
    if (bound.find_first_not_of("0123456789") == std::string::npos) return std::stoll(bound);
    return config_int(bound, "a layer bound");
  }

  // Weights only some layers have are in exactly those layers.
  void check_layer_bounds() const {
    if (!desc_) return;
    for (const auto& w : desc_->layer_weights) {
      if (w.layers_below.empty() && w.layers_from.empty()) continue;
      const int64_t below = w.layers_below.empty() ? a_.num_layers : layer_bound(w.layers_below);
      const int64_t from = w.layers_from.empty() ? 0 : layer_bound(w.layers_from);
      const std::set<int>* present = nullptr;
      for (const auto& t : templates_)
        if (t.info.name == w.name) present = &t.layers;
      for (int l = 0; l < a_.num_layers; ++l) {
        const bool expected = l >= from && l < below;
        const bool has = present && present->count(l);
        if (expected == has) continue;
        std::string range = w.layers_below.empty() ? cat("layers from ", w.layers_from, " (", from, ") on")
                            : w.layers_from.empty() ? cat("layers below ", w.layers_below, " (", below, ")")
                            : cat("layers ", from, " to ", below - 1);
        fail(where(), ": layer ", l, has ? " has " : " lacks ", "'", instantiate(w.name, l), "', which ",
             described_by(), " puts ", has ? "only " : "", "in ", range);
      }
    }
  }

  void index_description() {
    auto add = [&](Section s, const std::vector<WeightInfo>& list) {
      for (const auto& w : list) {
        described_.emplace(w.name, Described{s, &w});
        for (const auto& alias : w.aliases) described_.emplace(alias, Described{s, &w});
      }
    };
    add(Section::Pre, desc_->pre_weights);
    add(Section::Layer, desc_->layer_weights);
    add(Section::Post, desc_->post_weights);
  }

  const Described* described(const std::string& name) const {
    auto it = described_.find(name);
    return it == described_.end() ? nullptr : &it->second;
  }

  // Integer and boolean tensors (position_ids, masks) keep their dtype through a merge.
  void keep_non_float_dtype(WeightInfo& info, std::string_view tensor) const {
    if (info.force_dtype) return;
    DType dt = ck_.tensor(tensor).dtype;
    if (!traits(dt).is_float) info.force_dtype = dt;
  }

  void collect() {
    std::unordered_map<std::string, size_t> template_at;  // canonical name -> index in templates_
    for (const auto& name : names_) {
      auto s = split_at_layer_index(name);
      if (!s || a_.layer_prefix.empty() || s->prefix != a_.layer_prefix) {
        add_loose(name);
        continue;
      }
      std::string spelled = layer_template(s->prefix, s->rest);
      const Described* d = described(spelled);
      std::string canonical = d ? d->info->name : spelled;
      auto [it, fresh] = template_at.emplace(canonical, templates_.size());
      if (fresh) {
        LayerTemplate t;
        if (d) {
          t.info = *d->info;
          described_seen_.insert(canonical);
        } else {
          t.info.name = canonical;
          t.info.is_embed = looks_like_embedding(canonical);
        }
        t.spelled = spelled;
        keep_non_float_dtype(t.info, name);
        templates_.push_back(std::move(t));
      }
      LayerTemplate& t = templates_[it->second];
      if (!t.layers.insert(s->index).second)
        fail(where(), ": layer ", s->index, " has both '", instantiate(t.spelled, s->index), "' and '", name,
             "', two spellings of '", instantiate(canonical, s->index), "'");
      a_.num_layers = std::max(a_.num_layers, s->index + 1);
    }
    for (auto& t : templates_) a_.layer_weights.push_back(t.info);
  }

  void add_loose(const std::string& name) {
    WeightInfo info;
    Section section;
    if (const Described* d = described(name); d && d->section != Section::Layer) {
      info = *d->info;
      section = d->section;
    } else {
      info.name = name;
      info.is_embed = looks_like_embedding(name);
      section = looks_like_post_weight(name) ? Section::Post : Section::Pre;
    }
    if (auto [it, fresh] = loose_seen_.emplace(info.name, name); !fresh)
      fail(where(), ": has both '", it->second, "' and '", name, "', two spellings of '", info.name, "'");
    if (described(name)) described_seen_.insert(info.name);
    keep_non_float_dtype(info, name);
    (section == Section::Post ? a_.post_weights : a_.pre_weights).push_back(std::move(info));
  }

  void check_layers_uniform() const {
    for (const auto& t : templates_) {
      if (t.info.optional || static_cast<int>(t.layers.size()) == a_.num_layers) continue;
      int expected = 0;
      for (int l : t.layers) {
        if (l != expected) break;
        ++expected;
      }
      fail(where(), ": layer ", expected, " lacks tensor '", instantiate(t.spelled, expected), "' (",
           t.layers.size(), " of ", a_.num_layers, " layers have it)");
    }
  }

  // Weights the description declares but the checkpoint lacks: optional ones join the
  // architecture (so the planner sees them for every input), required ones are an error.
  void add_absent_described() {
    if (!desc_) return;
    auto add = [&](const std::vector<WeightInfo>& list, std::vector<WeightInfo>& out, bool layer) {
      for (const auto& w : list) {
        if (described_seen_.count(w.name)) continue;
        if (!w.optional)
          fail(where(), ": tensor '", layer ? instantiate(w.name, 0) : w.name, "' is missing; the ",
               a_.name, " description (data/architectures/", desc_->file, ") requires it");
        out.push_back(w);
      }
    };
    add(desc_->pre_weights, a_.pre_weights, false);
    add(desc_->layer_weights, a_.layer_weights, true);
    add(desc_->post_weights, a_.post_weights, false);
  }

  // A head tied to an embedding this checkpoint has is optional and reads that embedding when
  // absent; it is listed even when absent so that the planner can decide over all inputs.
  void apply_tie_rules() {
    for (const TieRule& rule : tie_rules()) {
      if (!ck_.has(rule.embedding)) continue;
      std::string head(rule.head);
      if (desc_ && described_.count(head)) continue;  // the description decided
      WeightInfo* w = nullptr;
      for (auto* list : {&a_.pre_weights, &a_.post_weights})
        for (auto& x : *list)
          if (x.name == head) w = &x;
      if (!w) {
        a_.post_weights.emplace_back().name = head;
        w = &a_.post_weights.back();
      }
      w->is_embed = true;
      w->optional = true;
      if (std::find(w->tied_names.begin(), w->tied_names.end(), rule.embedding) == w->tied_names.end())
        w->tied_names.emplace_back(rule.embedding);
    }
  }

  // Described weights first, in the description's order; then the rest: post-weights by the rank
  // of the pattern that made them post-weights (norms before heads), others in checkpoint order.
  void order_sections() {
    auto order = [&](std::vector<WeightInfo>& list, const std::vector<WeightInfo>* described_list, bool post) {
      auto rank = [&](const WeightInfo& w) -> long {
        if (described_list) {
          if (const Described* d = described(w.name))
            return static_cast<long>(d->info - described_list->data());
        }
        long base = described_list ? static_cast<long>(described_list->size()) : 0;
        return base + (post ? std::max(post_weight_rank(w.name), 0) : 0);
      };
      std::stable_sort(list.begin(), list.end(),
                       [&](const WeightInfo& x, const WeightInfo& y) { return rank(x) < rank(y); });
    };
    order(a_.pre_weights, desc_ ? &desc_->pre_weights : nullptr, false);
    order(a_.layer_weights, desc_ ? &desc_->layer_weights : nullptr, false);
    order(a_.post_weights, desc_ ? &desc_->post_weights : nullptr, true);
  }

  void read_config_keys() {
    const json& cfg = ck_.config();
    std::vector<std::string_view> keys;
    if (desc_ && !desc_->num_layers_key.empty()) keys.push_back(desc_->num_layers_key);
    const std::string gguf_key = gguf_block_count_key(cfg);
    if (!gguf_key.empty()) keys.push_back(gguf_key);
    // A module's layer count is under its own key only (the others count other modules' layers).
    if (!module_) keys.insert(keys.end(), kNumLayersKeys.begin(), kNumLayersKeys.end());
    for (std::string_view key : keys) {
      const json* v = json_get_dotted(cfg, key);
      if (!v) continue;
      a_.num_layers_key = std::string(key);
      if (!v->is_number_integer())
        fail(where(), ": config.json '", key, "' must be an integer, found ", v->dump());
      auto n = v->get<int64_t>();
      if (n != a_.num_layers) {
        if (a_.num_layers == 0)
          fail(where(), ": config.json ", key, " = ", n, " but the checkpoint has no layer tensors");
        fail(where(), ": config.json ", key, " = ", n, " but the tensors have ", a_.num_layers,
             " layers ('", a_.layer_prefix, "0' to '", a_.layer_prefix, a_.num_layers - 1, "')");
      }
      break;
    }
    if (desc_ && !desc_->num_experts_key.empty()) {
      a_.num_experts_key = desc_->num_experts_key;
      if (const json* v = json_get_dotted(cfg, a_.num_experts_key); v && v->is_number_integer())
        a_.num_experts = static_cast<int>(v->get<int64_t>());
    }
    std::vector<std::string_view> vocab_keys;
    if (desc_) vocab_keys.push_back(desc_->vocab_size_key);
    vocab_keys.insert(vocab_keys.end(), kVocabSizeKeys.begin(), kVocabSizeKeys.end());
    for (std::string_view key : vocab_keys) {
      if (json_get_dotted(cfg, key)) {
        a_.vocab_size_key = std::string(key);
        break;
      }
    }
  }

  const Checkpoint& ck_;
  Architecture& a_;
  const std::vector<std::string>& names_;
  const ArchDescription* module_;
  const ArchDescription* desc_ = nullptr;  // &expanded_ when a description fits
  ArchDescription expanded_;
  std::unordered_map<std::string, Described> described_;  // description names and aliases
  std::set<std::string> described_seen_;                  // canonical names found in the checkpoint
  std::map<std::string, std::string> loose_seen_;  // canonical name -> the checkpoint's spelling
  std::vector<LayerTemplate> templates_;
};

}  // namespace

Architecture architecture_of(const Checkpoint& checkpoint) {
  Architecture a;
  Builder(checkpoint, a, checkpoint.tensor_names()).run();
  return a;
}

std::string instantiate(std::string_view t, int layer) {
  std::string s(t);
  std::string index = std::to_string(layer);
  for (size_t pos = s.find(kLayerIndex); pos != std::string::npos; pos = s.find(kLayerIndex, pos + index.size()))
    s.replace(pos, kLayerIndex.size(), index);
  return s;
}

std::optional<std::pair<std::string, int>> split_layer_name(const Architecture& arch, std::string_view name) {
  const std::string& prefix = arch.layer_prefix;
  if (prefix.empty() || name.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view after = name.substr(prefix.size());
  size_t dot = after.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  int index = parse_index(after.substr(0, dot));
  if (index < 0) return std::nullopt;
  std::string spelled = layer_template(prefix, after.substr(dot + 1));
  const WeightInfo* w = find_in(arch.layer_weights, spelled);
  if (!w) return std::nullopt;
  return std::pair{w->name, index};
}

const WeightInfo* find_weight(const Architecture& arch, std::string_view name) {
  if (const WeightInfo* w = find_in(arch.pre_weights, name)) return w;
  if (const WeightInfo* w = find_in(arch.post_weights, name)) return w;
  if (name.find(kLayerIndex) != std::string_view::npos) return find_in(arch.layer_weights, name);
  if (auto split = split_layer_name(arch, name)) return find_in(arch.layer_weights, split->first);
  return nullptr;
}

}  // namespace alloy
