# Writes OUT, a header defining ALLOY_BUILD_COMMIT as `git describe --always --dirty` of SRC (or
# "unknown"), only when that changes, so the targets that include it rebuild only then. Run at
# every build (see CMakeLists.txt): the bench records the commit its binary was built from.
execute_process(COMMAND git -C "${SRC}" describe --always --dirty
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "#define ALLOY_BUILD_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
