#include "io/torch_pickle.h"

#include <array>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "util/error.h"

namespace alloy {

namespace {

// The globals a state dict's pickle names; anything else is refused when it is named.
enum class Global { OrderedDict, RebuildTensor, RebuildParameter, Storage };

struct StorageClass {
  std::string_view name;
  DType dtype;
};
constexpr std::array<StorageClass, 10> kStorageClasses{{
    {"FloatStorage", DType::F32},
    {"DoubleStorage", DType::F64},
    {"HalfStorage", DType::F16},
    {"BFloat16Storage", DType::BF16},
    {"LongStorage", DType::I64},
    {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},
    {"CharStorage", DType::I8},
    {"ByteStorage", DType::U8},
    {"BoolStorage", DType::BOOL},
}};

// Bounds on what one tensor record copies out of the pickle. The memo lets a pickle write a long
// string or size tuple once and reuse it for every tensor, so without them a small file could ask
// for records that grow with the square of its size. torch.save keys storages "0", "1", ...;
// weights have a handful of dimensions; tensor names are dotted module paths.
constexpr size_t kMaxDims = 64;
constexpr size_t kMaxStorageKey = 64;
constexpr size_t kMaxTensorName = 1024;

enum class Kind { None, Bool, Int, Str, Tuple, List, Dict, Global, Storage, Tensor };

// One unpickled object. Objects live in one arena and refer to each other by index, so a pickle
// that builds cycles or deep nesting costs no recursion and leaks nothing.
struct Node {
  explicit Node(Kind k, int64_t n = 0, std::string t = {}, std::vector<size_t> i = {})
      : kind(k), number(n), text(std::move(t)), items(std::move(i)) {}
  Kind kind;
  int64_t number;             // Int, Bool; the Global; the index of a Storage or Tensor record
  std::string text;          // Str; the Global's dotted name
  std::vector<size_t> items;  // Tuple, List; Dict as key, value, key, value...
};

struct StorageRef {
  DType dtype;
  std::string key;
  uint64_t numel;
};

const char* kind_name(Kind k) {
  static constexpr const char* names[] = {"None", "bool", "int", "str", "tuple", "list", "dict", "global", "storage",
                                          "tensor"};
  return names[static_cast<int>(k)];
}

class Unpickler {
 public:
  explicit Unpickler(std::string_view bytes) : in_(bytes) {}

  size_t run() {
    while (true) {
      op_at_ = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: if (u8() > 5) bad("pickle protocol above 5"); break;           // PROTO
        case 0x95: (void)take(8); break;                                           // FRAME: a length hint
        case '.': return pop_root();                                                // STOP
        case '(': marks_.push_back(stack_.size()); break;                           // MARK
        case '}': push(Node{Kind::Dict}); break;                                        // EMPTY_DICT
        case ']': push(Node{Kind::List}); break;                                        // EMPTY_LIST
        case ')': push(Node{Kind::Tuple}); break;                                       // EMPTY_TUPLE
        case 't': push_tuple(pop_mark()); break;                                    // TUPLE
        case 0x85: push_tuple(pop_n(1)); break;                                     // TUPLE1
        case 0x86: push_tuple(pop_n(2)); break;                                     // TUPLE2
        case 0x87: push_tuple(pop_n(3)); break;                                     // TUPLE3
        case 'N': push(Node{Kind::None}); break;                                        // NONE
        case 0x88: push(Node{Kind::Bool, 1}); break;                                    // NEWTRUE
        case 0x89: push(Node{Kind::Bool, 0}); break;                                    // NEWFALSE
        case 'J': push(Node{Kind::Int, static_cast<int32_t>(le(4))}); break;            // BININT
        case 'K': push(Node{Kind::Int, static_cast<int64_t>(le(1))}); break;            // BININT1
        case 'M': push(Node{Kind::Int, static_cast<int64_t>(le(2))}); break;            // BININT2
        case 0x8a: push(Node{Kind::Int, long1()}); break;                               // LONG1
        case 'X': push_str(le(4)); break;                                           // BINUNICODE
        case 0x8c: push_str(le(1)); break;                                          // SHORT_BINUNICODE
        case 0x8d: push_str(le(8)); break;                                          // BINUNICODE8
        case 'q': memo_[le(1)] = top(); break;                                      // BINPUT
        case 'r': memo_[le(4)] = top(); break;                                      // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;                              // MEMOIZE
        case 'h': stack_.push_back(memo(le(1))); break;                             // BINGET
        case 'j': stack_.push_back(memo(le(4))); break;                             // LONG_BINGET
        case 'c': {                                                                 // GLOBAL
          const auto module = line();  // two statements: argument order is unspecified in C++
          global(module, line());
          break;
        }
        case 0x93: stack_global(); break;                                           // STACK_GLOBAL
        case 'R': reduce(); break;                                                  // REDUCE
        case 'b': build(); break;                                                   // BUILD
        case 'Q': persistent_load(); break;                                         // BINPERSID
        case 's': set_items(pop_n(2)); break;                                       // SETITEM
        case 'u': set_items(pop_mark()); break;                                     // SETITEMS
        case 'a': append(pop_n(1)); break;                                          // APPEND
        case 'e': append(pop_mark()); break;                                        // APPENDS
        default:
          bad(cat("opcode 0x", hex(op), printable(op),
                  " is not one a state dict uses; alloy refuses it (it never runs pickled code)"));
      }
    }
  }

  const Node& node(size_t i) const { return nodes_[i]; }
  const std::vector<StorageRef>& storages() const { return storages_; }
  const std::vector<TorchTensorRecord>& tensors() const { return tensors_; }

 private:
  [[noreturn]] void bad(const std::string& why) const { fail("byte ", op_at_, ": ", why); }

  static std::string hex(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return {digits[b >> 4], digits[b & 15]};
  }
  static std::string printable(uint8_t b) { return b >= 0x20 && b < 0x7f ? cat(" ('", char(b), "')") : ""; }

  std::string_view take(uint64_t n) {
    if (n > in_.size() - pos_) bad(cat("a length of ", n, " runs past the end of the pickle (", in_.size() - pos_, " bytes left)"));
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint8_t u8() {
    if (pos_ >= in_.size()) {
      op_at_ = pos_;
      bad("the pickle ends before its STOP opcode (truncated?)");
    }
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t le(int n) {
    std::string_view s = take(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[static_cast<size_t>(i)]);
    return v;
  }
  int64_t long1() {
    const int n = static_cast<int>(le(1));
    if (n > 8) bad(cat("an integer of ", n, " bytes is too large for a tensor's size or offset"));
    if (n == 0) return 0;
    uint64_t v = le(n);
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const size_t end = in_.find('\n', pos_);
    if (end == std::string_view::npos) bad("GLOBAL without a newline-terminated name");
    std::string s(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }

  size_t push(Node n) {
    nodes_.push_back(std::move(n));
    stack_.push_back(nodes_.size() - 1);
    return nodes_.size() - 1;
  }
  void push_str(uint64_t n) { push(Node{Kind::Str, 0, std::string(take(n))}); }
  void push_tuple(std::vector<size_t> items) { push(Node{Kind::Tuple, 0, {}, std::move(items)}); }
  size_t top() const {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) bad("the stack is empty");
    return stack_.back();
  }
  size_t pop() {
    const size_t i = top();
    stack_.pop_back();
    return i;
  }
  std::vector<size_t> pop_n(size_t n) {
    std::vector<size_t> items(n);
    for (size_t k = n; k-- > 0;) items[k] = pop();
    return items;
  }
  std::vector<size_t> pop_mark() {
    if (marks_.empty()) bad("an opcode needs a MARK and there is none");
    std::vector<size_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  size_t memo(uint64_t key) const {
    auto it = memo_.find(key);
    if (it == memo_.end()) bad(cat("memo entry ", key, " was never stored"));
    return it->second;
  }
  Node& expect(size_t i, Kind kind, std::string_view what) {
    if (nodes_[i].kind != kind) bad(cat(what, " is a ", kind_name(nodes_[i].kind), ", not a ", kind_name(kind)));
    return nodes_[i];
  }
  size_t pop_root() {
    const size_t root = pop();
    if (!marks_.empty()) bad("STOP inside an unclosed MARK");
    return root;
  }

  void global(std::string module, std::string name) {
    const std::string dotted = module + "." + name;
    if (dotted == "collections.OrderedDict") return push_global(Global::OrderedDict, dotted);
    if (dotted == "torch._utils._rebuild_tensor_v2") return push_global(Global::RebuildTensor, dotted);
    if (dotted == "torch._utils._rebuild_parameter") return push_global(Global::RebuildParameter, dotted);
    if (module == "torch")
      for (size_t i = 0; i < kStorageClasses.size(); ++i)
        if (name == kStorageClasses[i].name) {
          push(Node{Kind::Global, static_cast<int64_t>(Global::Storage), dotted});
          nodes_.back().items = {i};
          return;
        }
    bad(cat("refuses the global '", dotted,
            "': a PyTorch state dict names only tensor rebuilders, storages and OrderedDict, and alloy never imports "
            "or calls anything else (is this file from a source you trust? convert it to safetensors elsewhere)"));
  }
  void push_global(Global g, const std::string& dotted) { push(Node{Kind::Global, static_cast<int64_t>(g), dotted}); }
  void stack_global() {
    const size_t name = pop(), module = pop();
    global(expect(module, Kind::Str, "STACK_GLOBAL's module").text, expect(name, Kind::Str, "STACK_GLOBAL's name").text);
  }

  // The persistent id torch.save gives a storage: ('storage', torch.<T>Storage, key, location, numel).
  void persistent_load() {
    const Node& pid = expect(pop(), Kind::Tuple, "a persistent id");
    if (pid.items.size() != 5 || nodes_[pid.items[0]].kind != Kind::Str || nodes_[pid.items[0]].text != "storage")
      bad("a persistent id that is not ('storage', type, key, location, numel)");
    const Node& type = expect(pid.items[1], Kind::Global, "a storage's type");
    if (type.number != static_cast<int64_t>(Global::Storage)) bad(cat("'", type.text, "' is not a storage type"));
    const Node& numel = expect(pid.items[4], Kind::Int, "a storage's size");
    if (numel.number < 0) bad("a storage of negative size");
    const std::string& key = expect(pid.items[2], Kind::Str, "a storage's key").text;
    if (key.size() > kMaxStorageKey)
      bad(cat("a storage key of ", key.size(), " bytes; torch.save numbers its storages, alloy reads keys of at most ",
              kMaxStorageKey));
    storages_.push_back({kStorageClasses[type.items[0]].dtype, key, static_cast<uint64_t>(numel.number)});
    push(Node{Kind::Storage, static_cast<int64_t>(storages_.size() - 1)});
  }

  std::vector<int64_t> ints(size_t tuple, std::string_view what) {
    const std::vector<size_t>& items = expect(tuple, Kind::Tuple, what).items;
    if (items.size() > kMaxDims) bad(cat(what, " has ", items.size(), " dimensions; alloy reads at most ", kMaxDims));
    std::vector<int64_t> out;
    for (size_t i : items) {
      const Node& n = expect(i, Kind::Int, what);
      if (n.number < 0) bad(cat(what, " has a negative entry"));
      out.push_back(n.number);
    }
    return out;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  size_t rebuild_tensor(const std::vector<size_t>& args) {
    if (args.size() != 6 && args.size() != 7) bad(cat("_rebuild_tensor_v2 with ", args.size(), " arguments"));
    const StorageRef& storage = storages_[static_cast<size_t>(expect(args[0], Kind::Storage, "a tensor's storage").number)];
    const int64_t offset = expect(args[1], Kind::Int, "a tensor's storage offset").number;
    if (offset < 0) bad("a negative storage offset");
    TorchTensorRecord t;
    t.dtype = storage.dtype;
    t.storage_key = storage.key;
    t.storage_numel = storage.numel;
    t.storage_offset = static_cast<uint64_t>(offset);
    t.shape = ints(args[2], "a tensor's size");
    t.stride = ints(args[3], "a tensor's stride");
    if (t.stride.size() != t.shape.size()) bad("a tensor's size and stride have different lengths");
    uint64_t n = 1;
    for (int64_t d : t.shape) {
      if (d != 0 && n > (uint64_t{1} << 62) / static_cast<uint64_t>(d)) bad("a tensor's size overflows");
      n *= static_cast<uint64_t>(d);
    }
    tensors_.push_back(std::move(t));
    return push(Node{Kind::Tensor, static_cast<int64_t>(tensors_.size() - 1)});
  }

  void reduce() {
    const Node& args = expect(pop(), Kind::Tuple, "REDUCE's arguments");
    const Node& callable = expect(pop(), Kind::Global, "REDUCE's callable");
    switch (static_cast<Global>(callable.number)) {
      case Global::OrderedDict:
        if (!args.items.empty()) bad("OrderedDict called with arguments");
        push(Node{Kind::Dict});
        return;
      case Global::RebuildTensor:
        rebuild_tensor(std::vector<size_t>(args.items));  // a copy: pushing may move the arena
        return;
      case Global::RebuildParameter: {  // (tensor, requires_grad, backward_hooks): the tensor itself
        if (args.items.size() != 3) bad("_rebuild_parameter without 3 arguments");
        const size_t data = args.items[0];
        expect(data, Kind::Tensor, "a parameter's data");
        stack_.push_back(data);
        return;
      }
      case Global::Storage:
        bad(cat("'", callable.text, "' called directly; storages come only from persistent ids"));
    }
  }

  // An OrderedDict's BUILD sets instance attributes (a state dict's _metadata: module versions);
  // alloy reads tensors only, so the state is checked to be a dict and otherwise left unused.
  void build() {
    const size_t state = pop();
    expect(top(), Kind::Dict, "the object of BUILD");
    if (nodes_[state].kind != Kind::Dict && nodes_[state].kind != Kind::None) bad("BUILD with a state that is not a dict");
  }

  void set_items(const std::vector<size_t>& items) {
    if (items.size() % 2) bad("SETITEMS with an odd number of objects");
    Node& dict = expect(top(), Kind::Dict, "the target of SETITEM(S)");
    dict.items.insert(dict.items.end(), items.begin(), items.end());
  }
  void append(const std::vector<size_t>& items) {
    Node& list = expect(top(), Kind::List, "the target of APPEND(S)");
    list.items.insert(list.items.end(), items.begin(), items.end());
  }

  std::string_view in_;
  size_t pos_ = 0, op_at_ = 0;
  std::vector<Node> nodes_;
  std::vector<size_t> stack_, marks_;
  std::unordered_map<uint64_t, size_t> memo_;
  std::vector<StorageRef> storages_;
  std::vector<TorchTensorRecord> tensors_;
};

const Node* dict_value(const Unpickler& u, const Node& dict, std::string_view key) {
  const Node* found = nullptr;
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const Node& k = u.node(dict.items[i]);
    if (k.kind == Kind::Str && k.text == key) found = &u.node(dict.items[i + 1]);  // the last one wins, as in Python
  }
  return found;
}

}  // namespace

bool is_row_major(const Shape& shape, const std::vector<int64_t>& stride) {
  if (numel(shape) == 0) return true;  // no element to place
  int64_t expected = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && stride[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

std::vector<TorchTensorRecord> read_torch_state_dict(std::string_view pickle) {
  Unpickler u(pickle);
  const Node* dict = &u.node(u.run());
  if (dict->kind != Kind::Dict)
    fail("the pickle holds a ", kind_name(dict->kind), ", not a state dict (a dict of tensors)");
  if (const Node* inner = dict_value(u, *dict, "state_dict"); inner && inner->kind == Kind::Dict) dict = inner;

  std::vector<TorchTensorRecord> out;
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
    const Node& key = u.node(dict->items[i]);
    const Node& value = u.node(dict->items[i + 1]);
    if (key.kind != Kind::Str) fail("the state dict has a ", kind_name(key.kind), " key; tensor names are strings");
    if (key.text.size() > kMaxTensorName)
      fail("the state dict has a key of ", key.text.size(), " bytes ('", key.text.substr(0, 32),
           "...'); alloy reads tensor names of at most ", kMaxTensorName);
    if (value.kind != Kind::Tensor)
      fail("entry '", key.text, "' is a ", kind_name(value.kind),
           ", not a tensor (alloy reads state dicts: a dict of tensors, or one under \"state_dict\")");
    TorchTensorRecord t = u.tensors()[static_cast<size_t>(value.number)];
    t.name = key.text;
    if (auto [it, fresh] = seen.emplace(t.name, out.size()); !fresh)
      out[it->second] = std::move(t);  // a repeated key replaces the earlier value, as in Python
    else
      out.push_back(std::move(t));
  }
  return out;
}

}  // namespace alloy
