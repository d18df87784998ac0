#include "recipe/yaml_documents.h"

#include <optional>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "recipe/yaml_text_check.h"
#include "util/error.h"

namespace alloy {
namespace {

// Records where each document starts; the parse itself is yaml-cpp's.
class DocumentStarts : public YAML::EventHandler {
 public:
  YAML::Mark start;
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

[[noreturn]] void fail_syntax(const std::string& file, const YAML::Mark& mark, const std::string& message) {
  if (mark.line >= 0) fail(file, ":", mark.line + 1, ": YAML syntax error: ", message);
  fail(file, ": YAML syntax error: ", message);
}

// Every document consumes at least one token, so one that starts where the one before it started
// is yaml-cpp stuck on a token it can neither read nor refuse.
void check_documents_advance(const std::string& text, const std::string& file) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  std::optional<int> previous_start;
  try {
    while (parser.HandleNextDocument(starts)) {
      const YAML::Mark& mark = starts.start;
      if (previous_start == mark.pos) {
        const char c = mark.pos >= 0 && mark.pos < static_cast<int>(text.size()) ? text[mark.pos] : ' ';
        fail_syntax(file, mark, cat("'", std::string(1, c), "' at column ", mark.column + 1,
                                    " cannot start a value here (quote the value, or put a list in [ ])"));
      }
      previous_start = mark.pos;
    }
  } catch (const YAML::Exception& e) {
    fail_syntax(file, e.mark, e.msg);
  }
}

}  // namespace

std::vector<YAML::Node> load_yaml_documents(const std::string& text, const std::string& file) {
  check_yaml_text(text, file);
  check_documents_advance(text, file);
  try {
    return YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    fail_syntax(file, e.mark, e.msg);
  }
}

}  // namespace alloy
