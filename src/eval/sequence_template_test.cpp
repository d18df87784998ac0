// The special tokens around one text, from each kind of tokenizer.json post_processor as
// Hugging Face's tokenizers writes them for BERT, RoBERTa and XLM-R checkpoints.
#include "eval/sequence_template.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using V = std::vector<int32_t>;

TEST(SequenceTemplate, BertAndRobertaProcessing) {
  const auto bert = template_from_post_processor(
      nlohmann::json::parse(R"({"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]})"));
  EXPECT_EQ(bert.wrap({7, 8}), (V{101, 7, 8, 102}));
  // roberta-base's: RobertaProcessing; some exports wrap it with ByteLevel in a Sequence.
  const auto roberta = template_from_post_processor(nlohmann::json::parse(
      R"({"type": "Sequence", "processors": [{"type": "ByteLevel", "trim_offsets": true},
          {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": true}]})"));
  EXPECT_EQ(roberta.wrap({5}), (V{0, 5, 2}));
}

TEST(SequenceTemplate, TemplateProcessingSingle) {
  const auto t = template_from_post_processor(nlohmann::json::parse(R"({
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101], "tokens": ["[CLS]"]},
                       "[SEP]": {"id": "[SEP]", "ids": [102], "tokens": ["[SEP]"]}}})"));
  EXPECT_EQ(t.before, V{101});
  EXPECT_EQ(t.after, V{102});
  EXPECT_TRUE(template_from_post_processor(nullptr).before.empty());
  EXPECT_TRUE(template_from_post_processor(nlohmann::json{{"type", "ByteLevel"}}).after.empty());
}

TEST(SequenceTemplate, MalformedProcessorsNameTheField) {
  try {
    template_from_post_processor(nlohmann::json::parse(R"({"type": "BertProcessing", "cls": ["[CLS]", 101], "sep": "[SEP]"})"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("post_processor.sep"), std::string::npos) << e.what();
  }
  try {
    template_from_post_processor(nlohmann::json::parse(
        R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[X]"}}], "special_tokens": {}})"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'[X]'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alloy
