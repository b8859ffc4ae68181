#include <cstring>
#include <string>

#include "lower/lowering.h"
#include "util/error.h"

namespace kiln::lower {

namespace {

bool is_comparison_or_logic(ScalarOp op) {
  switch (op) {
    case ScalarOp::kEq:
    case ScalarOp::kNe:
    case ScalarOp::kLt:
    case ScalarOp::kLe:
    case ScalarOp::kGt:
    case ScalarOp::kGe:
    case ScalarOp::kAnd:
    case ScalarOp::kOr:
    case ScalarOp::kXor:
      return true;
    default:
      return false;
  }
}

bool is_predicate(ScalarOp op) {
  switch (op) {
    case ScalarOp::kNot:
    case ScalarOp::kIsNan:
    case ScalarOp::kIsInf:
    case ScalarOp::kIsFinite:
    case ScalarOp::kSignbit:
      return true;
    default:
      return false;
  }
}

bool same_node(const ScalarNode& x, const ScalarNode& y) {
  return x.op == y.op && x.dtype == y.dtype && x.a == y.a && x.b == y.b && x.c == y.c &&
         std::memcmp(&x.fvalue, &y.fvalue, sizeof(double)) == 0 && x.ivalue == y.ivalue &&
         x.buffer == y.buffer && x.index == y.index;
}

}  // namespace

ir::DType compute_dtype(ir::DType dtype) {
  if (dtype == ir::DType::kFloat16 || dtype == ir::DType::kBFloat16) return ir::DType::kFloat32;
  return dtype;
}

int32_t BodyBuilder::add(ScalarNode n) {
  // Structural sharing: bodies are small, and equal loads/constants repeat often when lazy
  // tensors are inlined into several places.
  for (size_t i = body_.nodes.size(); i-- > 0;) {
    if (same_node(body_.nodes[i], n)) return static_cast<int32_t>(i);
  }
  body_.nodes.push_back(std::move(n));
  return static_cast<int32_t>(body_.nodes.size() - 1);
}

void BodyBuilder::note_origin(const std::string& label) {
  for (const auto& o : origins_) {
    if (o == label) return;
  }
  origins_.push_back(label);
}

int32_t BodyBuilder::load(BufferId buffer, ir::DType buffer_dtype, const sym::Expr& flat_index) {
  ScalarNode n;
  n.op = ScalarOp::kLoad;
  n.dtype = compute_dtype(buffer_dtype);
  n.buffer = buffer;
  n.index = flat_index;
  return add(std::move(n));
}

int32_t BodyBuilder::constant(double value, ir::DType dtype) {
  ScalarNode n;
  n.op = ScalarOp::kConst;
  n.dtype = compute_dtype(dtype);
  if (ir::is_floating(n.dtype)) {
    n.fvalue = value;
  } else if (n.dtype == ir::DType::kBool) {
    n.ivalue = value != 0 ? 1 : 0;
  } else {
    n.ivalue = static_cast<int64_t>(value);
  }
  return add(std::move(n));
}

int32_t BodyBuilder::index_value(const sym::Expr& value) {
  ScalarNode n;
  if (auto c = value.as_const()) {
    n.op = ScalarOp::kConst;
    n.ivalue = *c;
  } else {
    n.op = ScalarOp::kIndex;
    n.index = value;
  }
  n.dtype = ir::DType::kInt64;
  return add(std::move(n));
}

int32_t BodyBuilder::cast(int32_t a, ir::DType dtype) {
  if (body_.nodes.at(a).dtype == dtype) return a;
  ScalarNode n;
  n.op = ScalarOp::kCast;
  n.dtype = dtype;
  n.a = a;
  return add(std::move(n));
}

int32_t BodyBuilder::unary(ScalarOp op, int32_t a) {
  ScalarNode n;
  n.op = op;
  n.a = a;
  n.dtype = is_predicate(op) ? ir::DType::kBool : compute_dtype(body_.nodes.at(a).dtype);
  return add(std::move(n));
}

int32_t BodyBuilder::binary(ScalarOp op, int32_t a, int32_t b) {
  const ir::DType da = compute_dtype(body_.nodes.at(a).dtype);
  const ir::DType db = compute_dtype(body_.nodes.at(b).dtype);
  if (da != db) {
    throw error("kernel body: operands of a binary op have dtypes ", ir::dtype_name(da), " and ",
                ir::dtype_name(db), " (cast them to one dtype first)");
  }
  ScalarNode n;
  n.op = op;
  n.a = a;
  n.b = b;
  n.dtype = is_comparison_or_logic(op) ? ir::DType::kBool : da;
  return add(std::move(n));
}

int32_t BodyBuilder::where(int32_t cond, int32_t a, int32_t b) {
  const ir::DType da = compute_dtype(body_.nodes.at(a).dtype);
  if (da != compute_dtype(body_.nodes.at(b).dtype)) {
    throw error("kernel body: the branches of a where have different dtypes");
  }
  ScalarNode n;
  n.op = ScalarOp::kWhere;
  n.a = cast(cond, ir::DType::kBool);
  n.b = a;
  n.c = b;
  n.dtype = da;
  return add(std::move(n));
}

sym::Expr BodyBuilder::indirect(int32_t a, const sym::Expr& size) {
  ScalarNode n;
  n.op = ScalarOp::kIndirect;
  n.a = cast(a, ir::DType::kInt64);
  n.index = size;
  n.dtype = ir::DType::kInt64;
  const int32_t id = add(std::move(n));
  return sym::Expr::symbol("t" + std::to_string(id));
}

int32_t BodyBuilder::loop_result(int32_t loop, ir::DType dtype) {
  ScalarNode n;
  n.op = ScalarOp::kLoopResult;
  n.ivalue = loop;
  n.dtype = dtype;
  return add(std::move(n));
}

int32_t BodyBuilder::loop_index(int32_t loop) {
  ScalarNode n;
  n.op = ScalarOp::kLoopIndex;
  n.ivalue = loop;
  n.dtype = ir::DType::kInt64;
  return add(std::move(n));
}

}  // namespace kiln::lower
