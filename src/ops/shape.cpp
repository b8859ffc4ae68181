#include "ops/families.h"

namespace kiln::ops {

std::span<const OpDef> shape_ops() { return {}; }

}  // namespace kiln::ops
