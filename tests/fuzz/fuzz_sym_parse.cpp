// The symbolic expression parser on arbitrary text. Whatever it accepts must print, print as
// C++, evaluate (or refuse by kiln::Error) and parse back to the same canonical form.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fuzz_support.h"
#include "sym/expr.h"
#include "util/error.h"

namespace {

// Symbol values picked by the input's own hash, so a crash reproduces from the input alone.
int64_t binding_for(uint64_t hash, size_t k) {
  static constexpr int64_t kValues[] = {0,
                                        1,
                                        2,
                                        3,
                                        -1,
                                        -2,
                                        7,
                                        64,
                                        1000,
                                        -999,
                                        1 << 20,
                                        std::numeric_limits<int64_t>::max(),
                                        std::numeric_limits<int64_t>::min()};
  return kValues[(hash >> (4 * (k % 16))) % std::size(kValues)];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kiln::fuzz::fail;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  kiln::sym::Expr e;
  try {
    e = kiln::sym::parse(text);
  } catch (const kiln::Error&) {
    return 0;
  }
  const std::string printed = e.str();
  kiln::sym::Expr back;
  try {
    back = kiln::sym::parse(printed);
  } catch (const kiln::Error& err) {
    fail("str() of a parsed expression does not parse", printed + "\n" + err.what());
  }
  if (back != e) fail("parse(str(e)) != e", printed + " reads back as " + back.str());
  (void)e.to_cpp();

  uint64_t hash = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i)
    hash = (hash ^ data[i]) * 1099511628211ull;
  std::unordered_map<std::string, int64_t> bindings;
  kiln::sym::RangeMap ranges;
  size_t k = 0;
  for (const std::string& s : e.free_symbols()) {
    const int64_t v = binding_for(hash, k++);
    bindings[s] = v;
    ranges[s] = kiln::sym::Range{v - (v > std::numeric_limits<int64_t>::min() ? 1 : 0), v};
  }
  try {
    const int64_t value = e.eval(bindings);
    if (back.eval(bindings) != value) fail("equal expressions evaluate differently", printed);
    // Bounds must hold the value at a point of the ranges.
    const kiln::sym::Range r = kiln::sym::bounds(e, ranges);
    if (!r.contains(value)) {
      fail("bounds() excludes a reachable value",
           printed + " = " + std::to_string(value) + " outside " + r.str());
    }
  } catch (const kiln::Error&) {
    // division by zero or int64 overflow, refused by name
  }
  return 0;
}
