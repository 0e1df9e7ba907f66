// Manifest: the index of a parameter-store checkpoint, written last (atomically) by worker 0 once
// every server's shard file is in place, so a directory holds a usable checkpoint exactly when it
// has a MANIFEST. It lists the keys (shape, dtype, optimizer with its current hyperparameters,
// step), the shard files (size, hash) and where every slice's record lies, so a store with any
// number of servers can load it (each new slice reads the old records that overlap it).
//
// The format is line-oriented text, readable by people and parsed strictly: any malformed line is
// an error naming the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/ps/wire.h"

namespace cohort::ps {

inline constexpr char kManifestName[] = "MANIFEST";

struct ManifestKey {
  KeySpec spec;
  OptimizerSpec optimizer;
  int64_t step = 0;
  std::vector<int64_t> worker_pushes;  // async: per worker
};

struct ManifestFile {
  int server = 0;
  std::string name;
  uint64_t bytes = 0;
  uint64_t hash = 0;
};

struct ManifestSlice {
  uint32_t key = 0;
  int server = 0;  // index into files
  SegmentInfo segment;
};

struct Manifest {
  std::string id;
  int num_servers = 0;
  int num_workers = 0;
  StoreRules rules;
  std::vector<ManifestKey> keys;
  std::vector<ManifestFile> files;
  std::vector<ManifestSlice> slices;
};

std::string FormatManifest(const Manifest& manifest);
// `where` names the file in errors.
Result<Manifest> ParseManifest(const std::string& text, const std::string& where);

// Reads and checks `dir`/MANIFEST and that every shard file is there with the recorded size and
// checkpoint id. Errors say which file is missing or wrong and what to do.
Result<Manifest> ReadCheckpoint(const std::string& dir);

// Builds the manifest from every server's save reply (replies[s] from server s) and checks that
// the slices of each key agree on its step; keys are the store's declared keys in order.
Result<Manifest> BuildManifest(const std::string& id, const std::vector<KeySpec>& keys,
                               const StoreRules& rules, int num_workers,
                               const std::vector<SaveReply>& replies);

// Writes the manifest atomically, then removes shard files of older checkpoints in `dir`.
Status CommitManifest(const std::string& dir, const Manifest& manifest);

// The checkpoint data for elements [offset, offset + count) of key `key`: the old records that
// overlap them (files named with `dir`).
std::vector<LoadSource> SourcesFor(const Manifest& manifest, const std::string& dir, uint32_t key,
                                   uint64_t offset, uint64_t count);

// A whole key as a checkpoint holds it, gathered from every slice: f32 values, then each optimizer
// state buffer (manifest order: momentum_buffer, or exp_avg, exp_avg_sq[, max_exp_avg_sq]).
// For inspecting checkpoints and converting them; every record's hash is checked.
struct KeyState {
  std::vector<float> values;
  std::vector<std::vector<float>> state;
  int64_t step = 0;
};
Result<KeyState> ReadKeyState(const std::string& dir, const Manifest& manifest, uint32_t key);

}  // namespace cohort::ps
