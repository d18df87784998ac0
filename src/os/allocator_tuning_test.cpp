#include "os/allocator_tuning.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// GCC says __SANITIZE_ADDRESS__ under -fsanitize=address; clang answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define ALLOY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOY_ASAN 1
#endif
#endif

namespace alloy {
namespace ALLOY_TEST_FILE_NAMESPACE {

TEST(AllocatorTuning, FreedScratchStaysInTheHeapForTheNextTensor) {
#if !defined(__GLIBC__) || defined(ALLOY_ASAN)
  GTEST_SKIP() << "glibc's allocator only (the sanitizers replace it)";
#else
  // glibc's defaults would map 16 MiB on its own and unmap it on free (or trim it off the heap):
  // the next tensor's scratch would fault fresh pages again.
  keep_freed_memory_for_reuse();
  keep_freed_memory_for_reuse();  // idempotent
  const size_t size = size_t{16} << 20;
  const struct mallinfo2 before = mallinfo2();
  void* scratch = std::malloc(size);
  ASSERT_NE(scratch, nullptr);
  std::memset(scratch, 1, size);
  const struct mallinfo2 during = mallinfo2();
  EXPECT_LT(during.hblkhd, before.hblkhd + size) << "16 MiB was mapped on its own";
  std::free(scratch);
  const struct mallinfo2 after = mallinfo2();
  EXPECT_GE(after.fordblks, size) << "the freed 16 MiB went back to the system";
  void* again = std::malloc(size);  // the next tensor's scratch: the same heap memory
  EXPECT_EQ(again, scratch);
  std::free(again);
#endif
}

}  // namespace
}  // namespace alloy
