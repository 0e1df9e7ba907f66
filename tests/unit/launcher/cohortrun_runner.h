// The launcher's process-level test helpers: run the real cohortrun binary with a /bin/sh script
// as every rank and capture its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#ifndef COHORTRUN_PATH
#define COHORTRUN_PATH "cohortrun"
#endif

namespace cohort::testing {

struct Outcome {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Quotes for /bin/sh: 'it'\''s'.
inline std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `cohortrun <args> sh -c <script>` and captures its exit code, stdout and stderr.
inline Outcome RunCohortrun(const std::string& args, const std::string& script) {
  std::string base = ::testing::TempDir() + "cohortrun_test_" + std::to_string(getpid());
  std::string cmd = std::string(COHORTRUN_PATH) + " " + args +
                    (script.empty() ? "" : " sh -c " + Quote(script)) + " >" + base + ".out 2>" +
                    base + ".err";
  auto start = std::chrono::steady_clock::now();
  int status = std::system(cmd.c_str());
  Outcome o;
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = ReadFile(base + ".out");
  o.err = ReadFile(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return o;
}

inline bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace cohort::testing
