// Checkpoints with workers and servers as threads: save and load with the same and other server
// counts (bit-exact values and optimizer state: training on from the checkpoint gives the same
// values as training on without it), atomic files, and clear errors for missing, partial and
// foreign checkpoints. The multi-process restart after killing a job is tests/multiproc/ps_*.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/ps/manifest.h"
#include "tests/unit/ps/ps_test_util.h"

namespace cohort {
namespace {

namespace fs = std::filesystem;
using testing::RunStore;
using testing::StoreSetup;
using testing::View;

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/cohort-ps-test-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

const std::vector<ps::KeySpec> kKeys = {{"emb", {400, 300}, DataType::kF32},
                                        {"proj", {300, 200}, DataType::kF32},
                                        {"norm", {300}, DataType::kF32},
                                        {"half", {50'000}, DataType::kBF16}};

// Multiples of 1/64 below 1: sums over workers are exact in any order (servers add pushes as they
// arrive), so two runs of the same steps give the same bits, and so do bf16 copies of them.
float Grad(int rank, int step, size_t key, size_t i) {
  return static_cast<float>(static_cast<int>((rank * 13 + step * 29 + key * 7 + i * 5) % 59) - 29) / 64.0f;
}

void Declare(ParameterStore& ps) {
  std::vector<ps::KeyDeclaration> decls;
  for (size_t k = 0; k < kKeys.size(); ++k) {
    ps::KeyDeclaration d;
    d.spec = kKeys[k];
    d.initializer = ps::Initializer::Normal(0, 0.1, 7 + k);
    d.optimizer = k == 2 ? OptimizerSpec::Sgd(0.1, 0.9) : OptimizerSpec::AdamW(1e-2, 0.01);
    decls.push_back(d);
  }
  ps.init(decls);
}

// Runs `steps` push_pull steps from the store's current step; returns the final values (as bytes).
std::vector<std::vector<uint8_t>> Train(ParameterStore& ps, int rank, int steps) {
  std::vector<std::vector<uint8_t>> values(kKeys.size());
  for (int s = 0; s < steps; ++s) {
    std::vector<std::vector<uint8_t>> grads(kKeys.size());
    std::vector<BufferView> g, out;
    std::vector<std::string> names;
    for (size_t k = 0; k < kKeys.size(); ++k) {
      const int step = static_cast<int>(ps.step(kKeys[k].name)) + 1;
      const size_t n = kKeys[k].count();
      std::vector<float> wide(n);
      for (size_t i = 0; i < n; ++i) wide[i] = Grad(rank, step, k, i);
      grads[k].resize(n * DataTypeSize(kKeys[k].dtype));
      if (kKeys[k].dtype == DataType::kF32) {
        std::memcpy(grads[k].data(), wide.data(), n * 4);
      } else {
        for (size_t i = 0; i < n; ++i) {
          uint32_t bits;
          std::memcpy(&bits, &wide[i], 4);
          const uint16_t top = static_cast<uint16_t>(bits >> 16);
          std::memcpy(grads[k].data() + 2 * i, &top, 2);
        }
      }
      values[k].resize(grads[k].size());
      names.push_back(kKeys[k].name);
      g.push_back({grads[k].data(), n, kKeys[k].dtype});
      out.push_back({values[k].data(), n, kKeys[k].dtype});
    }
    ps.push_pull_async(names, g, out)->wait();
  }
  return values;
}

// Job 1 (servers_a): 3 steps, save, 2 more steps -> reference. Job 2 (servers_b): load, 2 steps.
void SaveThenLoadOn(int servers_a, bool dedicated_a, int servers_b) {
  TempDir dir, again;
  std::vector<std::vector<uint8_t>> reference, resumed;
  StoreSetup a;
  a.workers = 3;
  a.servers = servers_a;
  a.dedicated = dedicated_a;
  a.options.min_split_bytes = 64 * 1024;
  RunStore(a, [&](ParameterStore& ps, Communicator& comm) {
    Declare(ps);
    Train(ps, comm.rank(), 3);
    ps.save(dir.path);
    auto after = Train(ps, comm.rank(), 2);
    if (comm.rank() == 0) reference = after;
  });
  ASSERT_TRUE(fs::exists(dir.path + "/MANIFEST"));
  StoreSetup b = a;
  b.servers = servers_b;
  b.dedicated = false;
  RunStore(b, [&](ParameterStore& ps, Communicator& comm) {
    ps.load(dir.path);  // declares the checkpoint's keys, placed on this store's servers
    EXPECT_EQ(ps.keys().size(), kKeys.size());
    for (const auto& k : kKeys) EXPECT_EQ(ps.step(k.name), 3) << k.name;
    EXPECT_EQ(ps.optimizer("norm").type, OptimizerType::kSgd);
    Declare(ps);  // declaring the same keys again keeps the loaded values
    ps.save(again.path);  // what was loaded, written back by other servers
    auto after = Train(ps, comm.rank(), 2);
    if (comm.rank() == 0) resumed = after;
  });
  // The loaded parameters and optimizer state are the saved ones, bit for bit.
  Result<ps::Manifest> saved = ps::ReadCheckpoint(dir.path), reloaded = ps::ReadCheckpoint(again.path);
  ASSERT_TRUE(saved.ok() && reloaded.ok());
  EXPECT_EQ(saved->num_servers, servers_a);
  EXPECT_EQ(reloaded->num_servers, servers_b);
  for (uint32_t k = 0; k < kKeys.size(); ++k) {
    Result<ps::KeyState> a = ps::ReadKeyState(dir.path, *saved, k);
    Result<ps::KeyState> b = ps::ReadKeyState(again.path, *reloaded, k);
    ASSERT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.status() : a.status()).message();
    EXPECT_EQ(a->step, 3);
    EXPECT_EQ(a->step, b->step);
    EXPECT_EQ(a->values, b->values) << kKeys[k].name;
    ASSERT_EQ(a->state.size(), k == 2 ? 1u : 2u);
    EXPECT_EQ(a->state, b->state) << kKeys[k].name;
    EXPECT_NE(a->state[0], std::vector<float>(a->values.size(), 0.0f)) << "state was saved";
  }
  ASSERT_EQ(resumed.size(), reference.size());
  for (size_t k = 0; k < kKeys.size(); ++k) {
    EXPECT_EQ(resumed[k], reference[k]) << "key " << kKeys[k].name << " after resuming on "
                                        << servers_b << " servers (saved from " << servers_a << ")";
  }
}

TEST(CheckpointTest, LoadOnTheSameServerCountIsBitExact) { SaveThenLoadOn(2, false, 2); }
TEST(CheckpointTest, LoadOnMoreServersIsBitExact) { SaveThenLoadOn(2, true, 3); }
TEST(CheckpointTest, LoadOnFewerServersIsBitExact) { SaveThenLoadOn(3, false, 1); }

TEST(CheckpointTest, SavingAgainReplacesTheCheckpointAtomically) {
  TempDir dir;
  StoreSetup setup;
  setup.workers = 2;
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    Declare(ps);
    ps.save(dir.path);
    Train(ps, comm.rank(), 1);
    ps.save(dir.path);
  });
  // One manifest, one shard file per server (the first save's were removed), no temporary files.
  int shards = 0, others = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    const std::string name = entry.path().filename();
    if (name.rfind("shard-", 0) == 0) ++shards;
    else if (name != "MANIFEST") ++others;
  }
  EXPECT_EQ(shards, 2);
  EXPECT_EQ(others, 0);
  Result<ps::Manifest> m = ps::ReadCheckpoint(dir.path);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->keys[0].step, 1);
}

std::string LoadError(const std::string& dir, const std::vector<ps::KeySpec>& declared = {}) {
  std::string error;
  StoreSetup setup;
  setup.workers = 2;
  RunStore(setup, [&](ParameterStore& ps, Communicator& comm) {
    for (const auto& k : declared) ps.init(k.name, k.shape, k.dtype, ps::Initializer::Zeros());
    try {
      ps.load(dir);
      ADD_FAILURE() << "load of " << dir << " succeeded";
    } catch (const InvalidArgument& e) {
      if (comm.rank() == 1) error = e.what();
    }
  });
  return error;
}

TEST(CheckpointTest, MissingPartialAndForeignCheckpointsAreClearErrors) {
  TempDir dir;
  std::string e = LoadError(dir.path + "/nope");
  EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
  EXPECT_NE(e.find("worker 1"), std::string::npos) << e;
  e = LoadError(dir.path);
  EXPECT_NE(e.find("holds no MANIFEST"), std::string::npos) << e;

  StoreSetup setup;
  setup.workers = 2;
  RunStore(setup, [&](ParameterStore& ps, Communicator&) {
    Declare(ps);
    ps.save(dir.path);
  });
  // Another model: same names, another shape.
  std::vector<ps::KeySpec> other = kKeys;
  other[1].shape = {300, 201};
  e = LoadError(dir.path, other);
  EXPECT_NE(e.find("from another model"), std::string::npos) << e;
  EXPECT_NE(e.find("proj"), std::string::npos) << e;

  // A shard file cut short, then gone.
  std::string shard;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    if (entry.path().filename().string().rfind("shard-", 0) == 0) shard = entry.path();
  }
  fs::resize_file(shard, fs::file_size(shard) - 100);
  e = LoadError(dir.path);
  EXPECT_NE(e.find("partial checkpoint"), std::string::npos) << e;
  fs::remove(shard);
  e = LoadError(dir.path);
  EXPECT_NE(e.find("is missing"), std::string::npos) << e;
}

TEST(CheckpointTest, CorruptedDataIsRefusedAndTheStoreStaysUnusable) {
  TempDir dir;
  StoreSetup setup;
  setup.workers = 2;
  RunStore(setup, [&](ParameterStore& ps, Communicator&) {
    Declare(ps);
    ps.save(dir.path);
  });
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    if (entry.path().filename().string().rfind("shard-", 0) != 0) continue;
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x7f');  // same size, different bytes
  }
  RunStore(setup, [&](ParameterStore& ps, Communicator&) {
    EXPECT_THROW(ps.load(dir.path), InvalidArgument);
    std::vector<float> out(300);
    try {
      ps.pull("norm", View(out));
      ADD_FAILURE() << "a store whose load failed was usable";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("load failed"), std::string::npos) << e.what();
    }
  });
}

TEST(CheckpointTest, ManifestRoundTripAndGarbage) {
  ps::Manifest m;
  m.id = "0123456789abcdef";
  m.num_servers = 2;
  m.num_workers = 3;
  m.keys.push_back({{"a b%c", {2, 3}, DataType::kBF16}, OptimizerSpec::AdamW(0.1), 4, {1, 2, 3}});
  m.files.push_back({0, "shard-x-0.bin", 100, 42});
  m.slices.push_back({0, 0, {0, 0, 6, 64, 100, 128, 7}});
  Result<ps::Manifest> back = ps::ParseManifest(ps::FormatManifest(m), "m");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->keys[0].spec, m.keys[0].spec);
  EXPECT_EQ(back->keys[0].optimizer, m.keys[0].optimizer);
  EXPECT_EQ(back->keys[0].worker_pushes, m.keys[0].worker_pushes);
  EXPECT_EQ(back->slices[0].segment.hash, 7u);
  const std::string text = ps::FormatManifest(m);
  for (size_t cut = 0; cut + 4 < text.size(); cut += 7) {  // every cut loses the "end" line
    EXPECT_FALSE(ps::ParseManifest(text.substr(0, cut), "m").ok()) << "cut at " << cut;
  }
  EXPECT_FALSE(ps::ParseManifest("garbage\n", "m").ok());
}

}  // namespace
}  // namespace cohort
