#include <cstdio>
int alloy_main(int, char**) { std::puts("alloy"); return 0; }
