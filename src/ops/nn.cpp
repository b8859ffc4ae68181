#include "ops/families.h"

namespace kiln::ops {

std::span<const OpDef> nn_ops() { return {}; }

}  // namespace kiln::ops
