// A whole .pt2 archive from untrusted bytes: open it, read its records, deserialize the model
// JSON, bind the weights (frontend::load_program), and read every bound tensor's bytes. A
// kiln::Error is the expected answer to bad input; anything else is a finding.

#include <cstdint>
#include <set>

#include "frontend/load.h"
#include "fuzz_support.h"
#include "util/error.h"
#include "zip_mutator.h"

namespace {

// Tensors whose logical size is larger than this are not materialized: a config may declare a
// broadcast (stride 0) or zero-filled tensor of any size without the archive holding its bytes,
// and copying it is the consumer's business, not the reader's.
constexpr size_t kMaxMaterialize = size_t{16} << 20;

void touch(const kiln::frontend::WeightTensor& w) {
  if (w.nbytes() > kMaxMaterialize) return;
  const auto bytes = kiln::frontend::contiguous_bytes(w);
  if (bytes.size() != w.nbytes()) kiln::fuzz::fail("contiguous_bytes size != nbytes()", w.fqn);
  (void)kiln::frontend::weight_fnv1a64(w);
  try {
    (void)kiln::frontend::weight_sum(w);
  } catch (const kiln::Error&) {
    // dtypes without a real value (complex) are refused by name
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::MemFile file(data, size);
  try {
    kiln::frontend::LoadedProgram loaded = kiln::frontend::load_program(file.path());
    for (const kiln::frontend::WeightTensor* w : loaded.input_tensors) {
      if (w != nullptr) touch(*w);
    }
    // Every tensor of every model, bound or not.
    for (const std::string& model : loaded.archive->model_names()) {
      for (const auto* list :
           {&loaded.archive->weights(model), &loaded.archive->constants(model)}) {
        for (const auto& w : *list)
          touch(w);
      }
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return kiln::fuzz::mutate_zip(data, size, max_size, seed, /*raw_percent=*/15);
}
