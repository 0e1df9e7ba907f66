// What every fuzz target shares: FUZZ_CHECK, which stops the run when a property of the code
// under test does not hold (libFuzzer records the input like any other crash), and FuzzInput
// (clang's FuzzedDataProvider), which splits the fuzzer's bytes into the values a target needs.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>

using FuzzInput = FuzzedDataProvider;

// FUZZ_CHECK(cond, "printf format", args...): not assert(), so that it holds under NDEBUG too.
#define FUZZ_CHECK(cond, ...)                                                          \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                               \
      std::fprintf(stderr, "\n");                                                      \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
