#include <cstdio>
#include <exception>

int alloy_main(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return alloy_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alloy: error: %s\n", e.what());
    return 1;
  }
}
