// The .npy reader on arbitrary bytes. What it accepts must be self-consistent and survive a
// round trip through the writer.

#include <cstdint>
#include <span>

#include "fuzz_support.h"
#include "ir/dtype.h"
#include "util/error.h"
#include "util/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kiln::fuzz::fail;
  const auto bytes = std::as_bytes(std::span(data, size));
  kiln::util::NpyArray a;
  try {
    a = kiln::util::parse_npy(bytes, "fuzz.npy");
  } catch (const kiln::Error&) {
    return 0;
  }
  for (int64_t d : a.shape) {
    if (d < 0) fail("negative dim accepted");
  }
  if (a.data.size() != static_cast<size_t>(a.numel()) * kiln::ir::dtype_size(a.dtype)) {
    fail("data size != numel * element size");
  }
  const kiln::util::NpyArray back =
      kiln::util::parse_npy(kiln::util::serialize_npy(a), "round-trip.npy");
  if (back.dtype != a.dtype || back.shape != a.shape || back.data != a.data) {
    fail("parse(serialize(parse(bytes))) differs from parse(bytes)");
  }
  return 0;
}
