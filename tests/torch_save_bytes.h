// PyTorch .bin files built byte by byte, as torch.save (>= 1.6, pickle protocol 2) writes them,
// for the .bin reader's tests. The layout, from the zip and pickle specifications:
//
//   zip archive, every entry stored (method 0), in this order:
//     archive/data.pkl   the pickled state dict (below)
//     archive/byteorder  "little"
//     archive/data/<k>   one entry per storage: its elements' raw little-endian bytes
//     archive/version    "3\n"
//   each local header [sig 50 4b 03 04, version, flags, method, time, date, crc, sizes, name
//   length, extra length, name, extra] carries an extra field of padding (id "FB") so that the
//   entry's bytes start 64-byte aligned, as torch's writer does; then the central directory (one
//   46-byte header + name per entry) and the 22-byte end record (or, with zip64, the 56-byte
//   zip64 end record and its 20-byte locator first, and 0xFFFFFFFF in the 32-bit fields).
//
//   data.pkl for {name: tensor, ...} (a model.state_dict(), so an OrderedDict with _metadata):
//     80 02                                  PROTO 2
//     c collections\nOrderedDict\n q 00      GLOBAL, BINPUT 0
//     ) R q 01                               EMPTY_TUPLE, REDUCE: the OrderedDict
//     (                                      MARK
//       per tensor: X <name>                 BINUNICODE key
//         c torch._utils\n_rebuild_tensor_v2\n   GLOBAL (the first time; later BINGET)
//         ( ( X "storage" c torch\n<T>Storage\n X <key> X "cpu" K <numel> t Q
//                                            MARK ... TUPLE, BINPERSID: the storage
//           K <storage offset>  (<sizes> t  (<strides> t  89  h 00 ) R
//                                            offset, size, stride, NEWFALSE, OrderedDict() hooks
//         t R                                TUPLE, REDUCE: the tensor
//     u                                      SETITEMS
//     } X "_metadata" h 00 ) R X "" } X "version" K 01 s s s b
//                                            BUILD with {'_metadata': {'': {'version': 1}}}
//     .                                      STOP
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor_view.h"

namespace alloy::testing {

// Pickle opcodes, written one call each so a test reads like the disassembly above.
class PickleBytes {
 public:
  PickleBytes& raw(const std::string& s) { out_ += s; return *this; }
  PickleBytes& op(char c) { out_ += c; return *this; }
  PickleBytes& proto(int p) { out_ += '\x80'; out_ += static_cast<char>(p); return *this; }
  PickleBytes& global(const std::string& module, const std::string& name) {
    out_ += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  PickleBytes& str(const std::string& s) { out_ += 'X'; le(s.size(), 4); out_ += s; return *this; }
  PickleBytes& integer(int64_t v) {
    if (v >= 0 && v < 256) { out_ += 'K'; le(static_cast<uint64_t>(v), 1); }
    else if (v >= 0 && v < 65536) { out_ += 'M'; le(static_cast<uint64_t>(v), 2); }
    else { out_ += 'J'; le(static_cast<uint64_t>(v), 4); }
    return *this;
  }
  PickleBytes& put(int i) { out_ += 'q'; le(static_cast<uint64_t>(i), 1); return *this; }
  PickleBytes& get(int i) { out_ += 'h'; le(static_cast<uint64_t>(i), 1); return *this; }
  PickleBytes& ints(const std::vector<int64_t>& v) {  // a tuple of ints
    out_ += '(';
    for (int64_t x : v) integer(x);
    out_ += 't';
    return *this;
  }
  const std::string& bytes() const { return out_; }

  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }

 private:
  std::string out_;
};

struct TorchTensorSpec {
  std::string name;
  std::string storage_class;  // "FloatStorage", "BFloat16Storage", ...
  std::string storage_key;    // several tensors may share one
  int64_t storage_numel = 0;
  int64_t storage_offset = 0;
  Shape shape;
  std::vector<int64_t> stride;
};

// The pickle of a state dict as torch.save writes it (see the layout above). Memo 0 is the
// OrderedDict global, memo 1 the _rebuild_tensor_v2 global after its first use.
inline std::string state_dict_pickle(const std::vector<TorchTensorSpec>& tensors) {
  PickleBytes p;
  p.proto(2).global("collections", "OrderedDict").put(0).op(')').op('R').op('(');
  bool rebuild_named = false;
  for (const TorchTensorSpec& t : tensors) {
    p.str(t.name);
    if (rebuild_named) {
      p.get(1);
    } else {
      p.global("torch._utils", "_rebuild_tensor_v2").put(1);
      rebuild_named = true;
    }
    p.op('(').op('(').str("storage").global("torch", t.storage_class).str(t.storage_key).str("cpu");
    p.integer(t.storage_numel).op('t').op('Q');
    p.integer(t.storage_offset).ints(t.shape).ints(t.stride).op('\x89').get(0).op(')').op('R');
    p.op('t').op('R');
  }
  p.op('u');
  p.op('}').str("_metadata").get(0).op(')').op('R').str("").op('}').str("version").integer(1);
  p.op('s').op('s').op('s').op('b').op('.');
  return p.bytes();
}

struct ZipMember {
  std::string name;
  std::string bytes;
  uint16_t method = 0;  // 0 stored; others only to test refusals
  uint16_t flags = 0;
};

// A zip archive of `members` in order, each entry's bytes 64-byte aligned; with `zip64`, every
// size and offset goes through the zip64 records as in an archive past 4 GiB.
inline std::string zip_bytes(const std::vector<ZipMember>& members, bool zip64 = false) {
  PickleBytes out, central;  // PickleBytes only as a little-endian byte builder here
  auto u16 = [](PickleBytes& b, uint64_t v) { b.le(v, 2); };
  auto u32 = [](PickleBytes& b, uint64_t v) { b.le(v, 4); };
  for (const ZipMember& m : members) {
    const uint64_t local = out.bytes().size();
    const uint64_t before_extra = local + 30 + m.name.size();
    const uint64_t pad = (64 - (before_extra + 4) % 64) % 64;
    u32(out, 0x04034b50); u16(out, 20); u16(out, m.flags); u16(out, m.method); u16(out, 0); u16(out, 0);
    u32(out, 0); u32(out, m.bytes.size()); u32(out, m.bytes.size());
    u16(out, m.name.size()); u16(out, 4 + pad);
    out.raw(m.name);
    u16(out, 0x4246); u16(out, pad); out.raw(std::string(pad, 'Z'));
    out.raw(m.bytes);

    const uint64_t big = 0xFFFFFFFF;
    u32(central, 0x02014b50); u16(central, 20); u16(central, 20); u16(central, m.flags); u16(central, m.method);
    u16(central, 0); u16(central, 0); u32(central, 0);
    u32(central, zip64 ? big : m.bytes.size()); u32(central, zip64 ? big : m.bytes.size());
    u16(central, m.name.size()); u16(central, zip64 ? 28 : 0); u16(central, 0);
    u16(central, 0); u16(central, 0); u32(central, 0); u32(central, zip64 ? big : local);
    central.raw(m.name);
    if (zip64) {
      u16(central, 0x0001); u16(central, 24);
      central.le(m.bytes.size(), 8); central.le(m.bytes.size(), 8); central.le(local, 8);
    }
  }
  const uint64_t cd_offset = out.bytes().size(), cd_size = central.bytes().size();
  out.raw(central.bytes());
  if (zip64) {
    const uint64_t rec = out.bytes().size();
    u32(out, 0x06064b50); out.le(44, 8); u16(out, 45); u16(out, 45); u32(out, 0); u32(out, 0);
    out.le(members.size(), 8); out.le(members.size(), 8); out.le(cd_size, 8); out.le(cd_offset, 8);
    u32(out, 0x07064b50); u32(out, 0); out.le(rec, 8); u32(out, 1);
  }
  u32(out, 0x06054b50); u16(out, 0); u16(out, 0);
  u16(out, zip64 ? 0xFFFF : members.size()); u16(out, zip64 ? 0xFFFF : members.size());
  u32(out, zip64 ? 0xFFFFFFFF : cd_size); u32(out, zip64 ? 0xFFFFFFFF : cd_offset); u16(out, 0);
  return out.bytes();
}

// A whole torch.save archive: data.pkl from `tensors`, and `storages` as (key, raw bytes).
inline std::string torch_save_bytes(const std::vector<TorchTensorSpec>& tensors,
                                    const std::vector<std::pair<std::string, std::string>>& storages,
                                    const std::string& pickle_override = "", bool zip64 = false) {
  std::vector<ZipMember> members{{"archive/data.pkl", pickle_override.empty() ? state_dict_pickle(tensors) : pickle_override},
                                 {"archive/byteorder", "little"}};
  for (const auto& [key, bytes] : storages) members.push_back({"archive/data/" + key, bytes});
  members.push_back({"archive/version", "3\n"});
  return zip_bytes(members, zip64);
}

}  // namespace alloy::testing
