// HfTokenizer against Hugging Face tokenizers.js (the tokenizers of transformers.js, a reference no
// one here wrote): the tests write small tokenizer.json fixtures in GPT-2, Llama 3, Qwen2 and BERT
// style, run tests/js/reference_ids.mjs on them under node, and compare every text's ids.
#include "tokenizer/hf_tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tokenizer/byte_level.h"
#include "tokenizer/unicode_text.h"
#include "util/error.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using nlohmann::json;

const std::filesystem::path kJsDir = std::filesystem::path(ALLOY_SOURCE_DIR) / "tests/js";

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("alloy_tok_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_json(const std::filesystem::path& file, const json& value) { std::ofstream(file) << value.dump(1); }

// Why the node reference cannot run here, or empty when it can.
std::string reference_missing() {
  if (std::system("command -v node > /dev/null 2>&1") != 0) return "node is not installed";
  if (!std::filesystem::exists(kJsDir / "node_modules/@huggingface/tokenizers"))
    return "the reference package is not installed: run `npm ci --prefix tests/js` (scripts/setup-js.sh)";
  return "";
}

std::vector<std::vector<int32_t>> reference_ids(const std::filesystem::path& dir, const std::vector<std::string>& texts) {
  write_json(dir / "texts.json", texts);
  const std::string command = "node '" + (kJsDir / "reference_ids.mjs").string() + "' '" + dir.string() + "' '" +
                              (dir / "texts.json").string() + "' > '" + (dir / "ids.json").string() + "'";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("the node reference failed: " + command);
  std::ifstream in(dir / "ids.json");
  return json::parse(in).get<std::vector<std::vector<int32_t>>>();
}

// A byte-level BPE vocabulary: the 256 byte symbols (ids 0..255), then each word built left to
// right, one merge per added character, in the order the words are given (their merge ranks).
struct BpeVocab {
  json vocab = json::object();
  std::vector<std::pair<std::string, std::string>> merges;
  std::set<std::string> seen;
  int32_t next_id = 256;

  BpeVocab() {
    for (int b = 0; b < 256; ++b) {
      std::string symbol;
      append_utf8(symbol, byte_to_unicode(static_cast<uint8_t>(b)));
      vocab[symbol] = b;
    }
  }
  void add_word(const std::string& raw) {
    const auto chars = utf8_chars(bytes_to_unicode(raw));
    std::string prefix = chars[0];
    for (size_t i = 1; i < chars.size(); ++i) {
      if (seen.insert(prefix + "\xFF" + chars[i]).second) merges.emplace_back(prefix, chars[i]);
      prefix += chars[i];
      if (!vocab.contains(prefix)) vocab[prefix] = next_id++;
    }
  }
  // A token with no merges leading to it (reachable only through ignore_merges).
  void add_token(const std::string& raw) { vocab[bytes_to_unicode(raw)] = next_id++; }
  json merges_json(bool as_pairs) const {
    json out = json::array();
    for (const auto& [l, r] : merges) out.push_back(as_pairs ? json::array({l, r}) : json(l + " " + r));
    return out;
  }
};

// "he" comes before " the" so its merge outranks " t"+"h": the reference must agree on ranks.
const std::vector<std::string> kWords = {
    "he", " the", "the", " world", " hello", "Hello", "ing", " is", "er", " 1", "12", "123", "  ", "    ", "\n\n",
    "'s", "'t", "'m", "'ve", "'ll", "'d", "'S", "'T", " I", " it", " they", " we", " caf", "é", " na", "ï", "ve",
    "中文", " 😀", "...", " (", "),", " ==", " def", " return", "\t", "DON", "THE", " CAT", "3", ".", "14", "\r\n",
    " three", " spaces", " line", " one", " two"};

const std::vector<std::string> kTexts = {
    "Hello world",
    "Hello  world,   three spaces",
    "  leading and trailing  ",
    "line one\nline two\n\n\nafter blank lines\r\nwindows\r\n",
    "\tindented\n    def f(x):\n        return x == 1\n",
    "I'm sure it's what they've said; we'll see. I'd DON'T THE CAT'S 'Tis",
    "numbers 1 12 123 1234 12345 and 3.14159, 2024-06-01",
    "naïve café résumé Ångström",
    "中文字符 and 日本語のテキスト",
    "emoji 😀👍 and symbols ©®™ — “quotes”",
    "",
    " ",
    "x\n \n y  \n",
    "<|endoftext|>first<|endoftext|> second <|endoftext|>",
    "<|begin_of_text|>Hi<|eot_id|>\n<|start_header_id|>user<|end_header_id|>",
    "<|im_start|>system\nYou are<|im_end|>\n",
    "a <mask> b <mask>c",
    " hello helloworld  hello",
};

json byte_level(bool add_prefix_space, bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

json added(int32_t id, const std::string& content, bool special, bool lstrip = false) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", lstrip},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

json bpe_model(const BpeVocab& v, bool ignore_merges, bool merges_as_pairs) {
  return {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
          {"ignore_merges", ignore_merges}, {"vocab", v.vocab}, {"merges", v.merges_json(merges_as_pairs)}};
}

void expect_matches_reference(const std::string& name, const json& tokenizer, const json& config,
                              const std::vector<std::string>& texts) {
  const auto dir = fresh_dir(name);
  json file = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"post_processor", nullptr}};
  file.update(tokenizer);
  write_json(dir / "tokenizer.json", file);
  write_json(dir / "tokenizer_config.json", config);
  const HfTokenizer alloy_tokenizer(dir / "tokenizer.json", dir / "tokenizer_config.json");
  const auto expected = reference_ids(dir, texts);
  ASSERT_EQ(expected.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(alloy_tokenizer.encode(texts[i]), expected[i]) << name << " text " << i << ": '" << texts[i] << "'";
  std::filesystem::remove_all(dir);
}

TEST(HfTokenizer, Gpt2StyleByteLevelBpeMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  BpeVocab v;
  for (const auto& w : kWords) v.add_word(w);
  const int32_t eot = v.next_id++, mask = v.next_id++;
  // RoBERTa's <mask> swallows the space before it (lstrip).
  const json tokenizer = {{"added_tokens", {added(eot, "<|endoftext|>", true), added(mask, "<mask>", true, true)}},
                          {"normalizer", nullptr}, {"pre_tokenizer", byte_level(false, true)}, {"decoder", byte_level(false, true)},
                          {"model", bpe_model(v, false, false)}};
  const json config = {{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"clean_up_tokenization_spaces", false}};
  expect_matches_reference("gpt2", tokenizer, config, kTexts);
}

TEST(HfTokenizer, RobertaStylePrefixSpaceMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  BpeVocab v;
  for (const auto& w : kWords) v.add_word(w);
  const int32_t mask = v.next_id++;
  const json tokenizer = {{"added_tokens", {added(mask, "<mask>", true, true)}}, {"normalizer", nullptr},
                          {"pre_tokenizer", byte_level(true, true)}, {"decoder", byte_level(true, true)},
                          {"model", bpe_model(v, false, false)}};
  expect_matches_reference("roberta", tokenizer, json::object(), kTexts);
}

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json split_then_bytes(const char* pattern) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
            byte_level(false, false)}}};
}

TEST(HfTokenizer, Llama3StyleMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  BpeVocab v;
  for (const auto& w : kWords) v.add_word(w);
  v.add_token(" helloworld");  // no merges reach it: only ignore_merges makes it one token
  json specials = json::array();
  for (const char* s : {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"})
    specials.push_back(added(v.next_id++, s, true));
  const json tokenizer = {{"added_tokens", specials}, {"normalizer", nullptr},
                          {"pre_tokenizer", split_then_bytes(kLlama3Pattern)},
                          {"decoder", byte_level(true, true)}, {"model", bpe_model(v, true, true)}};
  const json config = {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|eot_id|>"}};
  expect_matches_reference("llama3", tokenizer, config, kTexts);
}

TEST(HfTokenizer, Qwen2StyleMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  BpeVocab v;
  for (const auto& w : kWords) v.add_word(w);
  v.add_token(" helloworld");
  json specials = json::array();
  for (const char* s : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) specials.push_back(added(v.next_id++, s, true));
  const json tokenizer = {{"added_tokens", specials}, {"normalizer", {{"type", "NFC"}}},
                          {"pre_tokenizer", split_then_bytes(kQwen2Pattern)},
                          {"decoder", byte_level(false, false)}, {"model", bpe_model(v, false, false)}};
  const json config = {{"eos_token", "<|im_end|>"}, {"pad_token", "<|endoftext|>"}};
  expect_matches_reference("qwen2", tokenizer, config, kTexts);
}

json bert_tokenizer(bool lowercase) {
  json vocab = json::object();
  int32_t id = 0;
  auto add = [&](const std::string& token) {
    if (!vocab.contains(token)) vocab[token] = id++;
  };
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) add(s);
  for (char c = 'a'; c <= 'z'; ++c) add(std::string(1, c)), add("##" + std::string(1, c));
  for (char c = '0'; c <= '9'; ++c) add(std::string(1, c)), add("##" + std::string(1, c));
  for (char c : std::string("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")) add(std::string(1, c));
  for (const char* s : {"the", "un", "##aff", "##able", "hello", "world", "cafe", "naive", "resume", "##s", "中", "文",
                        "字", "符", "english", "don", "t", "Hello", "World", "##ing", "##ed", "play", "“", "”", "—",
                        "é", "##é", "caf", "na", "##ï", "##ve", "14", "##15", "3"})
    add(s);
  json specials = json::array();
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    specials.push_back(added(vocab[s].get<int32_t>(), s, true));
  // A user's added word, matched in the normalized (lowercased) text.
  json word = added(id++, "MyWord", false);
  word["normalized"] = true;
  specials.push_back(word);
  return {{"added_tokens", specials},
          {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                          {"strip_accents", nullptr}, {"lowercase", lowercase}}},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
          {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                     {"max_input_chars_per_word", 20}, {"vocab", vocab}}}};
}

const std::vector<std::string> kBertTexts = {
    "Hello, World!", "Héllo naïve CAFÉ résumé", "中文字符混合English text", "unaffable playing played",
    "supercalifragilisticexpialidocious is long", "a\u0000b\u200Bc\td\u00A0e", "[CLS] hello [SEP] world [MASK]",
    "don't stop—“quoted”", "Ångström ÅNGSTRÖM", "3.14159 and 1,000", "\n\n  spaced   out \n", "MyWord myword MYWORD MyWords"};

TEST(HfTokenizer, BertUncasedWordPieceMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  std::vector<std::string> texts = kBertTexts;
  texts.insert(texts.end(), kTexts.begin(), kTexts.end());
  expect_matches_reference("bert_uncased", bert_tokenizer(true),
                           {{"pad_token", "[PAD]"}, {"cls_token", "[CLS]"}, {"do_lower_case", true}}, texts);
}

TEST(HfTokenizer, BertCasedWordPieceMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  std::vector<std::string> texts = kBertTexts;
  texts.insert(texts.end(), kTexts.begin(), kTexts.end());
  expect_matches_reference("bert_cased", bert_tokenizer(false), {{"pad_token", "[PAD]"}}, texts);
}


// A T5-style Unigram vocabulary: every ASCII letter, digit and punctuation mark, a few words and
// word parts with distinct scores (no ties), and ▁-prefixed words from Metaspace.
json unigram_tokenizer(const std::string& prepend_scheme) {
  json vocab = json::array();
  for (const char* s : {"<pad>", "</s>", "<unk>"}) vocab.push_back(json::array({s, 0.0}));
  double score = -2.0;
  auto add = [&](const std::string& piece) { vocab.push_back(json::array({piece, score -= 0.013})); };
  for (const char* s : {"▁the", "▁hello", "▁world", "▁Hello", "he", "llo", "▁h", "el", "lo", "wor", "ld", "▁", "ing",
                        "▁line", "▁one", "▁two", "er", "▁is", "▁it", "'s", "▁I", "▁they", "▁we", "caf", "é", "ï", "ve"})
    add(s);
  for (char c : std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-=<>|_"))
    add(std::string(1, c));
  json specials = json::array();
  specials.push_back(added(0, "<pad>", true));
  specials.push_back(added(1, "</s>", true));
  specials.push_back(added(2, "<unk>", true));
  return {{"added_tokens", specials}, {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", prepend_scheme}, {"split", true}}},
          {"decoder", {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", prepend_scheme}, {"split", true}}},
          {"model", {{"type", "Unigram"}, {"unk_id", 2}, {"byte_fallback", false}, {"vocab", vocab}}}};
}

// Texts whose unknown characters stand alone: tokenizers.js does not fuse unknown characters in a
// row, as the Rust tokenizers do (UnigramFusesUnknownCharacters).
const std::vector<std::string> kUnigramTexts = {
    "Hello world", "Hello  world,   three spaces", "  leading and trailing  ", "the helloworld hellothe",
    "line one\nline two", "I'm sure it's what they've said; we'll see.", "numbers 1 12 123 and 3.14159",
    "naïve café résumé", "中 and 文", "x</s>y </s> z<pad>", "</s>Hello", "", " ", "a_b|c<d>e"};

TEST(HfTokenizer, UnigramWithMetaspaceMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  expect_matches_reference("unigram_always", unigram_tokenizer("always"), {{"eos_token", "</s>"}}, kUnigramTexts);
  expect_matches_reference("unigram_first", unigram_tokenizer("first"), {{"eos_token", "</s>"}}, kUnigramTexts);
}

// Hand-worked: "▁中文!" has no piece for 中 or 文; each is <unk> (score 10 below the lowest), and
// the two in a row fuse into one <unk> (id 2); "!" is a piece of its own.
TEST(HfTokenizer, UnigramFusesUnknownCharacters) {
  const auto dir = fresh_dir("unigram_unk");
  write_json(dir / "tokenizer.json", unigram_tokenizer("always"));
  const HfTokenizer t(dir / "tokenizer.json");
  EXPECT_EQ(t.encode("中文!"), (std::vector<int32_t>{*t.token_to_id("▁"), 2, *t.token_to_id("!")}));
  EXPECT_EQ(t.encode("hello"), (std::vector<int32_t>{*t.token_to_id("▁hello")}));
  EXPECT_EQ(t.decode(t.encode("Hello world")), "Hello world");
  std::filesystem::remove_all(dir);
}

// A Llama 2 / Mistral style tokenizer.json: SentencePiece's BPE written out, spaces made ▁ by the
// normalizer (Prepend, Replace), no pre-tokenizer, byte fallback for characters not in the vocabulary.
json llama2_tokenizer() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  int32_t id = 3;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = id++;
  }
  std::vector<std::pair<std::string, std::string>> merges;
  std::set<std::string> seen;
  auto add_word = [&](const std::string& word) {
    const auto chars = utf8_chars(word);
    for (const auto& c : chars)
      if (!vocab.contains(c)) vocab[c] = id++;
    std::string prefix = chars[0];
    for (size_t i = 1; i < chars.size(); ++i) {
      if (seen.insert(prefix + "\xFF" + chars[i]).second) merges.emplace_back(prefix, chars[i]);
      prefix += chars[i];
      if (!vocab.contains(prefix)) vocab[prefix] = id++;
    }
  };
  for (char c : std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'()-=")) add_word(std::string(1, c));
  for (const char* w : {"he", "▁the", "▁hello", "▁world", "▁Hello", "▁▁", "▁▁▁▁", "in", "ing", "▁is", "▁I", "'s", "é", "▁caf",
                        "▁line", "▁one", "▁two", "▁def", "▁return", "▁x", "=="})
    add_word(w);
  json merge_list = json::array();
  for (const auto& [l, r] : merges) merge_list.push_back(l + " " + r);
  json specials = json::array();
  for (const char* s : {"<unk>", "<s>", "</s>"}) specials.push_back(added(vocab[s].get<int32_t>(), s, true));
  return {{"added_tokens", specials},
          {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "▁"}},
                                                                {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}}},
          {"pre_tokenizer", nullptr},
          {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                                                             {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                                                             {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
                     {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
                     {"vocab", vocab}, {"merges", merge_list}}}};
}

TEST(HfTokenizer, Llama2StyleByteFallbackMatchesReference) {
  if (auto why = reference_missing(); !why.empty()) GTEST_SKIP() << why;
  expect_matches_reference("llama2", llama2_tokenizer(), {{"bos_token", "<s>"}, {"eos_token", "</s>"}}, kTexts);
}

TEST(HfTokenizer, Llama2StyleDecodesBytesAndSpaces) {
  const auto dir = fresh_dir("llama2_decode");
  write_json(dir / "tokenizer.json", llama2_tokenizer());
  const HfTokenizer t(dir / "tokenizer.json");
  for (const std::string text : {"Hello  world\n\tdef x == 1", "中文 😀 naïve", " lead"}) EXPECT_EQ(t.decode(t.encode(text)), text);
  std::filesystem::remove_all(dir);
}

// A tiny vocabulary worked by hand: merges "h e" (rank 0), "Ġ t" (1), "Ġt h" (2), "Ġth e" (3).
json tiny_gpt2() {
  BpeVocab v;
  v.add_word("he");     // he = 256
  v.add_word(" the");   // Ġt = 257, Ġth = 258, Ġthe = 259 (merges Ġ t, Ġt h, Ġth e)
  return {{"added_tokens", {added(260, "<|endoftext|>", true)}}, {"normalizer", nullptr},
          {"pre_tokenizer", byte_level(false, true)}, {"decoder", byte_level(false, true)},
          {"model", bpe_model(v, false, false)}};
}

TEST(HfTokenizer, HandWorkedMergesDecodeAndSpecialIds) {
  const auto dir = fresh_dir("tiny");
  write_json(dir / "tokenizer.json", tiny_gpt2());
  write_json(dir / "tokenizer_config.json", {{"bos_token", {{"content", "<|endoftext|>"}}}, {"eos_token", "<|endoftext|>"}});
  const HfTokenizer t(dir / "tokenizer.json", dir / "tokenizer_config.json");
  // " the": Ġ t h e; "h e" ranks first -> Ġ t he; then "Ġ t" -> Ġt he; "Ġt he" is no merge, so
  // Ġthe, in the vocabulary, is not reached.
  EXPECT_EQ(t.encode(" the"), (std::vector<int32_t>{257, 256}));
  // "the": t h e -> t he (t is byte 116).
  EXPECT_EQ(t.encode("the<|endoftext|>"), (std::vector<int32_t>{116, 256, 260}));
  EXPECT_EQ(t.bos_id(), 260);
  EXPECT_EQ(t.eos_id(), 260);
  EXPECT_EQ(t.pad_id(), std::nullopt);
  EXPECT_EQ(t.vocab_size(), 261);
  EXPECT_EQ(t.token_to_id("Ġthe"), 259);
  EXPECT_EQ(t.token_to_id("nope"), std::nullopt);
  const std::string text = "the  café\n\t<|endoftext|>中 😀";
  EXPECT_EQ(t.decode(t.encode(text)), text);
  std::filesystem::remove_all(dir);
}

TEST(HfTokenizer, WordPieceDecodeJoinsContinuations) {
  const auto dir = fresh_dir("wp_decode");
  write_json(dir / "tokenizer.json", bert_tokenizer(true));
  const HfTokenizer t(dir / "tokenizer.json");
  const std::vector<int32_t> ids = {*t.token_to_id("un"), *t.token_to_id("##aff"), *t.token_to_id("##able"),
                                    *t.token_to_id(","), *t.token_to_id("the")};
  EXPECT_EQ(t.decode(ids), "unaffable, the");
  // Lowercased "unaffable", longest entries first: "un" (not "u"), "##aff" (not "##a"), "##able".
  // A word over max_input_chars_per_word (20) is [UNK] whole.
  EXPECT_EQ(t.encode("Unaffable"), (std::vector<int32_t>{ids[0], ids[1], ids[2]}));
  EXPECT_EQ(t.encode("supercalifragilisticexpialidocious"), std::vector<int32_t>{*t.token_to_id("[UNK]")});
  std::filesystem::remove_all(dir);
}

// Anything unsupported or malformed is an Error naming the file and the offending entry.
TEST(HfTokenizer, ErrorsNameTheFileAndTheEntry) {
  const auto dir = fresh_dir("errors");
  auto expect_error = [&](const json& tokenizer, const std::string& needle, const json& config = nullptr) {
    write_json(dir / "tokenizer.json", tokenizer);
    if (!config.is_null()) write_json(dir / "tokenizer_config.json", config);
    try {
      HfTokenizer t(dir / "tokenizer.json", dir / "tokenizer_config.json");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("tokenizer"), std::string::npos) << message;
      EXPECT_NE(message.find(needle), std::string::npos) << message;
    }
    std::filesystem::remove(dir / "tokenizer_config.json");
  };
  auto with = [](json t, const char* key, const json& value) {
    t[key] = value;
    return t;
  };
  expect_error(with(tiny_gpt2(), "model", {{"type", "WordLevel"}, {"vocab", json::object()}}), "'WordLevel'");
  expect_error(with(tiny_gpt2(), "normalizer", {{"type", "Precompiled"}}), "'Precompiled'");
  expect_error(with(tiny_gpt2(), "pre_tokenizer", {{"type", "CharDelimiterSplit"}}), "'CharDelimiterSplit'");
  expect_error(with(tiny_gpt2(), "model", {{"type", "Unigram"}, {"vocab", json::array({json::array({"a", -1.0})})}, {"unk_id", 3}}), "unk_id 3");
  json bad_merge = tiny_gpt2();
  bad_merge["model"]["merges"].push_back("x y");
  expect_error(bad_merge, "'x' 'y'");
  expect_error(tiny_gpt2(), "'<s>'", {{"bos_token", "<s>"}});
  std::ofstream(dir / "tokenizer.json") << "{ not json";
  EXPECT_THROW(HfTokenizer(dir / "tokenizer.json"), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace alloy
