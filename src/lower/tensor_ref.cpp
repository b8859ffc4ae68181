#include <utility>

#include "lower/lowering.h"
#include "util/error.h"

namespace kiln::lower {

struct TensorRef::State {
  ir::DType dtype = ir::DType::kFloat32;
  std::vector<sym::Expr> sizes;
  LoadFn load;
  int cost = 0;
  std::optional<BufferId> buffer;
  std::optional<BufferId> channels_last;
  std::string origin;  // the graph node that produced it
};

TensorRef::TensorRef(ir::DType dtype, std::vector<sym::Expr> sizes, LoadFn load, int cost)
    : state_(std::make_shared<State>()) {
  state_->dtype = dtype;
  state_->sizes = std::move(sizes);
  state_->load = std::move(load);
  state_->cost = cost;
}

TensorRef TensorRef::of_buffer(const Buffer& buffer, BufferId id) {
  TensorRef t(buffer.dtype, buffer.sizes, nullptr, 0);
  t.state_->buffer = id;
  return t;
}

ir::DType TensorRef::dtype() const { return state_->dtype; }
const std::vector<sym::Expr>& TensorRef::sizes() const { return state_->sizes; }
int TensorRef::cost() const { return state_->buffer ? 0 : state_->cost; }
bool TensorRef::realized() const { return state_->buffer.has_value(); }
BufferId TensorRef::buffer() const {
  if (!state_->buffer) throw error("internal: buffer() of a tensor that is not realized");
  return *state_->buffer;
}

void TensorRef::mark_realized(BufferId id) const {
  state_->buffer = id;
  state_->load = nullptr;
}

std::optional<BufferId> TensorRef::channels_last() const { return state_->channels_last; }

void TensorRef::mark_channels_last(BufferId id, LoadFn view) const {
  state_->channels_last = id;
  state_->load = std::move(view);
  state_->cost = 1;
}

void TensorRef::set_cost(int cost) const { state_->cost = cost; }

void TensorRef::set_origin(const std::string& label) const {
  if (state_->origin.empty()) state_->origin = label;
}

int32_t TensorRef::load(BodyBuilder& b, const Index& index) const {
  if (index.size() != state_->sizes.size()) {
    throw error("internal: a rank-", state_->sizes.size(), " tensor loaded with ", index.size(),
                " indices");
  }
  if (state_->buffer) return b.load(*state_->buffer, state_->dtype, ravel(index, state_->sizes));
  if (!state_->origin.empty()) b.note_origin(state_->origin);
  return state_->load(b, index);
}

sym::Expr ravel(const Index& index, const std::vector<sym::Expr>& sizes) {
  sym::Expr flat = 0;
  for (size_t d = 0; d < index.size(); ++d) flat = flat * sizes[d] + index[d];
  return flat;
}

Index unravel(const sym::Expr& flat, const std::vector<sym::Expr>& sizes) {
  Index out(sizes.size());
  sym::Expr stride = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == sym::Expr(1)) {
      out[d] = 0;
      continue;
    }
    // The outermost dim needs no modulo: the flat index is in range.
    out[d] = d == 0 ? sym::floor_div(flat, stride) : sym::mod(sym::floor_div(flat, stride), sizes[d]);
    stride = stride * sizes[d];
  }
  return out;
}

Index broadcast_index(const Index& out_index, const std::vector<sym::Expr>& sizes) {
  if (sizes.size() > out_index.size()) {
    throw error("internal: broadcasting a rank-", sizes.size(), " tensor to rank ", out_index.size());
  }
  Index in(sizes.size());
  const size_t offset = out_index.size() - sizes.size();
  for (size_t d = 0; d < sizes.size(); ++d) {
    in[d] = sizes[d] == sym::Expr(1) ? sym::Expr(0) : out_index[offset + d];
  }
  return in;
}

}  // namespace kiln::lower
