#include "ops/families.h"

namespace kiln::ops {

std::span<const OpDef> pointwise_ops() { return {}; }

}  // namespace kiln::ops
