#include "runtime/ps/placement.h"

#include <algorithm>
#include <numeric>

namespace cohort::ps {

uint64_t KeySpec::count() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "x" : "") + std::to_string(shape[i]);
  return out;
}

std::string DescribeKey(const KeySpec& key) {
  return "'" + key.name + "' (" + ShapeText(key.shape) + " " +
         std::string(DataTypeName(key.dtype)) + ")";
}

Status ValidateKeySpec(const KeySpec& key) {
  if (key.name.empty() || key.name.size() > 1024) {
    return InvalidArgumentError("a key name must have 1 to 1024 bytes, got " +
                                std::to_string(key.name.size()));
  }
  if (key.name.find('\0') != std::string::npos || key.name.find('\n') != std::string::npos) {
    return InvalidArgumentError("key name '" + key.name + "' contains a NUL or newline byte");
  }
  if (key.dtype != DataType::kF32 && key.dtype != DataType::kF16 && key.dtype != DataType::kBF16) {
    return InvalidArgumentError("key '" + key.name + "' has dtype " +
                                std::string(DataTypeName(key.dtype)) +
                                "; the parameter store holds f32, f16 and bf16 tensors");
  }
  if (key.shape.size() > 16) {
    return InvalidArgumentError("key '" + key.name + "' has " + std::to_string(key.shape.size()) +
                                " dimensions; at most 16 are supported");
  }
  unsigned __int128 n = 1;
  for (int64_t d : key.shape) {
    if (d < 0) {
      return InvalidArgumentError("key '" + key.name + "' has a negative dimension in shape " +
                                  ShapeText(key.shape));
    }
    n *= static_cast<uint64_t>(d);
    if (n > (uint64_t{1} << 40)) {
      return InvalidArgumentError("key '" + key.name + "' of shape " + ShapeText(key.shape) +
                                  " has more than 2^40 elements");
    }
  }
  return Status::Ok();
}

namespace {

// Bytes of the batch each server takes: water-filling over the current loads, summing to `total`.
std::vector<uint64_t> Capacities(const std::vector<uint64_t>& loads, uint64_t total) {
  const size_t n = loads.size();
  std::vector<uint64_t> sorted = loads;
  std::sort(sorted.begin(), sorted.end());
  // The water level W with sum(max(0, W - load)) == total: fill the lowest servers first.
  long double level = static_cast<long double>(sorted[0]) + static_cast<long double>(total);
  long double below = 0;  // sum of the loads of the servers under the level so far
  for (size_t k = 1; k <= n; ++k) {
    below += static_cast<long double>(sorted[k - 1]);
    const long double candidate = (below + static_cast<long double>(total)) / static_cast<long double>(k);
    if (k == n || candidate <= static_cast<long double>(sorted[k])) {
      level = candidate;
      break;
    }
  }
  std::vector<uint64_t> capacity(n, 0);
  uint64_t assigned = 0;
  for (size_t s = 0; s < n; ++s) {
    const long double want = level - static_cast<long double>(loads[s]);
    capacity[s] = want > 0 ? static_cast<uint64_t>(want) : 0;
    assigned += capacity[s];
  }
  // Rounding leaves a few bytes: they go to the servers below the level, in index order.
  for (size_t s = 0; assigned < total; s = (s + 1) % n) {
    if (level - static_cast<long double>(loads[s]) > 0) {
      ++capacity[s];
      ++assigned;
    }
  }
  while (assigned > total) {  // cannot happen with floor, but never hand out more than there is
    for (size_t s = 0; s < n && assigned > total; ++s) {
      if (capacity[s] > 0) {
        --capacity[s];
        --assigned;
      }
    }
  }
  return capacity;
}

// The server whose range [ends[s-1], ends[s]) holds byte position `at` (the last one past the end).
int ServerAt(const std::vector<uint64_t>& ends, uint64_t at) {
  auto it = std::upper_bound(ends.begin(), ends.end(), at);
  return it == ends.end() ? static_cast<int>(ends.size()) - 1 : static_cast<int>(it - ends.begin());
}

// Cuts one key at the server boundaries inside it; pieces under `min_bytes` join a neighbour.
KeyPlacement SplitKey(const KeySpec& key, uint64_t start, const std::vector<uint64_t>& ends,
                      size_t min_bytes) {
  const uint64_t esize = DataTypeSize(key.dtype);
  const uint64_t count = key.count();
  KeyPlacement pieces;
  uint64_t element = 0;
  for (int s = ServerAt(ends, start); element < count; ++s) {
    uint64_t end = count;
    if (s + 1 < static_cast<int>(ends.size()) && ends[static_cast<size_t>(s)] < start + key.bytes()) {
      const uint64_t boundary = ends[static_cast<size_t>(s)];
      end = boundary <= start ? 0 : (boundary - start + esize / 2) / esize;
      end = std::clamp(end, element, count);
    }
    if (end > element) pieces.push_back({s, element, end - element});
    element = end;
  }
  // Merge pieces below the threshold into the larger neighbour (ranges stay contiguous).
  bool merged = true;
  while (merged && pieces.size() > 1) {
    merged = false;
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (pieces[i].count * esize >= min_bytes) continue;
      const bool has_left = i > 0, has_right = i + 1 < pieces.size();
      const bool to_left = has_left && (!has_right || pieces[i - 1].count >= pieces[i + 1].count);
      SliceSpec& into = to_left ? pieces[i - 1] : pieces[i + 1];
      into.offset = std::min(into.offset, pieces[i].offset);
      into.count += pieces[i].count;
      pieces.erase(pieces.begin() + static_cast<std::ptrdiff_t>(i));
      merged = true;
      break;
    }
  }
  return pieces;
}

}  // namespace

std::vector<KeyPlacement> PlaceKeys(std::span<const KeySpec> keys, int num_servers,
                                    size_t min_split_bytes, std::vector<uint64_t>* server_bytes) {
  const size_t n = static_cast<size_t>(std::max(num_servers, 1));
  if (server_bytes->size() != n) server_bytes->assign(n, 0);
  std::vector<KeyPlacement> out;
  out.reserve(keys.size());
  uint64_t total = 0;
  for (const KeySpec& key : keys) total += key.bytes();

  std::vector<uint64_t> ends = Capacities(*server_bytes, total);
  std::partial_sum(ends.begin(), ends.end(), ends.begin());

  uint64_t position = 0;
  for (const KeySpec& key : keys) {
    const uint64_t bytes = key.bytes();
    KeyPlacement placement;
    if (bytes == 0) {
      // Nothing to balance: the least loaded server keeps the (empty) key.
      auto least = std::min_element(server_bytes->begin(), server_bytes->end());
      placement.push_back({static_cast<int>(least - server_bytes->begin()), 0, key.count()});
    } else if (bytes <= min_split_bytes) {
      placement.push_back({ServerAt(ends, position + bytes / 2), 0, key.count()});
    } else {
      placement = SplitKey(key, position, ends, min_split_bytes);
    }
    for (const SliceSpec& slice : placement) {
      (*server_bytes)[static_cast<size_t>(slice.server)] += slice.count * DataTypeSize(key.dtype);
    }
    out.push_back(std::move(placement));
    position += bytes;
  }
  return out;
}

}  // namespace cohort::ps
