// Parameter lists of real models, written out as shapes, for placement tests and ps-bench:
// torchvision's ResNet-50 (161 tensors, 25,557,032 parameters) and Hugging Face's bert-base-uncased
// BertModel (199 tensors, 109,482,240 parameters), in the order the models list them.
#pragma once

#include <string>
#include <vector>

#include "runtime/ps/placement.h"

namespace cohort::testing {

inline std::vector<ps::KeySpec> ResNet50Shapes() {
  std::vector<ps::KeySpec> keys;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    keys.push_back({name, std::move(shape), DataType::kF32});
  };
  auto bn = [&](const std::string& name, int64_t c) {
    add(name + ".weight", {c});
    add(name + ".bias", {c});
  };
  add("conv1.weight", {64, 3, 7, 7});
  bn("bn1", 64);
  const int64_t widths[] = {64, 128, 256, 512};
  const int blocks[] = {3, 4, 6, 3};
  int64_t in = 64;
  for (int layer = 0; layer < 4; ++layer) {
    const int64_t width = widths[layer], out = width * 4;
    for (int b = 0; b < blocks[layer]; ++b) {
      const std::string p = "layer" + std::to_string(layer + 1) + "." + std::to_string(b) + ".";
      add(p + "conv1.weight", {width, in, 1, 1});
      bn(p + "bn1", width);
      add(p + "conv2.weight", {width, width, 3, 3});
      bn(p + "bn2", width);
      add(p + "conv3.weight", {out, width, 1, 1});
      bn(p + "bn3", out);
      if (b == 0) {
        add(p + "downsample.0.weight", {out, in, 1, 1});
        bn(p + "downsample.1", out);
      }
      in = out;
    }
  }
  add("fc.weight", {1000, 2048});
  add("fc.bias", {1000});
  return keys;
}

inline std::vector<ps::KeySpec> BertBaseShapes() {
  std::vector<ps::KeySpec> keys;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    keys.push_back({name, std::move(shape), DataType::kF32});
  };
  auto dense = [&](const std::string& name, int64_t out, int64_t in) {
    add(name + ".weight", {out, in});
    add(name + ".bias", {out});
  };
  auto norm = [&](const std::string& name) {
    add(name + ".weight", {768});
    add(name + ".bias", {768});
  };
  add("embeddings.word_embeddings.weight", {30522, 768});
  add("embeddings.position_embeddings.weight", {512, 768});
  add("embeddings.token_type_embeddings.weight", {2, 768});
  norm("embeddings.LayerNorm");
  for (int l = 0; l < 12; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    dense(p + "attention.self.query", 768, 768);
    dense(p + "attention.self.key", 768, 768);
    dense(p + "attention.self.value", 768, 768);
    dense(p + "attention.output.dense", 768, 768);
    norm(p + "attention.output.LayerNorm");
    dense(p + "intermediate.dense", 3072, 768);
    dense(p + "output.dense", 768, 3072);
    norm(p + "output.LayerNorm");
  }
  dense("pooler.dense", 768, 768);
  return keys;
}

}  // namespace cohort::testing
