// A libFuzzer-compatible driver for the regular (GCC, ASan+UBSan) test build: it runs a fuzz
// target on every file of the seed folders, and on a fixed number of deterministic mutations of
// each (through the target's custom mutator when it has one). No coverage guidance: this keeps
// every seed and every earlier finding passing in each test run, and reaches a little further
// than the seeds, while scripts/fuzz.sh does the real fuzzing with clang.
//
//   fuzz_replay_<target> [--mutations N] DIR...

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) __attribute__((weak));

namespace {

std::mt19937_64& rng() {
  static std::mt19937_64 engine(0x6b696c6eULL);
  return engine;
}

size_t below(size_t n) {
  return n == 0 ? 0 : static_cast<size_t>(rng()() % n);
}

}  // namespace

// libFuzzer's byte-level mutator, as the custom mutators call it: one random edit (flip a bit,
// set an interesting byte, insert, erase, or copy a span), within max_size.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size) {
  static constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '0', '9', '-', '"'};
  switch (below(5)) {
    case 0:
      if (size > 0) data[below(size)] ^= static_cast<uint8_t>(1u << below(8));
      break;
    case 1:
      if (size > 0) data[below(size)] = kInteresting[below(std::size(kInteresting))];
      break;
    case 2:
      if (size < max_size) {
        const size_t at = below(size + 1);
        std::memmove(data + at + 1, data + at, size - at);
        data[at] = static_cast<uint8_t>(rng()());
        ++size;
      }
      break;
    case 3:
      if (size > 0) {
        const size_t at = below(size);
        std::memmove(data + at, data + at + 1, size - at - 1);
        --size;
      }
      break;
    default:
      if (size > 1) {
        const size_t from = below(size), to = below(size);
        const size_t n = 1 + below(std::min<size_t>(16, size - std::max(from, to)));
        std::memmove(data + to, data + from, n);
      }
      break;
  }
  return size;
}

int main(int argc, char** argv) {
  size_t mutations = 0;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::strtoull(argv[++i], nullptr, 10);
      continue;
    }
    if (!std::filesystem::is_directory(arg)) {
      std::fprintf(stderr, "not a folder: %s\n", arg.c_str());
      return 2;
    }
    for (const auto& entry : std::filesystem::directory_iterator(arg))
      if (entry.is_regular_file()) files.push_back(entry.path());
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--mutations N] DIR... (with at least one input)\n", argv[0]);
    return 2;
  }
  std::sort(files.begin(), files.end());  // the same order, hence the same mutations, every run

  size_t executions = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<uint8_t> seed((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
    ++executions;
    const size_t max_size = std::max<size_t>(seed.size() * 2, 4096);
    std::vector<uint8_t> current;
    for (size_t m = 0; m < mutations; ++m) {
      // Each group of four mutations starts from the seed and stacks one edit per step.
      if (m % 4 == 0) current = seed;
      const size_t size = current.size();
      current.resize(max_size);
      const size_t new_size = LLVMFuzzerCustomMutator != nullptr
                                  ? LLVMFuzzerCustomMutator(current.data(), size, max_size,
                                                            static_cast<unsigned>(rng()()))
                                  : LLVMFuzzerMutate(current.data(), size, max_size);
      current.resize(std::min(new_size, max_size));
      LLVMFuzzerTestOneInput(current.data(), current.size());
      ++executions;
    }
  }
  std::printf("%zu inputs, %zu executions\n", files.size(), executions);
  return 0;
}
