// The heatmap of `alloy analyze --svg`: one cell per (layer row, model pair) coloured by the
// cosine of the two task vectors on that layer (blue −1, white 0, red +1, grey n/a), with row and
// column labels, a key naming the models, a colour legend, and each cell's numbers in a tooltip.
// Self-contained SVG 1.1: no scripts, stylesheets, fonts or links outside the file.
#pragma once
#include <string>

#include "analyze/analyze_models.h"

namespace alloy {

std::string geometry_svg(const GeometryReport& report);

// `text` with &, <, >, " and ' written as XML character entities.
std::string xml_escape(const std::string& text);

}  // namespace alloy
