// The reduction family: reductions, scans, softmax and normalization layers. Each file of the
// family declares its own table (reduction_util.h); this joins them.
#include <vector>

#include "ops/families.h"
#include "ops/reduction_util.h"

namespace kiln::ops {

std::span<const OpDef> reduction_ops() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> all;
    for (auto part : {reduction::sum_ops(), reduction::minmax_ops(), reduction::vnorm_ops(),
                      reduction::scan_ops(), reduction::norm_ops()})
      all.insert(all.end(), part.begin(), part.end());
    return all;
  }();
  return ops;
}

}  // namespace kiln::ops
