#include "io/torch_pickle.h"

#include <gtest/gtest.h>

#include "../../tests/test_support.h"
#include "../../tests/torch_save_bytes.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::error_message;
using testing::PickleBytes;
using testing::state_dict_pickle;
using testing::TorchTensorSpec;

std::string refusal(const std::string& pickle) {
  return error_message([&] { read_torch_state_dict(pickle); }, "the pickle read");
}

const std::vector<TorchTensorSpec> kTwoTensors{
    {"model.w", "BFloat16Storage", "0", 6, 0, {2, 3}, {3, 1}},
    {"model.tied", "BFloat16Storage", "0", 6, 3, {3}, {1}},
    {"lm_head.bias", "DoubleStorage", "1", 70000, 0, {70000}, {1}},
};

TEST(TorchPickle, ReadsAStateDictAsTorchSaveWritesIt) {
  const auto got = read_torch_state_dict(state_dict_pickle(kTwoTensors));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].name, "model.w");
  EXPECT_EQ(got[0].dtype, DType::BF16);
  EXPECT_EQ(got[0].storage_key, "0");
  EXPECT_EQ(got[0].storage_numel, 6u);
  EXPECT_EQ(got[0].shape, (Shape{2, 3}));
  EXPECT_EQ(got[0].stride, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(got[1].name, "model.tied");
  EXPECT_EQ(got[1].storage_offset, 3u);
  EXPECT_EQ(got[2].dtype, DType::F64);
  EXPECT_EQ(got[2].storage_numel, 70000u);  // BININT
  EXPECT_EQ(got[2].shape, (Shape{70000}));
}

TEST(TorchPickle, EveryStorageClassHasItsDtype) {
  const std::pair<const char*, DType> classes[] = {
      {"FloatStorage", DType::F32}, {"DoubleStorage", DType::F64}, {"HalfStorage", DType::F16},
      {"BFloat16Storage", DType::BF16}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16}, {"CharStorage", DType::I8}, {"ByteStorage", DType::U8},
      {"BoolStorage", DType::BOOL}};
  for (const auto& [cls, dtype] : classes) {
    const auto got = read_torch_state_dict(state_dict_pickle({{"t", cls, "0", 1, 0, {1}, {1}}}));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].dtype, dtype) << cls;
  }
}

// {'state_dict': {...}, 'epoch': 3} as training scripts save; a dict literal (EMPTY_DICT, not
// OrderedDict), a parameter wrapped by _rebuild_parameter, LONG1 for a size, protocol 4's
// SHORT_BINUNICODE, MEMOIZE and STACK_GLOBAL.
TEST(TorchPickle, ReadsTheStateDictInsideATrainingCheckpoint) {
  PickleBytes p;
  p.proto(4).op('}').op('\x94').op('(');
  p.raw("\x8c\x05").raw("epoch").integer(3);
  p.raw("\x8c\x0a").raw("state_dict").op('}').op('\x94');
  p.raw("\x8c\x01").raw("p");
  p.raw("\x8c\x0c").raw("torch._utils").raw("\x8c\x12").raw("_rebuild_parameter").op('\x93');
  p.global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage").global("torch", "HalfStorage");
  p.str("7").str("cpu").raw("\x8a\x03").raw(std::string("\x00\x00\x01", 3)).op('t').op('Q');  // numel 65536
  p.integer(0).raw("(\x8a\x03").raw(std::string("\x00\x00\x01", 3)).op('t').ints({1});
  p.op('\x89').op('}').op('t').op('R');
  p.op('\x88').op('}').op('\x87').op('R');  // (tensor, True, {}) -> _rebuild_parameter
  p.op('s').op('u').op('.');
  const auto got = read_torch_state_dict(p.bytes());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].name, "p");
  EXPECT_EQ(got[0].dtype, DType::F16);
  EXPECT_EQ(got[0].storage_key, "7");
  EXPECT_EQ(got[0].shape, (Shape{65536}));
}

TEST(TorchPickle, RefusesGlobalsThatAreNotPartOfAStateDict) {
  // pickle.dumps of an object whose __reduce__ returns (os.system, ('echo hi',)).
  PickleBytes os_system;
  os_system.proto(2).global("os", "system").str("echo hi").op('\x85').op('R').op('.');
  const std::string m = refusal(os_system.bytes());
  EXPECT_NE(m.find("refuses the global 'os.system'"), std::string::npos) << m;
  EXPECT_NE(m.find("never imports or calls"), std::string::npos) << m;

  PickleBytes eval_via_stack_global;
  eval_via_stack_global.proto(4).raw("\x8c\x08").raw("builtins").raw("\x8c\x04").raw("eval").op('\x93');
  EXPECT_NE(refusal(eval_via_stack_global.bytes()).find("'builtins.eval'"), std::string::npos);

  PickleBytes near_miss;  // a torch global that is not a rebuilder or storage
  near_miss.proto(2).global("torch", "load").op('.');
  EXPECT_NE(refusal(near_miss.bytes()).find("'torch.load'"), std::string::npos);

  PickleBytes storage_called;  // storages come only from persistent ids
  storage_called.proto(2).global("torch", "FloatStorage").op(')').op('R').op('.');
  EXPECT_NE(refusal(storage_called.bytes()).find("called directly"), std::string::npos);

  PickleBytes reduce_of_a_string;  // REDUCE only calls the allowed globals
  reduce_of_a_string.proto(2).str("os.system").op(')').op('R').op('.');
  EXPECT_NE(refusal(reduce_of_a_string.bytes()).find("REDUCE's callable is a str, not a global"), std::string::npos);
}

TEST(TorchPickle, RefusesOpcodesAStateDictDoesNotUse) {
  // INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1, PERSID (text), STRING, BINFLOAT, an undefined byte.
  for (const char op : {'i', 'o', '\x81', '\x92', '\x82', 'P', 'S', 'G', '\xff'}) {
    const std::string m = refusal(std::string("\x80\x02", 2) + op + ".");
    EXPECT_NE(m.find("byte 2: opcode 0x"), std::string::npos) << m;
    EXPECT_NE(m.find("not one a state dict uses"), std::string::npos) << m;
  }
}

TEST(TorchPickle, RefusesEveryTruncationOfAValidPickle) {
  const std::string whole = state_dict_pickle(kTwoTensors);
  for (size_t n = 0; n < whole.size(); ++n) {
    const std::string m = refusal(whole.substr(0, n));
    EXPECT_FALSE(m.empty()) << "prefix of " << n << " bytes";
  }
  EXPECT_NE(refusal(whole.substr(0, whole.size() - 1)).find("ends before its STOP opcode"), std::string::npos);
}

TEST(TorchPickle, RefusesMalformedStructure) {
  PickleBytes huge;  // BINUNICODE claiming 4 GiB
  huge.proto(2).raw("X\xff\xff\xff\xff").raw("abc");
  EXPECT_NE(refusal(huge.bytes()).find("a length of 4294967295 runs past the end"), std::string::npos);

  PickleBytes unknown_memo;
  unknown_memo.proto(2).get(7).op('.');
  EXPECT_NE(refusal(unknown_memo.bytes()).find("memo entry 7 was never stored"), std::string::npos);

  PickleBytes underflow;
  underflow.proto(2).op('(').op('R');
  EXPECT_NE(refusal(underflow.bytes()).find("the stack is empty"), std::string::npos);

  PickleBytes not_a_dict;
  not_a_dict.proto(2).op(']').op('.');
  EXPECT_NE(refusal(not_a_dict.bytes()).find("holds a list, not a state dict"), std::string::npos);

  PickleBytes not_a_tensor;  // {'epoch': 3}
  not_a_tensor.proto(2).op('}').str("epoch").integer(3).op('s').op('.');
  EXPECT_NE(refusal(not_a_tensor.bytes()).find("entry 'epoch' is a int, not a tensor"), std::string::npos);

  PickleBytes bad_pid;  // a persistent id that is not a storage
  bad_pid.proto(2).str("module").op('Q').op('.');
  EXPECT_NE(refusal(bad_pid.bytes()).find("a persistent id is a str, not a tuple"), std::string::npos);

  // A list appended into itself: no recursion, no leak, and still not a state dict.
  PickleBytes cycle;
  cycle.proto(2).op(']').put(0).get(0).op('a').op('.');
  EXPECT_NE(refusal(cycle.bytes()).find("holds a list"), std::string::npos);

  PickleBytes negative;  // size -1 through LONG1
  negative.proto(2).op('}').str("t").global("torch._utils", "_rebuild_tensor_v2").op('(').op('(').str("storage");
  negative.global("torch", "FloatStorage").str("0").str("cpu").integer(1).op('t').op('Q').integer(0);
  negative.raw("(\x8a\x01\xff").op('t').ints({1}).op('\x89').op('}').op('t').op('R').op('s').op('.');
  EXPECT_NE(refusal(negative.bytes()).find("a tensor's size has a negative entry"), std::string::npos);
}

// The memo lets one size tuple or string serve every tensor; a record copies it, so the bounds on
// rank, storage key and name are what keep the records linear in the pickle's size.
TEST(TorchPickle, BoundsWhatEachRecordCopies) {
  auto spec = [](size_t rank, size_t key_bytes, size_t name_bytes) {
    return TorchTensorSpec{std::string(name_bytes, 'n'), "FloatStorage", std::string(key_bytes, '7'), 1, 0,
                           Shape(rank, 1), std::vector<int64_t>(rank, 1)};
  };
  const auto widest = read_torch_state_dict(state_dict_pickle({spec(64, 64, 1024)}));
  ASSERT_EQ(widest.size(), 1u);
  EXPECT_EQ(widest[0].shape.size(), 64u);
  EXPECT_EQ(widest[0].storage_key.size(), 64u);
  EXPECT_EQ(widest[0].name.size(), 1024u);

  std::string m = refusal(state_dict_pickle({spec(65, 1, 1)}));
  EXPECT_NE(m.find("a tensor's size has 65 dimensions; alloy reads at most 64"), std::string::npos) << m;
  m = refusal(state_dict_pickle({spec(1, 65, 1)}));
  EXPECT_NE(m.find("a storage key of 65 bytes"), std::string::npos) << m;
  m = refusal(state_dict_pickle({spec(1, 1, 1025)}));
  EXPECT_NE(m.find("the state dict has a key of 1025 bytes ('" + std::string(32, 'n') + "...')"), std::string::npos) << m;
}

TEST(TorchPickle, RowMajorStrides) {
  EXPECT_TRUE(is_row_major({2, 3}, {3, 1}));
  EXPECT_TRUE(is_row_major({2, 1, 3}, {3, 99, 1}));  // a size-1 dimension's stride is never used
  EXPECT_TRUE(is_row_major({}, {}));
  EXPECT_TRUE(is_row_major({0, 3}, {5, 7}));
  EXPECT_FALSE(is_row_major({2, 3}, {1, 2}));  // a transposed view
  EXPECT_FALSE(is_row_major({4}, {2}));        // every other element
}

}  // namespace
}  // namespace alloy
