// Every parameter a recipe names must be one its merge method acts on: a misspelt or misplaced
// parameter is refused with the recipe line, never merged as if it were absent.
#pragma once
#include "methods/method.h"
#include "recipe/recipe.h"

namespace alloy {

// Per-model parameters may appear anywhere (at the top level and in slices they are defaults for
// every model); global ones only at the top level and in slices, where they are resolved.
// Throws Error "<file>:<line>: parameter '<name>' ..." naming what the method accepts.
void check_parameter_names(const Recipe& recipe, const MethodSpec& method);

}  // namespace alloy
