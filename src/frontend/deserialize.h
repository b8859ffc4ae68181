#pragma once

#include <string>
#include <string_view>

#include "ir/graph.h"

namespace kiln::frontend {

// Reads the ExportedProgram JSON of a .pt2 archive (`models/<model>.json`, export schema 8.x)
// into kiln's IR, and verifies the result (ir::verify). `source_name` (e.g.
// "model.pt2:models/model.json") starts every error message. Throws kiln::Error for malformed
// JSON, a schema major version other than 8, unsupported argument kinds (complex, nested tensor
// lists, int lists, string maps), unparsable symbolic expressions and references to undefined
// values.
//
// Decisions worth knowing:
//  - Node targets lose their "torch.ops." prefix ("aten.linear.default", "higher_order.cond");
//    other targets ("_operator.add", "math.trunc") are kept as written.
//  - Ranges are stored as written: unlike torch's loader, backed symbols' lower bounds are not
//    clamped to 2.
//  - Graph inputs the export specialized to a literal become ir::ValueKind::kConstant values,
//    named after their constant_input spec or "arg<i>".
//  - SymFloat values keep no expression (sym::Expr is integer-only).
//  - Node metadata (stack_trace, nn_module_stack, ...) is kept as strings.
//  - A file without schema_version is accepted (major/minor stay 0): the legacy zip layout keeps
//    the version in a separate entry, which the archive reader checks.
ir::ExportedProgram deserialize_program(std::string_view json_text, std::string_view source_name);

// "torch.ops.aten.add.Tensor" -> "aten.add.Tensor"; anything else is returned unchanged.
std::string normalize_target(std::string_view target);

}  // namespace kiln::frontend
