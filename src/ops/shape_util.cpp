#include "ops/shape_util.h"

namespace kiln::ops {

std::optional<sym::Expr> sym_int_scalar(const Args& a, std::string_view name) {
  const ir::Argument& arg = a.raw(name);
  if (std::holds_alternative<int64_t>(arg) || std::holds_alternative<ir::SymIntArg>(arg)) {
    return a.sym(name);
  }
  return std::nullopt;
}

bool known_unequal(const sym::Expr& a, const sym::Expr& b) {
  return (a - b).as_const().value_or(0) != 0;
}

sym::Expr product(std::span<const sym::Expr> sizes) {
  sym::Expr p = 1;
  for (const auto& s : sizes)
    p = p * s;
  return p;
}

std::vector<sym::Expr> infer_size(const std::vector<sym::Expr>& shape, const sym::Expr& numel,
                                  const Args& a) {
  std::optional<size_t> infer;
  sym::Expr others = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    auto c = shape[i].as_const();
    if (c && *c == -1) {
      if (infer) a.fail("only one dimension can be inferred");
      infer = i;
    } else if (c && *c < 0) {
      a.fail("invalid shape dimension ", *c);
    } else {
      others = others * shape[i];
    }
  }
  std::vector<sym::Expr> out = shape;
  if (infer) {
    if (is_known(others, 0)) {
      a.fail("cannot infer the -1 of a shape whose other dims multiply to 0 (input numel ",
             numel.str(), ")");
    }
    // numel % others must be 0; reject only when it provably is not.
    if (sym::mod(numel, others).as_const().value_or(0) != 0) {
      a.fail("shape is invalid for an input of ", numel.str(), " elements");
    }
    out[*infer] = sym::floor_div(numel, others);
  } else if (known_unequal(others, numel)) {
    a.fail("shape of ", others.str(), " elements is invalid for an input of ", numel.str(),
           " elements");
  }
  return out;
}

ir::TensorType view_type(const ir::TensorType& self, std::vector<sym::Expr> sizes,
                         std::vector<sym::Expr> strides, sym::Expr offset) {
  ir::TensorType t = self;
  t.sizes = std::move(sizes);
  t.strides = std::move(strides);
  t.storage_offset = std::move(offset);
  t.requires_grad = false;
  return t;
}

void copy_element(ref::Tensor& out, int64_t i, const ref::Tensor& in, int64_t j) {
  if (in.is_floating()) {
    out.set(i, in.get(j));
  } else {
    out.set_int(i, in.get_int(j));
  }
}

std::vector<ref::RValue> strided_view_reference(const Args& a) {
  const ref::Tensor& in = a.tensor("self");
  const ir::TensorType& in_type = a.type("self");
  int64_t in_offset = in_type.storage_offset.as_const().value_or(0);
  std::vector<ref::RValue> out;
  for (const OutType& o : a.op().shape(a)) {
    const ir::TensorType& t = o.tensor;
    std::vector<int64_t> sizes = to_ints(t.sizes, a);
    std::vector<int64_t> strides = to_ints(t.strides, a);
    int64_t offset = to_ints({t.storage_offset}, a)[0] - in_offset;
    ref::Tensor r(t.dtype, sizes);
    StridedWalk<1> walk(sizes, {strides}, {offset});
    for (int64_t i = 0; i < r.numel(); ++i, walk.next()) {
      const int64_t src = walk.offset(0);
      if (src < 0 || src >= in.numel()) {
        a.fail("the view reads element ", src, " of a tensor of ", in.numel(), " elements");
      }
      copy_element(r, i, in, src);
    }
    out.emplace_back(std::move(r));
  }
  return out;
}

ref::Tensor allocate_output(const Args& a, size_t index) {
  std::vector<OutType> types = a.op().shape(a);
  const ir::TensorType& t = types.at(index).tensor;
  return ref::Tensor(t.dtype, to_ints(t.sizes, a));
}

ir::TensorType layout_type(ir::DType dtype, std::vector<sym::Expr> sizes, const ir::Device& device,
                           std::optional<ir::MemoryFormat> format) {
  ir::TensorType t = make_type(dtype, sizes, device);
  bool cl2 = format == ir::MemoryFormat::kChannelsLast && sizes.size() == 4;
  bool cl3 = format == ir::MemoryFormat::kChannelsLast3d && sizes.size() == 5;
  if (!cl2 && !cl3) return t;
  // Channels (dim 1) innermost, then the spatial dims from last to first, then the batch.
  std::vector<size_t> order = {1};
  for (size_t d = sizes.size() - 1; d >= 2; --d)
    order.push_back(d);
  order.push_back(0);
  sym::Expr running = 1;
  for (size_t d : order) {
    t.strides[d] = running;
    if (!is_known(sizes[d], 0)) running = running * sizes[d];
  }
  return t;
}

void check_strided_layout(const Args& a, std::string_view name) {
  const ir::Argument& arg = a.raw(name);
  if (std::holds_alternative<ir::NoneArg>(arg)) return;
  const auto* layout = std::get_if<ir::Layout>(&arg);
  if (layout == nullptr) a.fail("argument '", name, "' is not a layout");
  if (*layout != ir::Layout::kStrided) {
    a.fail("layout ", ir::layout_name(*layout), " is not supported: kiln has strided tensors only");
  }
}

}  // namespace kiln::ops
