// The shape family: views, shape manipulation, copies, casts, no-ops and factories, declared
// across shape_*.cpp and factory.cpp and joined here.
#include <vector>

#include "ops/families.h"
#include "ops/shape_util.h"

namespace kiln::ops {

std::span<const OpDef> shape_ops() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> all;
    for (auto part : {shape_view_ops(), shape_slice_ops(), shape_concat_ops(), shape_copy_ops(),
                      shape_reorder_ops(), shape_cast_ops(), factory_ops()}) {
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return ops;
}

}  // namespace kiln::ops
