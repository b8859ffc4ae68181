#pragma once

// A structure-aware mutation for JSON inputs: parse, change one node, print. Byte-level
// mutations almost never keep an ExportedProgram valid JSON with names that refer to each other;
// this one swaps in names, keys and subtrees taken from the document itself, and edge-case
// numbers, so the fuzzer reaches the checks behind the JSON syntax.

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace kiln::fuzz {

using OrderedJson = nlohmann::ordered_json;  // keeps key order, so a mutation stays local

// Deeper documents are left to byte-level mutation (printing them back recurses).
constexpr size_t kMaxMutateDepth = 200;
constexpr size_t kMaxNodes = 50000;

// Every node of the document, with the strings (keys and values) it holds; nullopt if the
// document is too deep. Iterative, so it never recurses on hostile input.
struct JsonIndex {
  std::vector<OrderedJson*> nodes;
  std::vector<std::string> strings;
};

inline std::optional<JsonIndex> index_json(OrderedJson& root) {
  JsonIndex index;
  std::vector<std::pair<OrderedJson*, size_t>> stack{{&root, 0}};
  while (!stack.empty() && index.nodes.size() < kMaxNodes) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxMutateDepth) return std::nullopt;
    index.nodes.push_back(node);
    if (node->is_string() && index.strings.size() < kMaxNodes) {
      index.strings.push_back(node->get<std::string>());
    } else if (node->is_object()) {
      for (auto it = node->begin(); it != node->end(); ++it) {
        if (index.strings.size() < kMaxNodes) index.strings.push_back(it.key());
        stack.emplace_back(&it.value(), depth + 1);
      }
    } else if (node->is_array()) {
      for (auto& child : *node)
        stack.emplace_back(&child, depth + 1);
    }
  }
  return index;
}

inline int64_t interesting_int(std::mt19937_64& rng, int64_t old) {
  static constexpr int64_t kValues[] = {0,
                                        1,
                                        -1,
                                        2,
                                        3,
                                        7,
                                        8,
                                        11,
                                        255,
                                        256,
                                        65535,
                                        65536,
                                        (int64_t{1} << 31) - 1,
                                        int64_t{1} << 31,
                                        int64_t{1} << 32,
                                        int64_t{1} << 53,
                                        std::numeric_limits<int64_t>::max(),
                                        std::numeric_limits<int64_t>::min(),
                                        std::numeric_limits<int64_t>::min() + 1,
                                        -(int64_t{1} << 31)};
  switch (rng() % 4) {
    case 0:
      return kValues[rng() % std::size(kValues)];
    case 1:
      return static_cast<int64_t>(static_cast<uint64_t>(old) + (rng() % 5) - 2);
    case 2:
      return static_cast<int64_t>(rng() % 64) - 8;
    default:
      return static_cast<int64_t>(rng());
  }
}

inline std::string interesting_string(std::mt19937_64& rng, const std::vector<std::string>& pool,
                                      const std::string& old) {
  static const char* const kStrings[] = {"",
                                         "s0",
                                         "s1",
                                         "u0",
                                         "2*s0 + 1",
                                         "((s0 + 1)//2)",
                                         "Symbol('s0', integer=True, positive=True)",
                                         "FloorDiv(Symbol('s0'), Integer(0))",
                                         "Infinity",
                                         "-Infinity",
                                         "NaN",
                                         "torch.ops.aten.add.Tensor",
                                         "torch.ops.higher_order.cond",
                                         "cpu",
                                         "cuda",
                                         "weight_0",
                                         "../weight_0",
                                         "model"};
  const uint64_t pick = rng() % 8;
  if (pick < 4 && !pool.empty()) return pool[rng() % pool.size()];
  if (pick < 6) return kStrings[rng() % std::size(kStrings)];
  // Byte-level edit of the old string.
  std::string s = old;
  const size_t cap = s.size() * 2 + 16;
  s.resize(cap);
  s.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(s.data()), old.size(), cap));
  return s;
}

inline OrderedJson scalar_like(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return nullptr;
    case 1:
      return 0;
    case 2:
      return "";
    case 3:
      return OrderedJson::array();
    case 4:
      return OrderedJson::object();
    default:
      return true;
  }
}

// One structural mutation of `text`, or nullopt when it is not JSON, too deep, or the result
// would exceed max_size bytes.
inline std::optional<std::string> mutate_json(std::string_view text, uint64_t seed,
                                              size_t max_size) {
  OrderedJson doc = OrderedJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  auto index = index_json(doc);
  if (!index || index->nodes.empty()) return std::nullopt;
  std::mt19937_64 rng(seed);
  std::vector<OrderedJson*>& nodes = index->nodes;
  OrderedJson& n = *nodes[rng() % nodes.size()];
  // A copy, taken before `n` changes: `other` may be `n` or contain it.
  const OrderedJson other = *nodes[rng() % nodes.size()];

  const uint64_t action = rng() % 8;
  if (action == 0) {
    n = other;  // splice a subtree from elsewhere
  } else if (action == 1) {
    n = scalar_like(rng);
  } else if (n.is_number_integer()) {
    n = interesting_int(rng, n.get<int64_t>());
  } else if (n.is_number_float()) {
    n = rng() % 2 ? 0.5 : -1e308;
  } else if (n.is_boolean()) {
    n = !n.get<bool>();
  } else if (n.is_string()) {
    n = interesting_string(rng, index->strings, n.get<std::string>());
  } else if (n.is_array()) {
    const size_t size = n.size();
    switch (rng() % 4) {
      case 0:
        if (size > 0) n.erase(rng() % size);
        break;
      case 1:
        n.insert(n.begin() + static_cast<std::ptrdiff_t>(rng() % (size + 1)), other);
        break;
      case 2:
        if (size > 1) std::swap(n[rng() % size], n[rng() % size]);
        break;
      default:
        if (size > 0) n.push_back(OrderedJson(n[rng() % size]));
        break;
    }
  } else if (n.is_object()) {
    const size_t size = n.size();
    auto nth_key = [&](size_t k) {
      return std::next(n.begin(), static_cast<std::ptrdiff_t>(k)).key();
    };
    switch (rng() % 3) {
      case 0:
        if (size > 0) n.erase(nth_key(rng() % size));
        break;
      case 1:
        n[interesting_string(rng, index->strings, "")] = other;
        break;
      default:
        if (size > 0) {  // rename a key
          const std::string key = nth_key(rng() % size);
          OrderedJson value = std::move(n[key]);
          n.erase(key);
          n[interesting_string(rng, index->strings, key)] = std::move(value);
        }
        break;
    }
  }
  if (!index_json(doc)) return std::nullopt;  // splicing made it too deep to print
  std::string out = doc.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  if (out.size() > max_size) return std::nullopt;
  return out;
}

}  // namespace kiln::fuzz
