// Moved to test_support.h; this name stays until the tests that still include it move too.
#pragma once
#include "test_support.h"
