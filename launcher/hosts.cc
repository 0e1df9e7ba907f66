// Host lists, hostfiles and rank placement (see hosts.h).
#include "launcher/hosts.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cohort::launcher {
namespace {

// The most slots a host may have, and the most ranks one rank per slot may start (cohortrun's
// -np limit).
constexpr int kMaxSlots = 1'000'000;

// A slot count of 1..kMaxSlots from `text`; anything else fails.
bool ParseSlots(const std::string& text, int* slots) {
  if (text.empty() || text.size() > 7) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  long n = std::strtol(text.c_str(), nullptr, 10);
  if (n < 1 || n > kMaxSlots) return false;
  *slots = static_cast<int>(n);
  return true;
}

// Host names and addresses: letters, digits and "-._"; no spaces, '=' or ':' (an IPv6 literal
// would be ambiguous with host:N, so it is refused rather than misread).
bool ValidHost(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Adds `entry` to `hosts`, merging a repeated host's slots; false when that makes more than
// kMaxSlots (a sum that used to overflow int; found by tests/fuzz).
bool Add(std::vector<HostSlots>* hosts, HostSlots entry) {
  for (HostSlots& h : *hosts) {
    if (h.host == entry.host) {
      if (h.slots > kMaxSlots - entry.slots) return false;
      h.slots += entry.slots;
      return true;
    }
  }
  hosts->push_back(std::move(entry));
  return true;
}

std::string TooManySlots(const std::string& host) {
  return "host " + host + " is given more than " + std::to_string(kMaxSlots) + " slots in all";
}

// "host" or "host:N" into `out`; false when malformed.
bool ParseHostColon(const std::string& text, HostSlots* out) {
  size_t colon = text.find(':');
  out->host = text.substr(0, colon);
  out->slots = 1;
  if (!ValidHost(out->host)) return false;
  return colon == std::string::npos || ParseSlots(text.substr(colon + 1), &out->slots);
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<std::vector<HostSlots>> ParseHostList(const std::string& text) {
  std::vector<HostSlots> hosts;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    const std::string entry = text.substr(begin, end - begin);
    HostSlots h;
    if (!ParseHostColon(entry, &h)) {
      return InvalidArgumentError("-H: '" + entry + "' in '" + text +
                                  "' is not host or host:slots (slots a number from 1); "
                                  "example: -H node1:4,node2:4");
    }
    const std::string host = h.host;
    if (!Add(&hosts, std::move(h))) return InvalidArgumentError("-H: " + TooManySlots(host));
    begin = end + 1;
  }
  return hosts;
}

Result<std::vector<HostSlots>> ParseHostfile(const std::string& contents,
                                             const std::string& source) {
  std::vector<HostSlots> hosts;
  std::istringstream in(contents);
  std::string raw;
  int line_number = 0;
  while (std::getline(in, raw)) {
    ++line_number;
    std::string line = Trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return InvalidArgumentError(source + ":" + std::to_string(line_number) + ": " + why +
                                  " in '" + Trim(raw) + "'; expected 'host slots=N' (Open MPI) or "
                                  "'host:N' (Horovod)");
    };
    std::istringstream words(line);
    std::string first;
    words >> first;
    HostSlots h;
    if (!ParseHostColon(first, &h)) return bad("bad host or slot count '" + first + "'");
    bool colon_form = first.find(':') != std::string::npos;
    std::string word;
    while (words >> word) {
      std::string key = word, value;
      size_t eq = word.find('=');
      if (eq != std::string::npos) {
        key = word.substr(0, eq);
        value = word.substr(eq + 1);
      } else if (!(words >> value)) {
        return bad("'" + word + "' has no value");
      }
      if (key == "slots") {
        if (colon_form) return bad("slots given twice");
        if (!ParseSlots(value, &h.slots)) {
          return bad("slots must be a number from 1, got '" + value + "'");
        }
      } else if (key == "max_slots" || key == "max-slots") {
        int ignored;  // Open MPI's hard limit; cohort's limit is slots plus --oversubscribe.
        if (!ParseSlots(value, &ignored)) {
          return bad("max_slots must be a number from 1, got '" + value + "'");
        }
      } else {
        return bad("unknown field '" + key + "'");
      }
    }
    const std::string host = h.host;
    if (!Add(&hosts, std::move(h))) {
      return InvalidArgumentError(source + ":" + std::to_string(line_number) + ": " +
                                  TooManySlots(host));
    }
  }
  if (hosts.empty()) {
    return InvalidArgumentError(source + ": no hosts in the hostfile (only comments or blank "
                                "lines)");
  }
  return hosts;
}

Result<std::vector<HostSlots>> ReadHostfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgumentError("--hostfile " + path + ": cannot read the file");
  std::stringstream contents;
  contents << in.rdbuf();
  return ParseHostfile(contents.str(), path);
}

Result<std::vector<HostPlacement>> PlaceRanks(const std::vector<HostSlots>& hosts, int np,
                                              bool oversubscribe) {
  if (hosts.empty()) return InvalidArgumentError("no hosts to place ranks on");
  long total = 0;
  for (const HostSlots& h : hosts) total += h.slots;
  if (np == 0) {
    if (total > kMaxSlots) {
      return InvalidArgumentError("the hosts have " + std::to_string(total) + " slots, more "
                                  "ranks than one job may start (" + std::to_string(kMaxSlots) +
                                  "); give -np");
    }
    np = static_cast<int>(total);
  }
  if (np > total && !oversubscribe) {
    return InvalidArgumentError("-np " + std::to_string(np) + " ranks but the hosts have only " +
                                std::to_string(total) + " slots; add slots (-H host:N, hostfile "
                                "slots=N) or pass --oversubscribe");
  }
  std::vector<int> counts(hosts.size(), 0);
  int left = np;
  for (size_t i = 0; i < hosts.size() && left > 0; ++i) {
    counts[i] = std::min(hosts[i].slots, left);
    left -= counts[i];
  }
  for (size_t i = 0; left > 0; i = (i + 1) % hosts.size(), --left) ++counts[i];
  std::vector<HostPlacement> placement;
  int next = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (counts[i] == 0) continue;
    placement.push_back({hosts[i].host, static_cast<int>(placement.size()), next, counts[i]});
    next += counts[i];
  }
  return placement;
}

}  // namespace cohort::launcher
