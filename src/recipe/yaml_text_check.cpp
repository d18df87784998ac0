#include "recipe/yaml_text_check.h"

#include <string_view>

#include "util/error.h"

namespace alloy {

namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

int indent_of(std::string_view line) {
  int n = 0;
  while (n < static_cast<int>(line.size()) && line[n] == ' ') ++n;
  return n;
}

// Whether a line (comment stripped by the caller's scan) ends in a block scalar header: `|` or
// `>` with optional chomping / indentation indicators, as its last token.
bool opens_block_scalar(std::string_view line) {
  while (!line.empty() && (blank(line.back()) || line.back() == '\r')) line.remove_suffix(1);
  size_t i = line.size();
  while (i > 0 && (line[i - 1] == '-' || line[i - 1] == '+' || (line[i - 1] >= '0' && line[i - 1] <= '9'))) --i;
  if (i == 0 || (line[i - 1] != '|' && line[i - 1] != '>')) return false;
  return i == 1 || blank(line[i - 2]);
}

}  // namespace

void check_yaml_text(const std::string& text, const std::string& file) {
  int line_number = 0;
  int flow_depth = 0;
  char quote = 0;         // the open quoted scalar's quote character, or 0
  int block_scalar = -1;  // the indentation of the line that opened a block scalar, or -1
  size_t begin = 0;
  while (true) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + begin, end - begin);
    ++line_number;
    for (unsigned char c : line)
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
        fail(file, ":", line_number, ": control character 0x", std::hex, static_cast<int>(c), std::dec,
             " in the recipe; YAML allows only tab and line breaks");

    const bool content_line = line.find_first_not_of(" \t\r") != std::string_view::npos;
    if (block_scalar >= 0 && (!content_line || indent_of(line) > block_scalar)) {
      begin = end + 1;
      if (end == text.size()) break;
      continue;  // a line of a block scalar's text
    }
    block_scalar = -1;
    // A directive ("%YAML 1.2", "%anything ..."): yaml-cpp reads the line as one, so its brackets
    // open no flow collection (counting them let a ',' on a later line through to LoadAll, which
    // then never returns).
    if (flow_depth == 0 && !quote && !line.empty() && line[0] == '%') {
      if (end == text.size()) break;
      begin = end + 1;
      continue;
    }

    std::string_view code = line;  // the line without its comment
    bool line_start = true;        // nothing but blanks before this character on the line
    bool after_closed = false;     // the last non-blank character closed a quoted scalar or [ ] / { }
    std::string_view word;         // the last whitespace-delimited word before this character
    size_t word_begin = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quote) {
        if (c == '\\' && quote == '"') ++i;
        else if (c == '\'' && quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'') ++i;
        else if (c == quote) quote = 0, after_closed = true;
        continue;
      }
      if (blank(c) || c == '\r') {
        if (i > word_begin) word = line.substr(word_begin, i - word_begin);
        word_begin = i + 1;
        continue;
      }
      const bool token_start = i == 0 || blank(line[i - 1]) || std::string_view("[{,").find(line[i - 1]) != std::string_view::npos;
      if (c == '#' && (i == 0 || blank(line[i - 1]))) {
        code = line.substr(0, i);
        break;
      }
      if (c == ',' && flow_depth == 0) {
        const bool after_marker = i > 0 && blank(line[i - 1]) && !word.empty() &&
                                  (word[0] == '&' || word[0] == '!' || word[0] == '*' || word == "---" || word == "...");
        if (line_start || after_closed || after_marker)
          fail(file, ":", line_number, ": a ',' where a value should start, outside [ ] or { }; YAML does not "
               "allow it there (quote the value, or put the list in brackets)");
      }
      line_start = false;
      after_closed = false;
      if ((c == '"' || c == '\'') && token_start) quote = c;
      else if ((c == '[' || c == '{') && (token_start || flow_depth > 0)) ++flow_depth;
      else if ((c == ']' || c == '}') && flow_depth > 0) --flow_depth, after_closed = true;
    }
    if (!quote && flow_depth == 0 && opens_block_scalar(code)) block_scalar = indent_of(line);
    if (end == text.size()) break;
    begin = end + 1;
  }
}

}  // namespace alloy
