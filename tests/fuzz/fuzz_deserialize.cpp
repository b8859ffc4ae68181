// The ExportedProgram JSON reader (deserialize_program, which also verifies the IR) on
// arbitrary text. Mutations are half byte-level, half structural (json_mutator.h).

#include <cstdint>
#include <cstring>
#include <string_view>

#include "frontend/deserialize.h"
#include "fuzz_support.h"
#include "json_mutator.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)kiln::frontend::deserialize_program(text, "fuzz.pt2:models/model.json");
  } catch (const kiln::Error&) {
  }
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  if (seed % 2 == 0) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto out = kiln::fuzz::mutate_json(text, seed, max_size)) {
      std::memcpy(data, out->data(), out->size());
      return out->size();
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}
