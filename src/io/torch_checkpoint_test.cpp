#include "io/torch_checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"

#include "../../tests/test_support.h"
#include "../../tests/torch_save_bytes.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::error_message;
using testing::TempDir;
using testing::torch_save_bytes;
using testing::TorchTensorSpec;
using testing::write_file;

template <class T>
std::string raw(const std::vector<T>& values) {
  std::string s(values.size() * sizeof(T), '\0');
  std::memcpy(s.data(), values.data(), s.size());
  return s;
}
template <class T>
std::vector<T> values(const TensorView& v) {
  std::vector<T> out(v.nbytes / sizeof(T));
  std::memcpy(out.data(), v.data, v.nbytes);
  return out;
}

// Storage 0: six floats 1..6 holding "w" [2, 3] and a tied row "w.row1" (offset 3); storage 1:
// bfloat16 bits of 1, -2, 0.5.
const std::vector<TorchTensorSpec> kTensors{
    {"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
    {"b", "BFloat16Storage", "1", 3, 0, {3}, {1}},
    {"w.row1", "FloatStorage", "0", 6, 3, {3}, {1}},
};
const std::vector<std::pair<std::string, std::string>> kStorages{
    {"0", raw(std::vector<float>{1, 2, 3, 4, 5, 6})},
    {"1", raw(std::vector<uint16_t>{0x3F80, 0xC000, 0x3F00})},
};

TEST(TorchBinFile, ViewsEveryTensorInPlace) {
  TempDir dir;
  for (bool zip64 : {false, true}) {
    write_file(dir / "pytorch_model.bin", torch_save_bytes(kTensors, kStorages, "", zip64));
    const auto file = TorchBinFile::open(dir / "pytorch_model.bin");
    ASSERT_EQ(file->entries().size(), 3u);
    const TensorView w = file->view(*file->find("w"));
    EXPECT_EQ(w.dtype, DType::F32);
    EXPECT_EQ(w.shape, (Shape{2, 3}));
    EXPECT_TRUE(w.file_mapped);
    EXPECT_GE(w.data, file->mapping().data());
    EXPECT_EQ(values<float>(w), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(values<float>(file->view(*file->find("w.row1"))), (std::vector<float>{4, 5, 6}));
    const TensorView b = file->view(*file->find("b"));
    EXPECT_EQ(b.dtype, DType::BF16);
    EXPECT_EQ(values<uint16_t>(b), (std::vector<uint16_t>{0x3F80, 0xC000, 0x3F00}));
    // Storage order: the two views of storage 0 (at its start and 12 bytes in), then storage 1.
    EXPECT_EQ(file->entries()[0].name, "w");
    EXPECT_EQ(file->entries()[1].name, "w.row1");
    EXPECT_EQ(file->entries()[2].name, "b");
    EXPECT_EQ(file->find("nope"), nullptr);
  }
}

std::string refusal(const TempDir& dir, const std::string& bytes) {
  const auto path = dir / "bad.bin";
  write_file(path, bytes);
  const std::string m = error_message([&] { TorchBinFile::open(path); }, "bad.bin opened");
  EXPECT_NE(m.find(path.string()), std::string::npos) << m;
  return m;
}

TEST(TorchBinFile, RefusesTensorsItCannotViewAndNamesThem) {
  TempDir dir;
  auto with = [&](TorchTensorSpec t) {
    return refusal(dir, torch_save_bytes({t}, kStorages));
  };
  std::string m = with({"w.T", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}});
  EXPECT_NE(m.find("tensor 'w.T' is not contiguous (shape [3, 2], stride [1, 3])"), std::string::npos) << m;
  m = with({"late", "FloatStorage", "0", 6, 4, {3}, {1}});
  EXPECT_NE(m.find("tensor 'late': 3 elements from offset 4 do not fit its storage 'archive/data/0'"), std::string::npos) << m;
  m = with({"lies", "FloatStorage", "0", 7, 0, {7}, {1}});  // declares more than the 24 bytes stored
  EXPECT_NE(m.find("7 elements declared, 24 bytes stored"), std::string::npos) << m;
  m = with({"gone", "FloatStorage", "9", 1, 0, {1}, {1}});
  EXPECT_NE(m.find("tensor 'gone': its storage 'archive/data/9' is not in the archive"), std::string::npos) << m;
}

TEST(TorchBinFile, RefusesArchivesThatAreNotTorchSaveOutput) {
  TempDir dir;
  std::string m = refusal(dir, std::string("\x80\x02\x8a\x0a", 4) + std::string(40, 'x'));
  EXPECT_NE(m.find("a legacy PyTorch file"), std::string::npos) << m;
  m = refusal(dir, testing::zip_bytes({{"weights/tensor", "abc"}}));
  EXPECT_NE(m.find("no <archive>/data.pkl entry"), std::string::npos) << m;
  m = refusal(dir, testing::zip_bytes({{"archive/data.pkl", testing::state_dict_pickle({})}, {"archive/byteorder", "big"}}));
  EXPECT_NE(m.find("byteorder is 'big'"), std::string::npos) << m;
  testing::PickleBytes evil;
  evil.proto(2).global("os", "system").str("touch pwned").op('\x85').op('R').op('.');
  m = refusal(dir, torch_save_bytes({}, {}, evil.bytes()));
  EXPECT_NE(m.find("archive/data.pkl: byte 2: refuses the global 'os.system'"), std::string::npos) << m;
  EXPECT_FALSE(std::filesystem::exists("pwned"));
}

// The tensors of `names` from `ck` as torch.save writes them: one storage per tensor, keys "0", "1"...
std::string as_torch_save(const Checkpoint& ck, const std::vector<std::string>& names) {
  std::vector<TorchTensorSpec> specs;
  std::vector<std::pair<std::string, std::string>> storages;
  for (const std::string& name : names) {
    const TensorView v = ck.tensor(name);
    const char* cls = v.dtype == DType::F32 ? "FloatStorage" : v.dtype == DType::BF16 ? "BFloat16Storage" : "HalfStorage";
    std::vector<int64_t> stride(v.shape.size(), 1);
    for (size_t d = v.shape.size(); d-- > 1;) stride[d - 1] = stride[d] * v.shape[d];
    const std::string key = std::to_string(specs.size());
    specs.push_back({name, cls, key, v.numel(), 0, v.shape, stride});
    storages.push_back({key, std::string(reinterpret_cast<const char*>(v.data), v.nbytes)});
  }
  return torch_save_bytes(specs, storages);
}

// A copy of the safetensors model `from` with its weights in PyTorch files: one pytorch_model.bin,
// or two shards and pytorch_model.bin.index.json.
void write_torch_twin(const std::filesystem::path& from, const std::filesystem::path& to, bool sharded) {
  namespace fs = std::filesystem;
  fs::create_directories(to);
  for (const auto& f : fs::directory_iterator(from))
    if (f.path().extension() != ".safetensors" && f.path().filename() != "model.safetensors.index.json")
      fs::copy_file(f.path(), to / f.path().filename());
  const auto ck = Checkpoint::open(from);
  const auto& names = ck->tensor_names();
  if (!sharded) return write_file(to / "pytorch_model.bin", as_torch_save(*ck, names));
  const std::vector<std::string> first(names.begin(), names.begin() + names.size() / 2), second(names.begin() + names.size() / 2, names.end());
  write_file(to / "pytorch_model-00001-of-00002.bin", as_torch_save(*ck, first));
  write_file(to / "pytorch_model-00002-of-00002.bin", as_torch_save(*ck, second));
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (const auto& n : first) index["weight_map"][n] = "pytorch_model-00001-of-00002.bin";
  for (const auto& n : second) index["weight_map"][n] = "pytorch_model-00002-of-00002.bin";
  write_file(to / "pytorch_model.bin.index.json", index.dump());
}

TEST(TorchCheckpoint, SingleAndShardedBinHoldTheSafetensorsTwinsTensors) {
  TempDir dir;
  write_fixture_family(testing::small_llama(2), dir / "family");
  for (bool sharded : {false, true}) {
    const auto twin_dir = dir / (sharded ? "sharded" : "single");
    write_torch_twin(dir / "family/ft1", twin_dir, sharded);
    const auto st = Checkpoint::open(dir / "family/ft1");
    const auto bin = Checkpoint::open(twin_dir);
    EXPECT_EQ(bin->format(), "pytorch");
    EXPECT_EQ(bin->config(), st->config());
    EXPECT_EQ(bin->files().size(), sharded ? 2u : 1u);
    auto sorted = [](std::vector<std::string> v) { std::sort(v.begin(), v.end()); return v; };
    ASSERT_EQ(sorted(bin->tensor_names()), sorted(st->tensor_names()));
    for (const auto& name : st->tensor_names()) {
      const TensorView a = st->tensor(name), b = bin->tensor(name);
      EXPECT_EQ(b.dtype, a.dtype) << name;
      EXPECT_EQ(b.shape, a.shape) << name;
      ASSERT_EQ(b.nbytes, a.nbytes) << name;
      EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << name;
    }
  }
  // A single file opens too, and an index that lists a tensor its shard lacks is refused.
  EXPECT_EQ(Checkpoint::open(dir / "single/pytorch_model.bin")->format(), "pytorch");
  auto index = nlohmann::json::parse(testing::read_file(dir / "sharded/pytorch_model.bin.index.json"));
  index["weight_map"]["ghost.weight"] = "pytorch_model-00001-of-00002.bin";
  write_file(dir / "sharded/pytorch_model.bin.index.json", index.dump());
  const std::string m = error_message([&] { Checkpoint::open(dir / "sharded"); }, "opened");
  EXPECT_NE(m.find("lists tensor 'ghost.weight' in shard 'pytorch_model-00001-of-00002.bin', but that shard does not contain it"),
            std::string::npos) << m;
}

// The acceptance test: a merge reading .bin inputs writes the same bytes as the merge of
// their safetensors twins.
TEST(TorchCheckpoint, MergesToTheSameBytesAsItsSafetensorsTwin) {
  TempDir dir;
  write_fixture_family(testing::small_llama(2), dir / "family");
  write_torch_twin(dir / "family/base", dir / "base_bin", false);
  write_torch_twin(dir / "family/ft1", dir / "ft1_bin", true);
  const std::string recipe = "merge_method: ties\nbase_model: {B}\nmodels:\n  - model: {F}\n    parameters: {weight: 0.6, density: 0.5}\n"
                             "  - model: family/ft2\n    parameters: {weight: 0.4, density: 0.7}\n";
  auto with = [&](const std::string& base, const std::string& ft) {
    std::string r = recipe;
    r.replace(r.find("{B}"), 3, base);
    r.replace(r.find("{F}"), 3, ft);
    return r;
  };
  write_file(dir / "st.yml", with("family/base", "family/ft1"));
  write_file(dir / "bin.yml", with("base_bin", "ft1_bin"));
  auto a = testing::run_alloy("merge st.yml out_st -q", dir.path());
  ASSERT_EQ(a.status, 0) << a.output;
  auto b = testing::run_alloy("merge bin.yml out_bin -q", dir.path());
  ASSERT_EQ(b.status, 0) << b.output;
  const std::string st = testing::read_file(dir / "out_st/model.safetensors");
  EXPECT_FALSE(st.empty());
  EXPECT_EQ(testing::read_file(dir / "out_bin/model.safetensors"), st);
}

}  // namespace
}  // namespace alloy
