// EnvMap: a snapshot of environment variables. Parsers take one so tests can pass their own;
// only the public edges (init, cohortrun) read the real environment, through ProcessEnvironment().
#pragma once

#include <map>
#include <optional>
#include <string>

namespace cohort {

using EnvMap = std::map<std::string, std::string>;

EnvMap ProcessEnvironment();
std::optional<std::string> Lookup(const EnvMap& env, const std::string& name);

}  // namespace cohort
