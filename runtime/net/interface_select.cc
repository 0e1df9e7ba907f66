// SelectInterfaceAddress: COHORT_SOCKET_IFNAME's names, prefixes, exclusions and subnets
// (interface_select.h).
#include "runtime/net/interface_select.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstdlib>
#include <optional>

namespace cohort {

namespace {

constexpr char kForms[] =
    "use a name (eth0), prefixes (eth,ib), '=' for exact names (=eth0), '^' to exclude "
    "(^docker,lo) or an IPv4 subnet (10.0.0.0/16)";

std::optional<uint32_t> ParseIpv4(const std::string& text) {
  in_addr addr{};
  if (::inet_pton(AF_INET, text.c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

// One comma-separated item: a name (prefix) or a subnet.
struct Item {
  std::string name;
  bool is_subnet = false;
  uint32_t network = 0;
  uint32_t mask = 0;
};

Result<Item> ParseItem(const std::string& text) {
  Item item;
  const size_t slash = text.find('/');
  if (slash == std::string::npos) {
    item.name = text;
    return item;
  }
  const std::string address = text.substr(0, slash);
  const std::string length = text.substr(slash + 1);
  char* end = nullptr;
  const long bits = std::strtol(length.c_str(), &end, 10);
  const std::optional<uint32_t> ip = ParseIpv4(address);
  if (!ip || length.empty() || *end != '\0' || bits < 0 || bits > 32) {
    return InvalidArgumentError("malformed subnet '" + text +
                                "' in COHORT_SOCKET_IFNAME: expected an IPv4 address, '/' and a "
                                "prefix length from 0 to 32, such as 10.231.0.0/16");
  }
  item.is_subnet = true;
  item.mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  item.network = *ip & item.mask;  // host bits given by mistake (10.231.4.7/16) are ignored
  return item;
}

bool Matches(const Item& item, bool exact, const std::string& name, const std::string& address) {
  if (item.is_subnet) {
    const std::optional<uint32_t> ip = ParseIpv4(address);
    return ip && (*ip & item.mask) == item.network;
  }
  return exact ? name == item.name : name.rfind(item.name, 0) == 0;
}

bool IsLoopback(const std::string& name, const std::string& address) {
  return name == "lo" || address.rfind("127.", 0) == 0;
}

std::string ListText(const InterfaceList& interfaces) {
  std::string text;
  for (const auto& [name, address] : interfaces) {
    text += (text.empty() ? "" : ", ") + name + " (" + address + ")";
  }
  return text.empty() ? "none" : text;
}

}  // namespace

Result<std::string> SelectInterfaceAddress(const std::string& spec, const InterfaceList& interfaces) {
  if (spec.empty()) {
    for (const auto& [name, address] : interfaces) {
      if (!IsLoopback(name, address)) return address;
    }
    return std::string("127.0.0.1");
  }
  std::string rest = spec;
  const bool exclude = rest.front() == '^';
  if (exclude) rest.erase(0, 1);
  const bool exact = !rest.empty() && rest.front() == '=';
  if (exact) rest.erase(0, 1);
  std::vector<Item> items;
  for (size_t start = 0; start <= rest.size();) {
    size_t comma = rest.find(',', start);
    if (comma == std::string::npos) comma = rest.size();
    if (comma > start) {
      COHORT_ASSIGN_OR_RETURN(Item item, ParseItem(rest.substr(start, comma - start)));
      items.push_back(std::move(item));
    }
    start = comma + 1;
  }
  if (items.empty()) {
    return InvalidArgumentError("COHORT_SOCKET_IFNAME='" + spec + "' names no interface; " + kForms);
  }

  // Best match: an exact name from an include list, then any non-loopback match, then loopback.
  const std::string* best = nullptr;
  int best_rank = 3;
  for (const auto& [name, address] : interfaces) {
    bool hit = false;
    bool exact_name = false;
    for (const Item& item : items) {
      if (Matches(item, exact, name, address)) {
        hit = true;
        exact_name = exact_name || (!item.is_subnet && name == item.name);
      }
    }
    if (hit == exclude) continue;
    const int rank = (!exclude && exact_name) ? 0 : IsLoopback(name, address) ? 2 : 1;
    if (rank < best_rank) {
      best_rank = rank;
      best = &address;
    }
  }
  if (best != nullptr) return *best;
  return InvalidArgumentError("no network interface matches COHORT_SOCKET_IFNAME='" + spec +
                              "' (or does it lack an IPv4 address?); interfaces that are up: " +
                              ListText(interfaces) + "; " + kForms);
}

}  // namespace cohort
