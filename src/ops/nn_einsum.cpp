// einsum: the equation parsed as torch.einsum does (subscripts a-z A-Z, one "..." per term,
// implicit output when "->" is absent, repeated subscripts within an operand take a diagonal,
// size-1 dims broadcast against other operands). The reference sums over the whole index
// space at once; `path` only orders the contractions, so it does not change the result.
//
// The decomposition takes diagonals by masking, sums away subscripts no later operand or the
// output needs, and contracts the operands left to right, one bmm per pair.
#include <algorithm>
#include <array>

#include "ops/decompose_util.h"
#include "ops/nn_util.h"

namespace kiln::ops::nn {
namespace {

constexpr int kLabels = 52;  // 'A'..'Z' then 'a'..'z': ASCII order, as torch sorts them

struct Term {
  std::vector<int> labels;
  int ellipsis_at = -1;  // position of "..." among the labels, -1 if none
};

struct Equation {
  std::vector<Term> inputs;
  Term output;
  bool explicit_output = false;
};

int label_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -1;
}

char label_char(int l) {
  return static_cast<char>(l < 26 ? 'A' + l : 'a' + (l - 26));
}

Equation parse(const std::string& eq, const Args& a) {
  Equation out;
  Term cur;
  bool in_output = false;
  for (size_t i = 0; i < eq.size(); ++i) {
    char c = eq[i];
    if (c == ' ') continue;
    if (c == ',') {
      if (in_output) a.fail("einsum(): ',' after '->' in the equation");
      out.inputs.push_back(cur);
      cur = Term{};
    } else if (c == '-' && i + 1 < eq.size() && eq[i + 1] == '>') {
      if (in_output) a.fail("einsum(): '->' appears more than once in the equation");
      out.inputs.push_back(cur);
      cur = Term{};
      in_output = true;
      ++i;
    } else if (c == '.') {
      if (eq.compare(i, 3, "...") != 0) {
        a.fail("einsum(): found '.' that is not part of any ellipsis at index ", i);
      }
      if (cur.ellipsis_at >= 0) a.fail("einsum(): found more than one ellipsis in a term");
      cur.ellipsis_at = static_cast<int>(cur.labels.size());
      i += 2;
    } else if (label_of(c) >= 0) {
      cur.labels.push_back(label_of(c));
    } else {
      a.fail("einsum(): invalid subscript given at index ", i,
             " in the equation string, subscripts must be in [a-zA-Z]");
    }
  }
  if (in_output) {
    out.output = cur;
    out.explicit_output = true;
  } else {
    out.inputs.push_back(cur);
  }
  return out;
}

// Sizes of one subscript seen across operands: equal, or 1 broadcasting to the other.
sym::Expr combine(const sym::Expr& cur, const sym::Expr& next, const Args& a,
                  std::string_view what) {
  if (cur == next || next == sym::Expr(1)) return cur;
  if (cur == sym::Expr(1)) return next;
  if (cur.is_const() && next.is_const()) {
    a.fail("einsum(): ", what, " has size ", next.str(),
           " which does not broadcast with previously seen size ", cur.str());
  }
  return cur.is_const() ? cur : next;
}

// The equation bound to the operands' shapes.
struct Plan {
  Equation eq;
  size_t ell_rank = 0;               // dims covered by "..." (the widest operand's)
  std::vector<sym::Expr> ell_sizes;  // broadcast over operands
  std::array<std::optional<sym::Expr>, kLabels> label_size{};  // set for labels in use
  std::vector<size_t> ell_count;                               // per operand
};

Plan plan(const Args& a, const std::vector<std::optional<ir::TensorType>>& types) {
  Plan p;
  p.eq = parse(a.str("equation"), a);
  Equation& eq = p.eq;
  if (types.empty()) a.fail("einsum(): must provide at least one operand");
  if (eq.inputs.size() != types.size()) {
    a.fail("einsum(): the equation has ", eq.inputs.size(), " operand terms but ", types.size(),
           " operands were given");
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (!types[i]) a.fail("einsum(): operand ", i, " is None");
    if (types[i]->dtype != types[0]->dtype) {
      a.fail("einsum(): operands must share one dtype, got ", ir::dtype_name(types[0]->dtype),
             " and ", ir::dtype_name(types[i]->dtype));
    }
    const Term& t = eq.inputs[i];
    size_t rank = types[i]->rank();
    if (t.ellipsis_at < 0 ? rank != t.labels.size() : rank < t.labels.size()) {
      a.fail("einsum(): the number of subscripts in the equation (", t.labels.size(),
             ") does not match the number of dimensions (", rank, ") for operand ", i,
             t.ellipsis_at < 0 ? " and no ellipsis was given" : "");
    }
    p.ell_count.push_back(t.ellipsis_at < 0 ? 0 : rank - t.labels.size());
    p.ell_rank = std::max(p.ell_rank, p.ell_count.back());
  }
  check_numeric(types[0]->dtype, a, "einsum");
  p.ell_sizes.assign(p.ell_rank, sym::Expr(1));
  for (size_t i = 0; i < types.size(); ++i) {
    const Term& t = eq.inputs[i];
    const auto& sizes = types[i]->sizes;
    size_t ell = p.ell_count[i];
    std::array<std::optional<sym::Expr>, kLabels> own{};
    for (size_t j = 0; j < t.labels.size(); ++j) {
      size_t dim = t.ellipsis_at >= 0 && j >= static_cast<size_t>(t.ellipsis_at) ? j + ell : j;
      int l = t.labels[j];
      const sym::Expr& s = sizes[dim];
      if (own[l]) {
        check_same(*own[l], s, a, "einsum(): subscript ", label_char(l),
                   " is repeated for operand ", i, " but the sizes don't match, ", own[l]->str(),
                   " != ", s.str());
        continue;
      }
      own[l] = s;
      std::string what =
          std::string("subscript ") + label_char(l) + " for operand " + std::to_string(i);
      p.label_size[l] = p.label_size[l] ? combine(*p.label_size[l], s, a, what) : s;
    }
    for (size_t j = 0; j < ell; ++j) {
      size_t axis = p.ell_rank - ell + j;
      std::string what =
          "dimension " + std::to_string(j) + " covered by ellipsis in operand " + std::to_string(i);
      p.ell_sizes[axis] =
          combine(p.ell_sizes[axis], sizes[static_cast<size_t>(t.ellipsis_at) + j], a, what);
    }
  }
  if (eq.explicit_output) {
    std::array<bool, kLabels> seen{};
    for (int l : eq.output.labels) {
      if (!p.label_size[l]) {
        a.fail("einsum(): output subscript ", label_char(l),
               " does not appear in the equation for any input operand");
      }
      if (seen[l]) a.fail("einsum(): output subscript ", label_char(l), " appears more than once");
      seen[l] = true;
    }
  } else {
    // Implicit output: "..." first when any operand has one, then the subscripts seen exactly
    // once, in sorted order.
    std::array<int, kLabels> count{};
    bool any_ellipsis = false;
    for (const Term& t : eq.inputs) {
      for (int l : t.labels)
        ++count[l];
      any_ellipsis = any_ellipsis || t.ellipsis_at >= 0;
    }
    eq.output = Term{};
    if (any_ellipsis) eq.output.ellipsis_at = 0;
    for (int l = 0; l < kLabels; ++l) {
      if (count[l] == 1) eq.output.labels.push_back(l);
    }
  }
  return p;
}

// The output's dims: an axis of the index space each, ellipsis axes first (0..ell_rank), then
// one per label (ell_rank + label).
std::vector<size_t> output_axes(const Plan& p) {
  std::vector<size_t> axes;
  const Term& t = p.eq.output;
  for (size_t j = 0; j <= t.labels.size(); ++j) {
    if (t.ellipsis_at == static_cast<int>(j)) {
      for (size_t e = 0; e < p.ell_rank; ++e)
        axes.push_back(e);
    }
    if (j < t.labels.size()) axes.push_back(p.ell_rank + static_cast<size_t>(t.labels[j]));
  }
  return axes;
}

std::vector<OutType> einsum_shape(const Args& a) {
  auto types = a.types("tensors");
  Plan p = plan(a, types);
  std::vector<sym::Expr> sizes;
  for (size_t axis : output_axes(p)) {
    sizes.push_back(axis < p.ell_rank ? p.ell_sizes[axis] : *p.label_size[axis - p.ell_rank]);
  }
  return {make_type(types[0]->dtype, std::move(sizes), types[0]->device)};
}

std::vector<ref::RValue> einsum_ref(const Args& a) {
  auto operands = a.tensors("tensors");
  std::vector<std::optional<ir::TensorType>> types;
  for (const ref::Tensor* t : operands) {
    types.push_back(make_type(t->dtype(), to_exprs(t->sizes()), {}));
  }
  Plan p = plan(a, types);
  ref::Tensor out = alloc_output(a);
  // The index space: the ellipsis axes, then every label (unused labels have size 1).
  std::vector<int64_t> space(p.ell_rank + kLabels, 1);
  for (size_t e = 0; e < p.ell_rank; ++e)
    space[e] = *p.ell_sizes[e].as_const();
  for (int l = 0; l < kLabels; ++l) {
    if (p.label_size[l]) space[p.ell_rank + static_cast<size_t>(l)] = *p.label_size[l]->as_const();
  }
  // Each operand dim and output dim reads one axis of the index space; a size-1 operand dim
  // under a wider axis is broadcast (always index 0).
  std::vector<std::vector<size_t>> operand_axes(operands.size());
  for (size_t i = 0; i < operands.size(); ++i) {
    const Term& t = p.eq.inputs[i];
    size_t ell = p.ell_count[i];
    for (size_t j = 0; j <= t.labels.size(); ++j) {
      if (t.ellipsis_at == static_cast<int>(j)) {
        for (size_t e = 0; e < ell; ++e)
          operand_axes[i].push_back(p.ell_rank - ell + e);
      }
      if (j < t.labels.size()) {
        operand_axes[i].push_back(p.ell_rank + static_cast<size_t>(t.labels[j]));
      }
    }
  }
  std::vector<size_t> out_axes = output_axes(p);
  int64_t total = 1;
  for (int64_t s : space)
    total *= s;
  bool floating = out.is_floating();
  std::vector<double> acc_f(static_cast<size_t>(out.numel()), 0.0);
  std::vector<uint64_t> acc_i(static_cast<size_t>(out.numel()), 0);
  std::vector<int64_t> index(space.size(), 0);
  for (int64_t flat = 0; flat < total; ++flat) {
    double pf = 1;
    uint64_t pi = 1;
    for (size_t i = 0; i < operands.size(); ++i) {
      const ref::Tensor& t = *operands[i];
      int64_t off = 0;
      for (size_t d = 0; d < operand_axes[i].size(); ++d) {
        int64_t size = t.size(static_cast<int64_t>(d));
        off = off * size + (size == 1 ? 0 : index[operand_axes[i][d]]);
      }
      if (floating) {
        pf *= t.get(off);
      } else {
        pi *= static_cast<uint64_t>(t.get_int(off));
      }
    }
    int64_t o = 0;
    for (size_t d = 0; d < out_axes.size(); ++d)
      o = o * out.size(static_cast<int64_t>(d)) + index[out_axes[d]];
    acc_f[static_cast<size_t>(o)] += pf;
    acc_i[static_cast<size_t>(o)] += pi;
    for (size_t d = space.size(); d-- > 0;) {  // next point of the index space
      if (++index[d] < space[d]) break;
      index[d] = 0;
    }
  }
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (floating) {
      out.set(i, acc_f[static_cast<size_t>(i)]);
    } else {
      out.set_int(i, static_cast<int64_t>(acc_i[static_cast<size_t>(i)]));
    }
  }
  return ref::single_result(std::move(out));
}

// ---- Decomposition ----

// An operand being decomposed: its value and the index-space axis of each of its dims.
struct Operand {
  ir::ValueId value = -1;
  std::vector<size_t> axes;
  bool has(size_t axis) const { return std::find(axes.begin(), axes.end(), axis) != axes.end(); }
  int64_t dim_of(size_t axis) const {
    return static_cast<int64_t>(std::find(axes.begin(), axes.end(), axis) - axes.begin());
  }
};

// Sums dims away, keeping the operands' dtype (sum would widen integers to int64).
ir::ValueId sum_dims(Decomposer& d, ir::ValueId v, const std::vector<int64_t>& dims) {
  if (dims.empty()) return v;
  return d.emit("aten.sum.dim_IntList", {{"self", tensor_arg(v)},
                                         {"dim", dims},
                                         {"keepdim", false},
                                         {"dtype", ir::ScalarTypeArg{d.dtype(v)}}});
}

// One subscript twice in an operand (dims d1 < d2): off-diagonal entries masked to 0, then d2
// summed away, which leaves the diagonal along d1.
void take_diagonal(Decomposer& d, Operand& o, size_t d1, size_t d2) {
  ir::SymIntArg n = d.dim(o.value, static_cast<int64_t>(d1));
  ir::ValueId idx = d.emit("aten.arange.default",
                           {{"end", int_arg(n)}, {"dtype", ir::ScalarTypeArg{ir::DType::kInt64}}});
  ir::ValueId eye = d.binary("aten.eq.Tensor", d.unsqueeze(idx, 1), tensor_arg(idx));
  std::vector<ir::SymIntArg> shape(o.axes.size(), literal(1));
  shape[d1] = n;
  shape[d2] = n;
  ir::ValueId mask = d.reshape(eye, shape);
  ir::ValueId kept = d.emit(
      "aten.where.ScalarOther",
      {{"condition", tensor_arg(mask)}, {"self", tensor_arg(o.value)}, {"other", int64_t{0}}});
  o.value = sum_dims(d, kept, {static_cast<int64_t>(d2)});
  o.axes.erase(o.axes.begin() + static_cast<std::ptrdiff_t>(d2));
}

class EinsumDecomposition {
 public:
  EinsumDecomposition(Decomposer& d, std::vector<Operand> ops, std::vector<size_t> out)
      : d_(d), ops_(std::move(ops)), out_(std::move(out)) {}

  ir::ValueId run() {
    for (Operand& o : ops_)
      diagonals(o);
    Operand acc = drop_unneeded(ops_[0], 1, nullptr);
    for (size_t i = 1; i < ops_.size(); ++i)
      acc = contract(acc, drop_unneeded(ops_[i], i + 1, &acc), i + 1);
    std::vector<int64_t> perm;
    for (size_t axis : out_)
      perm.push_back(acc.dim_of(axis));
    return d_.permute(acc.value, perm);
  }

 private:
  Decomposer& d_;
  std::vector<Operand> ops_;
  std::vector<size_t> out_;

  void diagonals(Operand& o) {
    for (size_t i = 0; i < o.axes.size(); ++i) {
      for (size_t j = i + 1; j < o.axes.size(); ++j) {
        if (o.axes[i] != o.axes[j]) continue;
        take_diagonal(d_, o, i, j);
        --j;
      }
    }
  }

  // Whether the output or an operand from `from` on reads the axis.
  bool needed(size_t axis, size_t from) const {
    if (std::find(out_.begin(), out_.end(), axis) != out_.end()) return true;
    for (size_t i = from; i < ops_.size(); ++i) {
      if (ops_[i].has(axis)) return true;
    }
    return false;
  }

  // o with the axes nobody after it (nor `other`) reads summed away.
  Operand drop_unneeded(Operand o, size_t from, const Operand* other) {
    std::vector<int64_t> dims;
    Operand kept{o.value, {}};
    for (size_t k = 0; k < o.axes.size(); ++k) {
      if (needed(o.axes[k], from) || (other != nullptr && other->has(o.axes[k]))) {
        kept.axes.push_back(o.axes[k]);
      } else {
        dims.push_back(static_cast<int64_t>(k));
      }
    }
    kept.value = sum_dims(d_, o.value, dims);
    return kept;
  }

  // An axis's size: the operand's where it is not a broadcast 1.
  ir::SymIntArg size_of(size_t axis, const Operand& l, const Operand& r) {
    ir::SymIntArg a = l.has(axis) ? d_.dim(l.value, l.dim_of(axis)) : literal(1);
    ir::SymIntArg b = r.has(axis) ? d_.dim(r.value, r.dim_of(axis)) : literal(1);
    return !a.value && a.literal == 1 ? b : a;
  }

  ir::SymIntArg product(const std::vector<ir::SymIntArg>& sizes) {
    ir::SymIntArg p = literal(1);
    for (const ir::SymIntArg& s : sizes)
      p = d_.mul(p, s);
    return p;
  }

  // o's dims in the order of `groups` (each a list of axes), broadcast to `sizes` and merged
  // into one dim per group.
  ir::ValueId arrange(const Operand& o, const std::vector<const std::vector<size_t>*>& groups,
                      const std::map<size_t, ir::SymIntArg>& sizes) {
    std::vector<int64_t> perm;
    std::vector<ir::SymIntArg> full, merged;
    for (const auto* g : groups) {
      std::vector<ir::SymIntArg> part;
      for (size_t axis : *g) {
        perm.push_back(o.dim_of(axis));
        full.push_back(sizes.at(axis));
        part.push_back(sizes.at(axis));
      }
      merged.push_back(product(part));
    }
    return d_.reshape(d_.expand(d_.permute(o.value, perm), full), merged);
  }

  // l x r as one bmm: [batch, l-only, contracted] x [batch, contracted, r-only].
  Operand contract(const Operand& l, const Operand& r, size_t from) {
    std::vector<size_t> batch, contracted, lo, ro;
    for (size_t axis : l.axes) {
      if (!r.has(axis)) {
        lo.push_back(axis);
      } else if (needed(axis, from)) {
        batch.push_back(axis);
      } else {
        contracted.push_back(axis);
      }
    }
    for (size_t axis : r.axes) {
      if (!l.has(axis)) ro.push_back(axis);
    }
    std::map<size_t, ir::SymIntArg> sizes;
    for (const auto* g : {&batch, &contracted, &lo, &ro}) {
      for (size_t axis : *g)
        sizes.emplace(axis, size_of(axis, l, r));
    }
    ir::ValueId x = arrange(l, {&batch, &lo, &contracted}, sizes);
    ir::ValueId y = arrange(r, {&batch, &contracted, &ro}, sizes);
    ir::ValueId p = d_.emit("aten.bmm.default", {{"self", tensor_arg(x)}, {"mat2", tensor_arg(y)}});
    Operand out;
    std::vector<ir::SymIntArg> shape;
    for (const auto* g : {&batch, &lo, &ro}) {
      for (size_t axis : *g) {
        out.axes.push_back(axis);
        shape.push_back(sizes.at(axis));
      }
    }
    out.value = d_.reshape(p, shape);
    return out;
  }
};

std::vector<ir::ValueId> einsum_decompose(Decomposer& d, const Args& a) {
  std::vector<std::optional<ir::TensorType>> types;
  std::vector<ir::ValueId> ids;
  for (const auto& id : a.tensor_ids("tensors")) {
    if (!id) a.fail("einsum(): an operand is None");
    ids.push_back(*id);
    types.emplace_back(d.type(*id));
  }
  Plan p = plan(a, types);
  std::vector<Operand> ops;
  for (size_t i = 0; i < ids.size(); ++i) {
    const Term& t = p.eq.inputs[i];
    size_t ell = p.ell_count[i];
    Operand o{ids[i], {}};
    for (size_t j = 0; j <= t.labels.size(); ++j) {
      if (t.ellipsis_at == static_cast<int>(j)) {
        for (size_t e = 0; e < ell; ++e)
          o.axes.push_back(p.ell_rank - ell + e);
      }
      if (j < t.labels.size()) o.axes.push_back(p.ell_rank + static_cast<size_t>(t.labels[j]));
    }
    ops.push_back(std::move(o));
  }
  return {EinsumDecomposition(d, std::move(ops), output_axes(p)).run()};
}

const Decomposition kDecompositions[] = {{"aten.einsum.default", einsum_decompose}};

const OpDef kOps[] = {
    {"aten.einsum.default", "einsum(str equation, Tensor[] tensors, *, int[]? path=None) -> Tensor",
     einsum_shape, einsum_ref},
};

}  // namespace

std::span<const OpDef> einsum_ops() {
  return kOps;
}

}  // namespace kiln::ops::nn

namespace kiln::ops {

std::span<const Decomposition> einsum_decompositions() {
  return nn::kDecompositions;
}

}  // namespace kiln::ops
