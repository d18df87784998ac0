// ggml-quants.c calls these from code the checks never run; the checks link it without the rest of
// ggml, so these stand in for them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
extern "C" {
void ggml_abort(const char*, int, const char*, ...) { abort(); }
size_t ggml_row_size(int, int64_t) { abort(); }
const char* ggml_type_name(int) { abort(); }
size_t ggml_type_size(int) { abort(); }
}
