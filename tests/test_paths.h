// Where the tests find the checkout, the test data, the alloy binary and the fault-injection shim.
// Defined in a file CMake generates (build/generated/test_paths.cpp) and included into every test
// file by the build, so that no compile command names the checkout.
#pragma once

namespace alloy::testing {
const char* source_dir();
const char* shared_dir();
const char* alloy_binary();
const char* faultfs_library();
}  // namespace alloy::testing

#define ALLOY_SOURCE_DIR (::alloy::testing::source_dir())
#define ALLOY_SHARED_DIR (::alloy::testing::shared_dir())
#define ALLOY_BINARY (::alloy::testing::alloy_binary())
#define ALLOY_FAULTFS (::alloy::testing::faultfs_library())
