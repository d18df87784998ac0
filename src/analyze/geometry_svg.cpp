#include "analyze/geometry_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "analyze/geometry_report.h"

namespace alloy {
namespace {

constexpr int kCellWidth = 64, kCellHeight = 22;
constexpr int kMargin = 16, kRowLabelWidth = 48, kTitleHeight = 44, kHeaderHeight = 20;
constexpr int kLegendGap = 24, kLegendWidth = 16, kLegendLabelWidth = 40, kLegendMinHeight = 132;
constexpr int kKeyLineHeight = 16;

struct Rgb {
  double r, g, b;
};
constexpr Rgb kNegative{33, 102, 172}, kZero{247, 247, 247}, kPositive{178, 24, 43};
constexpr const char* kMissing = "#bdbdbd";

std::string hex(const Rgb& c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(std::lround(c.r)), static_cast<int>(std::lround(c.g)),
                static_cast<int>(std::lround(c.b)));
  return buf;
}

// Diverging scale: white at 0, towards red for +1 and blue for −1, linear in each half.
std::string cosine_colour(double c) {
  const double t = std::clamp(std::fabs(c), 0.0, 1.0);
  const Rgb& end = c >= 0 ? kPositive : kNegative;
  return hex({kZero.r + t * (end.r - kZero.r), kZero.g + t * (end.g - kZero.g), kZero.b + t * (end.b - kZero.b)});
}

std::string num(const char* spec, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

std::string text_at(double x, double y, const std::string& text, const std::string& extra = "") {
  return "<text x=\"" + num("%.1f", x) + "\" y=\"" + num("%.1f", y) + "\"" + extra + ">" + xml_escape(text) +
         "</text>\n";
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string geometry_svg(const GeometryReport& r) {
  const int models = static_cast<int>(r.models.size());
  const auto pairs = model_pairs(models);
  const auto names = short_model_names(r.models);
  const int columns = static_cast<int>(pairs.size()), rows = static_cast<int>(r.layers.size());
  const int grid_x = kMargin + kRowLabelWidth, grid_y = kTitleHeight + kHeaderHeight;
  const int grid_w = std::max(columns, 1) * kCellWidth, grid_h = rows * kCellHeight;
  const int legend_x = grid_x + grid_w + kLegendGap, legend_h = std::max(grid_h, kLegendMinHeight);
  const int key_y = grid_y + std::max(grid_h, legend_h + 28) + 24;
  // Text is not measured; about 6.5 px per character of the 11 px sans-serif keeps lines inside.
  size_t longest = r.base.size() + 6;
  for (const auto& m : r.models) longest = std::max(longest, m.size() + 4);
  const int width = std::max({legend_x + kLegendWidth + kLegendLabelWidth + kMargin, 540,
                              2 * kMargin + static_cast<int>(6.5 * static_cast<double>(longest))});
  const int height = key_y + (models + 1) * kKeyLineHeight + kMargin;

  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s += "<title>" + xml_escape("cosine between task vectors by layer, against " + r.base) + "</title>\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  s += text_at(kMargin, 20, "Cosine between task vectors (model − base), by layer", " font-size=\"14\" font-weight=\"bold\"");
  s += text_at(kMargin, 36, "base: " + r.base, " fill=\"#555555\"");

  // Column headers: the pair's letters; the key below names each letter.
  for (int p = 0; p < columns; ++p)
    s += text_at(grid_x + (p + 0.5) * kCellWidth, grid_y - 6,
                 model_letter(pairs[p].first) + "·" + model_letter(pairs[p].second),
                 " text-anchor=\"middle\" font-weight=\"bold\"");
  s += "<g class=\"cells\">\n";
  for (int row = 0; row < rows; ++row) {
    const GroupGeometry& g = r.layers[row];
    const double y = grid_y + row * kCellHeight;
    const std::string layer = g.label == "pre" || g.label == "post" ? g.label : "layer " + g.label;
    s += text_at(grid_x - 6, y + kCellHeight / 2.0 + 4, layer, " text-anchor=\"end\"");
    const auto cos = cosines(g.sums);
    const auto conflicts = pair_conflicts(g.sums);
    for (int p = 0; p < columns; ++p) {
      const double x = grid_x + p * kCellWidth;
      const std::string fill = cos[p] ? cosine_colour(*cos[p]) : kMissing;
      const std::string value = cos[p] ? num("%+.2f", *cos[p]) : "n/a";
      const std::string tip = layer + ", " + names[pairs[p].first] + " · " + names[pairs[p].second] + ": cosine " +
                              value + ", sign conflict " +
                              (conflicts[p] ? num("%.1f%%", 100 * *conflicts[p]) : std::string("n/a"));
      s += "<rect class=\"cell\" x=\"" + num("%.1f", x) + "\" y=\"" + num("%.1f", y) + "\" width=\"" +
           std::to_string(kCellWidth) + "\" height=\"" + std::to_string(kCellHeight) + "\" fill=\"" + fill +
           "\" stroke=\"#ffffff\"><title>" + xml_escape(tip) + "</title></rect>\n";
      const bool dark = cos[p] && std::fabs(*cos[p]) > 0.6;
      s += text_at(x + kCellWidth / 2.0, y + kCellHeight / 2.0 + 4, value,
                   std::string(" text-anchor=\"middle\" pointer-events=\"none\" fill=\"") + (dark ? "#ffffff" : "#000000") +
                       "\"");
    }
  }
  s += "</g>\n";
  if (columns == 0) s += text_at(grid_x, grid_y + 14, "one model: no pairs to compare");

  // Legend: +1 at the top, −1 at the bottom, then the n/a swatch.
  s += "<defs><linearGradient id=\"cosine-scale\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
       "<stop offset=\"0\" stop-color=\"" + hex(kPositive) + "\"/><stop offset=\"0.5\" stop-color=\"" + hex(kZero) +
       "\"/><stop offset=\"1\" stop-color=\"" + hex(kNegative) + "\"/></linearGradient></defs>\n";
  s += text_at(legend_x, grid_y - 6, "cosine", " font-weight=\"bold\"");
  s += "<rect x=\"" + std::to_string(legend_x) + "\" y=\"" + std::to_string(grid_y) + "\" width=\"" +
       std::to_string(kLegendWidth) + "\" height=\"" + std::to_string(legend_h) +
       "\" fill=\"url(#cosine-scale)\" stroke=\"#999999\"/>\n";
  for (int tick = 0; tick < 5; ++tick) {
    const double value = 1.0 - tick * 0.5;
    s += text_at(legend_x + kLegendWidth + 4, grid_y + tick * legend_h / 4.0 + 4, num("%+.1f", value));
  }
  const int na_y = grid_y + legend_h + 10;
  s += "<rect x=\"" + std::to_string(legend_x) + "\" y=\"" + std::to_string(na_y) + "\" width=\"" +
       std::to_string(kLegendWidth) + "\" height=\"12\" fill=\"" + kMissing + "\"/>\n";
  s += text_at(legend_x + kLegendWidth + 4, na_y + 10, "n/a");

  // Key: the letters, and what the pre/post rows hold.
  int line = 0;
  for (int m = 0; m < models; ++m)
    s += text_at(kMargin, key_y + kKeyLineHeight * line++, model_letter(m) + " = " + r.models[m]);
  s += text_at(kMargin, key_y + kKeyLineHeight * line,
               "pre/post: weights before the first layer / after the last; n/a: a task vector is zero there",
               " fill=\"#555555\"");
  s += "</svg>\n";
  return s;
}

}  // namespace alloy
