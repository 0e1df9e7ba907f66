// Placement: which server holds which elements of every key. A pure function of the keys (in
// declaration order), their shapes and dtypes, the number of servers, the split threshold and the
// bytes each server already holds from earlier declarations, so every worker computes the same
// answer without talking to anyone.
//
// Each batch of keys is laid out end to end in one flat byte space and cut into one contiguous
// range per server, sized by water-filling: servers that hold fewer bytes get more of the batch,
// so that bytes per server end up as equal as the cuts allow. A key that crosses a cut is split
// there (at an element boundary); a key of at most `min_split_bytes` is never split: it goes whole
// to the server whose range holds its middle. A server gets at most one slice of any key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/base/dtype.h"
#include "runtime/base/status.h"

namespace cohort::ps {

struct KeySpec {
  std::string name;
  std::vector<int64_t> shape;
  DataType dtype = DataType::kF32;

  uint64_t count() const;  // product of the shape (1 for a scalar: shape {})
  uint64_t bytes() const { return count() * DataTypeSize(dtype); }
  bool operator==(const KeySpec&) const = default;
};

// "fc.weight (1000x2048 f32)".
std::string DescribeKey(const KeySpec& key);
// "1000x2048" ("scalar" for shape {}).
std::string ShapeText(const std::vector<int64_t>& shape);

// Names 1-1024 bytes without NUL or newline, non-negative dimensions, dtype f32, f16 or bf16.
Status ValidateKeySpec(const KeySpec& key);

// One contiguous piece of a key: elements [offset, offset + count) live on `server`.
struct SliceSpec {
  int server = 0;
  uint64_t offset = 0;
  uint64_t count = 0;
  bool operator==(const SliceSpec&) const = default;
};

// A key's slices in offset order; they cover [0, count) exactly (one empty slice for an empty key).
using KeyPlacement = std::vector<SliceSpec>;

inline constexpr size_t kDefaultMinSplitBytes = 256 * 1024;

// Places a batch of keys on `num_servers` servers. `server_bytes` holds the bytes each server
// already has (resized to num_servers if empty) and is updated with the batch.
std::vector<KeyPlacement> PlaceKeys(std::span<const KeySpec> keys, int num_servers,
                                    size_t min_split_bytes, std::vector<uint64_t>* server_bytes);

}  // namespace cohort::ps
