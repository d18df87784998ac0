#include "io/torch_checkpoint.h"

#include <algorithm>

#include "io/torch_pickle.h"
#include "io/zip_archive.h"
#include "util/error.h"

namespace alloy {

using nlohmann::json;

namespace {

// torch.save names every entry "<archive>/...", <archive> being a single folder name ("archive"
// in current versions, the file's stem in older ones); data.pkl at its top marks it.
std::string archive_prefix(const ZipArchive& zip) {
  std::string prefix;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == std::string::npos || e.name.substr(slash) != "/data.pkl") continue;
    if (!prefix.empty()) fail("two data.pkl entries ('", prefix, "/data.pkl', '", e.name, "')");
    prefix = e.name.substr(0, slash);
  }
  if (prefix.empty()) fail("no <archive>/data.pkl entry: not an archive written by torch.save");
  return prefix;
}

std::string_view entry_text(const MappedFile& map, const ZipEntry& e) {
  return {reinterpret_cast<const char*>(map.data() + e.offset), e.size};
}

TorchBinEntry locate(const ZipArchive& zip, const std::string& prefix,
                     const TorchTensorRecord& t) {
  const std::string storage_name = prefix + "/data/" + t.storage_key;
  const ZipEntry* storage = zip.find(storage_name);
  if (!storage) fail("tensor '", t.name, "': its storage '", storage_name, "' is not in the archive");
  if (!is_row_major(t.shape, t.stride))
    fail("tensor '", t.name, "' is not contiguous (shape ", shape_str(t.shape), ", stride ", shape_str(t.stride),
         "); alloy views tensors in place: save it with .contiguous(), or convert the file to safetensors");
  const uint64_t size = dtype_size(t.dtype), n = static_cast<uint64_t>(numel(t.shape));
  if (t.storage_numel > storage->size / size || t.storage_offset > t.storage_numel ||
      n > t.storage_numel - t.storage_offset)
    fail("tensor '", t.name, "': ", n, " elements from offset ", t.storage_offset, " do not fit its storage '",
         storage_name, "' (", t.storage_numel, " elements declared, ", storage->size, " bytes stored)");
  return {t.name, t.dtype, t.shape, storage->offset + t.storage_offset * size, n * size};
}

}  // namespace

std::shared_ptr<TorchBinFile> TorchBinFile::open(const std::filesystem::path& path) {
  auto file = std::shared_ptr<TorchBinFile>(new TorchBinFile());
  file->map_ = MappedFile(path);
  const MappedFile& map = file->map_;
  try {
    if (map.size() >= 2 && map.data()[0] == std::byte{0x80} && map.data()[1] == std::byte{0x02})
      fail("a legacy PyTorch file (the pre-1.6 format, not a zip archive); alloy reads what torch.save writes since "
           "1.6: re-save it, or convert it to safetensors");
    const ZipArchive zip = ZipArchive::read(map.data(), map.size());
    const std::string prefix = archive_prefix(zip);
    if (const ZipEntry* order = zip.find(prefix + "/byteorder"); order && entry_text(map, *order) != "little")
      fail("byteorder is '", entry_text(map, *order), "'; alloy reads little-endian archives only");
    const ZipEntry& pickle = *zip.find(prefix + "/data.pkl");
    std::vector<TorchTensorRecord> records;
    try {
      records = read_torch_state_dict(entry_text(map, pickle));
    } catch (const Error& e) {
      rethrow_with(pickle.name, e);
    }
    for (const TorchTensorRecord& t : records) file->entries_.push_back(locate(zip, prefix, t));
  } catch (const Error& e) {
    rethrow_with(path.string(), e);
  }
  std::stable_sort(file->entries_.begin(), file->entries_.end(),
                   [](const TorchBinEntry& a, const TorchBinEntry& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < file->entries_.size(); ++i) file->by_name_.emplace(file->entries_[i].name, i);
  return file;
}

bool has_torch_weights(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::exists(dir / "pytorch_model.bin", ec) ||
         std::filesystem::exists(dir / "pytorch_model.bin.index.json", ec);
}

std::shared_ptr<const Checkpoint> open_torch_checkpoint(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  auto ck = Checkpoint::assemble(path, is_dir ? path : (path.parent_path().empty() ? "." : path.parent_path()),
                                 "pytorch", !is_dir);
  auto add_file = [&](const fs::path& file) {
    auto bin = TorchBinFile::open(file);
    ck->add_file({bin, &bin->mapping(), 0});
    return bin;
  };
  if (!is_dir) {
    auto bin = add_file(path);
    for (const TorchBinEntry& e : bin->entries()) ck->add_tensor(e.name, bin->view(e), 0);
    return ck;
  }
  if (fs::exists(path / "config.json", ec)) {
    json config = read_json_file(path / "config.json");
    if (!config.is_object()) fail((path / "config.json").string(), ": is not a JSON object");
    ck->set_config(std::move(config));
  }
  if (fs::exists(path / "pytorch_model.bin", ec)) {
    auto bin = add_file(path / "pytorch_model.bin");
    for (const TorchBinEntry& e : bin->entries()) ck->add_tensor(e.name, bin->view(e), 0);
    return ck;
  }
  // Sharded: the index names each tensor's shard; shards are opened in name order and their
  // tensors added shard by shard, in storage order.
  const fs::path index = path / "pytorch_model.bin.index.json";
  const ShardIndex idx = read_shard_index(index);
  const json& weight_map = idx.weight_map;
  const std::vector<std::string>& shard_names = idx.shards;
  for (size_t s = 0; s < shard_names.size(); ++s) {
    auto bin = add_file(path / shard_names[s]);
    for (const TorchBinEntry& e : bin->entries()) {
      auto it = weight_map.find(e.name);
      if (it != weight_map.end() && *it == shard_names[s]) ck->add_tensor(e.name, bin->view(e), s);
    }
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it)
      if (*it == shard_names[s] && !bin->find(it.key()))
        fail(index.string(), ": lists tensor '", it.key(), "' in shard '", shard_names[s],
             "', but that shard does not contain it");
  }
  return ck;
}

const TorchBinEntry* TorchBinFile::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

TensorView TorchBinFile::view(const TorchBinEntry& entry) const {
  TensorView v;
  v.dtype = entry.dtype;
  v.shape = entry.shape;
  v.data = map_.data() + entry.offset;
  v.nbytes = entry.nbytes;
  v.file_mapped = true;
  return v;
}

}  // namespace alloy
