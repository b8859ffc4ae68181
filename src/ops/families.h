#pragma once

#include <span>

#include "ops/op_table.h"

// Each op family's table, defined in src/ops/<family>.cpp. op_table.cpp joins them.
namespace kiln::ops {

std::span<const OpDef> symbolic_ops();

}  // namespace kiln::ops
