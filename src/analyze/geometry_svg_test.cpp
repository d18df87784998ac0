// Tests of the heatmap: well-formed XML (checked here and by xmllint where installed), one cell
// per (layer row, model pair) with the cosine's colour, grey n/a cells, escaped labels, nothing
// that reaches outside the file.
#include "analyze/geometry_svg.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "../../tests/test_support.h"
#include "../../tests/xml_check.h"

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

using testing::count_of;

GroupGeometry row(const std::string& label, std::vector<double> squares, std::vector<double> dots) {
  GroupGeometry g{label, 1, GeometrySums(static_cast<int>(squares.size()))};
  g.sums.squares = std::move(squares);
  g.sums.dots = std::move(dots);
  return g;
}

GeometryReport three_model_report() {
  GeometryReport r;
  r.base = "models/base & <co>";
  r.models = {"models/a", "other/a", "models/\"c\""};
  r.layers = {row("pre", {0, 0, 0}, {0, 0, 0}), row("0", {1, 1, 1}, {1, -1, 0}), row("1", {1, 4, 1}, {1, 0.5, -0.5}),
              row("post", {1, 1, 1}, {0.25, 0.25, 0.25})};
  r.whole = row("model", {1, 1, 1}, {0, 0, 0});
  return r;
}

TEST(GeometrySvg, OneCellPerLayerAndPairWithTheCosineColour) {
  const std::string svg = geometry_svg(three_model_report());
  EXPECT_EQ(testing::xml_problem(svg), "");
  EXPECT_EQ(count_of(svg, "<rect class=\"cell\""), 4u * 3u);
  // Layer 0: cos +1 (red end), -1 (blue end), 0 (white); the pre row is n/a (grey).
  // Short names fall back to the whole path where two models share a last component.
  EXPECT_NE(svg.find("fill=\"#b2182b\" stroke=\"#ffffff\"><title>layer 0, models/a · other/a: cosine +1.00"),
            std::string::npos);
  EXPECT_NE(svg.find("fill=\"#2166ac\" stroke=\"#ffffff\"><title>layer 0, models/a · &quot;c&quot;: cosine -1.00"),
            std::string::npos);
  EXPECT_NE(svg.find("fill=\"#f7f7f7\" stroke=\"#ffffff\"><title>layer 0, other/a · &quot;c&quot;: cosine +0.00"),
            std::string::npos);
  EXPECT_EQ(count_of(svg, "fill=\"#bdbdbd\" stroke=\"#ffffff\"><title>pre"), 3u);
  EXPECT_NE(svg.find("base: models/base &amp; &lt;co&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("href"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<style"), std::string::npos);
}

TEST(GeometrySvg, XmllintAcceptsIt) {
  if (std::system("command -v xmllint > /dev/null 2>&1") != 0) GTEST_SKIP() << "xmllint not installed";
  testing::TempDir dir;
  testing::write_file(dir / "map.svg", geometry_svg(three_model_report()));
  EXPECT_EQ(std::system(("xmllint --noout '" + (dir / "map.svg").string() + "'").c_str()), 0);
}

TEST(GeometrySvg, OneModelHasNoCells) {
  GeometryReport r;
  r.base = "b";
  r.models = {"m"};
  r.layers = {row("0", {1}, {})};
  r.whole = row("model", {1}, {});
  const std::string svg = geometry_svg(r);
  EXPECT_EQ(testing::xml_problem(svg), "");
  EXPECT_EQ(count_of(svg, "<rect class=\"cell\""), 0u);
  EXPECT_NE(svg.find("no pairs to compare"), std::string::npos);
}

TEST(XmlCheck, CatchesWhatItShould) {
  EXPECT_EQ(testing::xml_problem("<a><b x=\"1\"/>t &amp; u</a>"), "");
  EXPECT_NE(testing::xml_problem("<a><b></a></b>"), "");
  EXPECT_NE(testing::xml_problem("<a x=1/>"), "");
  EXPECT_NE(testing::xml_problem("<a>&</a>"), "");
  EXPECT_NE(testing::xml_problem("<a/><b/>"), "");
  EXPECT_NE(testing::xml_problem("<a>"), "");
}

}  // namespace
}  // namespace alloy
