#include "lower/families.h"

namespace kiln::lower {

std::vector<LowerEntry> all_lowerings() {
  std::vector<LowerEntry> all;
  for (auto family : {pointwise_lowerings, reduction_lowerings, shape_lowerings, index_lowerings,
                      nn_lowerings}) {
    auto entries = family();
    all.insert(all.end(), entries.begin(), entries.end());
  }
  return all;
}

}  // namespace kiln::lower
