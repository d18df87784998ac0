// A small XML well-formedness check for the SVG the tests read: one root element, every start tag
// closed in order, attributes quoted, '<' never in text or attribute values, '&' only as the five
// predefined entities or a character reference. Returns "" when well formed, else the first problem.
#pragma once
#include <cctype>
#include <string>
#include <vector>

namespace alloy::testing {

inline std::string xml_problem(const std::string& s) {
  auto entity_ok = [&](size_t at) {
    size_t semi = s.find(';', at);
    if (semi == std::string::npos) return false;
    std::string name = s.substr(at + 1, semi - at - 1);
    if (name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos") return true;
    if (name.size() > 1 && name[0] == '#') {
      for (size_t i = name[1] == 'x' ? 2 : 1; i < name.size(); ++i)
        if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
      return true;
    }
    return false;
  };
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.'; };
  std::vector<std::string> open;
  bool had_root = false;
  size_t i = 0;
  if (s.compare(0, 5, "<?xml") == 0) {
    i = s.find("?>");
    if (i == std::string::npos) return "unterminated XML declaration";
    i += 2;
  }
  while (i < s.size()) {
    if (s[i] == '&') {
      if (!entity_ok(i)) return "bad '&' in text at " + std::to_string(i);
      ++i;
    } else if (s[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(s[i]))) return "text outside the root at " + std::to_string(i);
      ++i;
    } else if (s.compare(i, 2, "</") == 0) {
      size_t end = s.find('>', i);
      if (end == std::string::npos) return "unterminated end tag";
      std::string name = s.substr(i + 2, end - i - 2);
      if (open.empty() || open.back() != name) return "end tag </" + name + "> does not close <" + (open.empty() ? "" : open.back()) + ">";
      open.pop_back();
      i = end + 1;
    } else {
      size_t j = i + 1;
      while (j < s.size() && is_name(s[j])) ++j;
      std::string name = s.substr(i + 1, j - i - 1);
      if (name.empty()) return "'<' not starting a tag at " + std::to_string(i);
      if (open.empty() && had_root) return "second root element <" + name + ">";
      while (true) {
        while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j >= s.size()) return "unterminated tag <" + name + ">";
        if (s[j] == '>' || s.compare(j, 2, "/>") == 0) break;
        size_t a = j;
        while (j < s.size() && is_name(s[j])) ++j;
        if (a == j || j + 1 >= s.size() || s[j] != '=' || (s[j + 1] != '"' && s[j + 1] != '\''))
          return "bad attribute in <" + name + "> at " + std::to_string(a);
        const char quote = s[j + 1];
        size_t close = s.find(quote, j + 2);
        if (close == std::string::npos) return "unterminated attribute in <" + name + ">";
        for (size_t k = j + 2; k < close; ++k) {
          if (s[k] == '<') return "'<' in an attribute of <" + name + ">";
          if (s[k] == '&' && !entity_ok(k)) return "bad '&' in an attribute of <" + name + ">";
        }
        j = close + 1;
      }
      had_root = true;
      if (s[j] == '>') {
        open.push_back(name);
        i = j + 1;
      } else {
        i = j + 2;
      }
    }
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  if (!had_root) return "no root element";
  return "";
}

// How many times `needle` occurs in `text`.
inline size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace alloy::testing
