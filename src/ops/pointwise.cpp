// The pointwise family: elementwise arithmetic, math, comparisons, selection and activations,
// declared across pointwise_*.cpp and joined here.
#include <vector>

#include "ops/families.h"
#include "ops/pointwise_util.h"

namespace kiln::ops {

std::span<const OpDef> pointwise_ops() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> all;
    for (auto part : {pointwise::arithmetic_ops(), pointwise::unary_ops(), pointwise::compare_ops(),
                      pointwise::activation_ops()}) {
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return ops;
}

}  // namespace kiln::ops
