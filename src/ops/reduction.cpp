#include "ops/families.h"

namespace kiln::ops {

std::span<const OpDef> reduction_ops() { return {}; }

}  // namespace kiln::ops
