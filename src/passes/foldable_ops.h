#pragma once

// Which ops constant folding may evaluate at compile time: shared by fold_constants and
// fold_conv_batchnorm, so both agree on what a constant computation is.

#include <string_view>

namespace kiln::passes {

// Targets whose result is random or whose execution has an effect (assertions, printing):
// never evaluated at compile time, whatever their operands.
inline bool random_or_effectful(std::string_view target) {
  for (std::string_view word : {"rand", "bernoulli", "normal", "uniform", "multinomial", "empty",
                                "dropout", "_assert", "print"}) {
    if (target.find(word) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace kiln::passes
