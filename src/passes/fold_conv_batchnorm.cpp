// fold_conv_batchnorm: a convolution whose only user chain is pointwise mul / div / add / sub
// by constants that vary along the output channel alone (inference batch norm after decompose:
// (y - mean) * rstd * gamma + beta) computes what one convolution with a rescaled weight and a
// shifted bias computes. The chain's ops are replayed on a per-channel scale and on the bias, as
// new constant-only nodes that fold_constants then evaluates once; the weight (viewed per output
// channel) is multiplied by the scale once. The convolution moves to the chain's end, takes the
// new weight and bias, and the chain is dropped.
//
// A chain ends at the first op that is none of these, whose other operand is not a constant
// broadcasting along the channel dim only ([C, 1, 1], [1, C, 1, 1], a scalar, a number), whose
// result changes dtype or shape, or whose input has another user or is a graph output (the
// values in between are dropped, so nothing else may read them). Weight, bias and operands must
// share the convolution's floating dtype: the replayed ops then round in the dtype the weights
// are kept in, and the folded result differs from the original by rounding alone.
#include <set>

#include "ir/graph_edit.h"
#include "ops/op_table.h"
#include "passes/foldable_ops.h"
#include "passes/passes.h"
#include "passes/view_layout.h"

namespace kiln::passes {
namespace {

using ir::ValueId;

const ir::Argument* arg_of(const ir::Node& n, std::string_view name) {
  int i = ir::input_index(n, name);
  return i < 0 ? nullptr : &n.inputs[static_cast<size_t>(i)].arg;
}

std::optional<ValueId> tensor_of(const ir::Argument* a) {
  if (a == nullptr) return std::nullopt;
  if (const auto* t = std::get_if<ir::TensorArg>(a)) return t->value;
  if (const auto* o = std::get_if<ir::OptionalTensorArg>(a)) return o->value;
  return std::nullopt;
}

// A number known at compile time (int or float), as a plain literal argument.
std::optional<ir::Argument> number_literal(const ir::Argument& a) {
  if (std::holds_alternative<int64_t>(a) || std::holds_alternative<double>(a)) return a;
  if (const auto* s = std::get_if<ir::SymIntArg>(&a); s && !s->value) return s->literal;
  if (const auto* s = std::get_if<ir::SymFloatArg>(&a); s && !s->value) return s->literal;
  return std::nullopt;
}

double number_value(const ir::Argument& a) {
  if (const auto* i = std::get_if<int64_t>(&a)) return static_cast<double>(*i);
  return std::get<double>(a);
}

ir::Argument negated(const ir::Argument& a) {
  if (const auto* i = std::get_if<int64_t>(&a)) return -*i;
  return -std::get<double>(a);
}

bool foldable_dtype(ir::DType t) {
  return t == ir::DType::kFloat32 || t == ir::DType::kFloat64 || t == ir::DType::kFloat16 ||
         t == ir::DType::kBFloat16;
}

bool static_sizes(const ir::TensorType& t) {
  for (const sym::Expr& s : t.sizes) {
    if (!s.is_const()) return false;
  }
  return true;
}

std::vector<int64_t> const_sizes(const ir::TensorType& t) {
  std::vector<int64_t> out;
  for (const sym::Expr& s : t.sizes)
    out.push_back(s.value());
  return out;
}

enum class Arith { kMul, kDiv, kAdd, kSub };

std::optional<Arith> arith_of(std::string_view target) {
  if (target == "aten.mul.Tensor" || target == "aten.mul.Scalar") return Arith::kMul;
  if (target == "aten.div.Tensor" || target == "aten.div.Scalar") return Arith::kDiv;
  if (target == "aten.add.Tensor" || target == "aten.add.Scalar") return Arith::kAdd;
  if (target == "aten.sub.Tensor" || target == "aten.sub.Scalar") return Arith::kSub;
  return std::nullopt;
}

// The other operand of a chain op: a constant tensor broadcasting along the channel dim (per
// channel when `per_channel`, else one element), or a number.
struct Operand {
  std::optional<ValueId> tensor;
  bool per_channel = false;
  ir::Argument number;
};

Operand number_operand(const ir::Argument& number) {
  Operand o;
  o.number = number;
  return o;
}

// One op of the chain: y = target(y, c) (or target(c, y) when !chain_is_self).
struct Step {
  size_t node = 0;
  Arith arith = Arith::kMul;
  std::string target;
  bool chain_is_self = true;
  Operand operand;
  ir::Argument alpha = int64_t{1};  // add / sub only
};

// What a convolution's weight is worked on as: `work` sizes, in which the output channel is
// `channel_shape`'s non-1 dims (for a transposed convolution the weight is [C_in, C_out/g, k...]
// and is viewed as [g, C_in/g, C_out/g, k...]).
struct WeightLayout {
  std::vector<int64_t> weight, work, channel_shape;
  int64_t out_channels = 0;
};

class ConvBatchNormFolder {
 public:
  explicit ConvBatchNormFolder(ir::ExportedProgram& p) : p_(p), g_(p.graph) {}

  void run() {
    find_constants();
    count_uses();
    std::vector<bool> drop(g_.nodes.size(), false);
    std::map<size_t, std::vector<ir::Node>> insert_at;  // replacing the chain's last node
    std::vector<std::pair<ValueId, ValueId>> rewires;
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      const ir::Node& conv = g_.nodes[k];
      if (conv.target != "aten.convolution.default") continue;
      std::optional<WeightLayout> layout = weight_layout(conv);
      if (!layout) continue;
      std::vector<Step> chain = chain_after(conv, *layout);
      if (chain.empty()) continue;
      std::vector<ir::Node> made = fold(conv, *layout, chain);
      ValueId conv_out = ir::node_outputs(conv)[0];
      ValueId chain_out = ir::node_outputs(g_.nodes[chain.back().node])[0];
      drop[k] = true;
      for (const Step& s : chain)
        drop[s.node] = true;
      insert_at[chain.back().node] = std::move(made);
      rewires.emplace_back(chain_out, conv_out);
    }
    if (rewires.empty()) return;
    std::vector<ir::Node> nodes;
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      if (auto it = insert_at.find(k); it != insert_at.end()) {
        for (ir::Node& n : it->second)
          nodes.push_back(std::move(n));
      }
      if (!drop[k]) nodes.push_back(std::move(g_.nodes[k]));
    }
    g_.nodes = std::move(nodes);
    ir::renumber_producers(g_);
    for (const auto& [from, to] : rewires)
      ir::replace_uses(p_, from, to);
    ir::compact(p_);
  }

 private:
  ir::ExportedProgram& p_;
  ir::Graph& g_;
  std::vector<bool> is_const_;
  std::vector<int> uses_;
  std::vector<int> user_;  // the node reading a value (the last one, for several)
  std::vector<bool> is_output_;

  bool constant(ValueId id) const { return is_const_[static_cast<size_t>(id)]; }
  const ir::Value& value(ValueId id) const { return g_.values[static_cast<size_t>(id)]; }

  // As fold_constants decides: parameters, buffers and tensor constants the program never
  // writes, literal inputs, and results of deterministic ops on constants with static sizes.
  void find_constants() {
    is_const_.assign(g_.values.size(), false);
    std::set<std::string> written;
    for (const ir::OutputSpec& o : p_.signature.outputs) {
      if (o.kind == ir::OutputKind::kBufferMutation ||
          o.kind == ir::OutputKind::kParameterMutation) {
        written.insert(o.target);
      }
    }
    for (size_t i = 0; i < p_.signature.inputs.size() && i < g_.inputs.size(); ++i) {
      const ir::InputSpec& spec = p_.signature.inputs[i];
      auto id = static_cast<size_t>(g_.inputs[i]);
      switch (spec.kind) {
        case ir::InputKind::kParameter:
        case ir::InputKind::kBuffer:
        case ir::InputKind::kTensorConstant:
          is_const_[id] = !written.count(spec.target);
          break;
        case ir::InputKind::kConstantInput:
          is_const_[id] = g_.values[id].kind == ir::ValueKind::kConstant;
          break;
        default:
          break;
      }
    }
    for (const ir::Node& n : g_.nodes) {
      if (!constant_node(n)) continue;
      for (ValueId id : ir::node_outputs(n))
        is_const_[static_cast<size_t>(id)] = true;
    }
  }

  bool constant_node(const ir::Node& n) const {
    return evaluable_at_compile_time(g_, n, [&](ValueId id) { return constant(id); });
  }

  void count_uses() {
    uses_ = ir::use_counts(g_);
    user_.assign(g_.values.size(), -1);
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      for (const ir::NamedArgument& in : g_.nodes[k].inputs) {
        for (ValueId id : ir::argument_values(in.arg))
          user_[static_cast<size_t>(id)] = static_cast<int>(k);
      }
    }
    is_output_.assign(g_.values.size(), false);
    for (const ir::Argument& a : g_.outputs) {
      for (ValueId id : ir::argument_values(a))
        is_output_[static_cast<size_t>(id)] = true;
    }
  }

  // The weight's layout when the convolution can take a folded weight and bias: constant
  // weight and bias of its floating dtype, static weight sizes, literal groups.
  std::optional<WeightLayout> weight_layout(const ir::Node& conv) const {
    auto outs = ir::node_outputs(conv);
    std::optional<ValueId> w = tensor_of(arg_of(conv, "weight"));
    const ir::Argument* bias = arg_of(conv, "bias");
    const ir::Argument* transposed = arg_of(conv, "transposed");
    const ir::Argument* groups_arg = arg_of(conv, "groups");
    if (outs.size() != 1 || !w || bias == nullptr || transposed == nullptr ||
        groups_arg == nullptr || !constant(*w) || constant(outs[0])) {
      return std::nullopt;
    }
    const ir::TensorType& out = value(outs[0]).type;
    const ir::TensorType& wt = value(*w).type;
    if (!foldable_dtype(out.dtype) || wt.dtype != out.dtype || !static_sizes(wt) || wt.rank() < 3 ||
        out.rank() != wt.rank()) {
      return std::nullopt;
    }
    if (std::optional<ValueId> b = tensor_of(bias)) {
      if (!constant(*b) || value(*b).type.dtype != out.dtype) return std::nullopt;
    } else if (!std::holds_alternative<ir::NoneArg>(*bias)) {
      return std::nullopt;
    }
    const auto* is_transposed = std::get_if<bool>(transposed);
    std::optional<ir::Argument> groups = number_literal(*groups_arg);
    if (is_transposed == nullptr || !groups || !std::holds_alternative<int64_t>(*groups)) {
      return std::nullopt;
    }
    const int64_t g = std::get<int64_t>(*groups);
    WeightLayout l;
    l.weight = const_sizes(wt);
    const size_t rank = l.weight.size();
    if (!*is_transposed) {
      l.out_channels = l.weight[0];
      l.work = l.weight;
      l.channel_shape.assign(rank, 1);
      l.channel_shape[0] = l.out_channels;
    } else {
      if (g < 1 || l.weight[0] % g != 0) return std::nullopt;
      l.out_channels = l.weight[1] * g;
      l.work = {g, l.weight[0] / g, l.weight[1]};
      l.work.insert(l.work.end(), l.weight.begin() + 2, l.weight.end());
      l.channel_shape.assign(rank + 1, 1);
      l.channel_shape[0] = g;
      l.channel_shape[2] = l.weight[1];
    }
    if (out.sizes[1] != sym::Expr(l.out_channels)) return std::nullopt;
    return l;
  }

  // The longest run of foldable ops after the convolution.
  std::vector<Step> chain_after(const ir::Node& conv, const WeightLayout& l) const {
    const ValueId conv_out = ir::node_outputs(conv)[0];
    const ir::TensorType& out = value(conv_out).type;
    std::vector<Step> chain;
    for (ValueId cur = conv_out;;) {
      auto c = static_cast<size_t>(cur);
      if (uses_[c] != 1 || is_output_[c] || user_[c] < 0) break;
      std::optional<Step> step = step_of(static_cast<size_t>(user_[c]), cur, out, l);
      if (!step) break;
      cur = ir::node_outputs(g_.nodes[step->node])[0];
      chain.push_back(std::move(*step));
    }
    return chain;
  }

  std::optional<Step> step_of(size_t k, ValueId cur, const ir::TensorType& out,
                              const WeightLayout& l) const {
    const ir::Node& n = g_.nodes[k];
    std::optional<Arith> arith = arith_of(n.target);
    const ir::Argument* self = arg_of(n, "self");
    const ir::Argument* other = arg_of(n, "other");
    if (!arith || self == nullptr || other == nullptr) return std::nullopt;
    Step s;
    s.node = k;
    s.arith = *arith;
    s.target = n.target;
    const bool in_self = tensor_of(self) == cur, in_other = tensor_of(other) == cur;
    if (in_self == in_other) return std::nullopt;
    s.chain_is_self = in_self;
    if (!s.chain_is_self && s.arith == Arith::kDiv) return std::nullopt;  // c / y: not affine
    std::optional<Operand> operand = operand_of(in_self ? *other : *self, out, l);
    if (!operand) return std::nullopt;
    s.operand = std::move(*operand);
    if (const ir::Argument* alpha = arg_of(n, "alpha")) {
      std::optional<ir::Argument> lit = number_literal(*alpha);
      if (!lit) return std::nullopt;
      s.alpha = *lit;
    }
    auto outs = ir::node_outputs(n);
    if (outs.size() != 1) return std::nullopt;
    const ir::TensorType& t = value(outs[0]).type;
    if (t.dtype != out.dtype || t.sizes != out.sizes) return std::nullopt;
    return s;
  }

  // A number, or a constant tensor of the convolution's dtype whose dims, aligned to the
  // output's from the right, are 1 except the channel dim (1 or C).
  std::optional<Operand> operand_of(const ir::Argument& a, const ir::TensorType& out,
                                    const WeightLayout& l) const {
    Operand o;
    if (std::optional<ir::Argument> lit = number_literal(a)) {
      o.number = *lit;
      return o;
    }
    std::optional<ValueId> id = tensor_of(&a);
    if (!id || !constant(*id) || value(*id).kind != ir::ValueKind::kTensor) return std::nullopt;
    const ir::TensorType& t = value(*id).type;
    if (t.dtype != out.dtype || !static_sizes(t) || t.rank() > out.rank()) return std::nullopt;
    const size_t lead = out.rank() - t.rank();
    for (size_t d = 0; d < t.rank(); ++d) {
      int64_t size = t.sizes[d].value();
      if (size == 1) continue;
      if (d + lead != 1 || size != l.out_channels) return std::nullopt;
      o.per_channel = true;
    }
    o.tensor = id;
    return o;
  }

  // Builds the new weight and bias nodes, then the convolution that reads them.
  std::vector<ir::Node> fold(const ir::Node& conv, const WeightLayout& l,
                             const std::vector<Step>& chain) {
    std::vector<ir::Node> made;
    auto emit = [&](std::string_view target, const ir::CallArgs& args, const std::string& base) {
      ir::Node n = ir::make_node(g_, target, args, base);
      refresh_view_layout(g_, n, p_.ranges);
      ValueId out = ir::node_outputs(n)[0];
      made.push_back(std::move(n));
      return out;
    };
    auto reshape = [&](ValueId v, const std::vector<int64_t>& sizes, const std::string& base) {
      if (const_sizes(value(v).type) == sizes) return v;
      return emit("aten.reshape.default", {{"self", ir::TensorArg{v}}, {"shape", sizes}}, base);
    };
    const std::string wname = conv.name + "_weight", bname = conv.name + "_bias";
    const std::string sname = conv.name + "_scale";
    const ir::TensorType wtype = value(*tensor_of(arg_of(conv, "weight"))).type;
    ValueId w = reshape(*tensor_of(arg_of(conv, "weight")), l.work, wname);
    std::optional<ValueId> b = tensor_of(arg_of(conv, "bias"));
    const std::vector<int64_t> bias_shape{l.out_channels}, one{1};

    // The operand as the per-channel scale and the bias broadcast it.
    auto per_channel = [&](const Operand& o) -> ir::Argument {
      if (!o.tensor) return o.number;
      return ir::TensorArg{reshape(*o.tensor, o.per_channel ? bias_shape : one, sname)};
    };
    auto ones = [&](const std::string& base) {
      return emit("aten.full.default",
                  {{"size", bias_shape},
                   {"fill_value", int64_t{1}},
                   {"dtype", ir::ScalarTypeArg{wtype.dtype}},
                   {"device", wtype.device}},
                  base);
    };
    auto bias_or_zeros = [&]() -> ir::Argument {
      if (b) return ir::TensorArg{*b};
      return ir::TensorArg{emit("aten.full.default",
                                {{"size", bias_shape},
                                 {"fill_value", int64_t{0}},
                                 {"dtype", ir::ScalarTypeArg{wtype.dtype}},
                                 {"device", wtype.device}},
                                bname)};
    };
    // Scales gather into one [C] factor, so the weight (the large operand) is multiplied once.
    std::optional<ValueId> scale;
    auto scale_both = [&](std::string_view target, const Operand& o) {
      ir::Argument by = per_channel(o);
      if (!scale && arith_of(target) == Arith::kMul && o.per_channel) {
        scale = std::get<ir::TensorArg>(by).value;
      } else {
        scale = emit(target, {{"self", ir::TensorArg{scale ? *scale : ones(sname)}}, {"other", by}},
                     sname);
      }
      if (b) b = emit(target, {{"self", ir::TensorArg{*b}}, {"other", by}}, bname);
    };
    auto shift = [&](std::string_view target, const Operand& o, const ir::Argument& alpha) {
      ir::Argument base = bias_or_zeros();
      ir::CallArgs args{{"self", base}, {"other", per_channel(o)}};
      if (number_value(alpha) != 1) args.emplace_back("alpha", alpha);
      b = emit(target, args, bname);
    };

    for (const Step& s : chain) {
      switch (s.arith) {
        case Arith::kMul:
        case Arith::kDiv:
          scale_both(s.target, s.operand);
          break;
        case Arith::kAdd:
          if (s.chain_is_self) {
            shift(s.target, s.operand, s.alpha);
          } else {  // c + alpha * y
            if (number_value(s.alpha) != 1) scale_both("aten.mul.Tensor", number_operand(s.alpha));
            shift("aten.add.Tensor", s.operand, int64_t{1});
          }
          break;
        case Arith::kSub:
          if (s.chain_is_self) {
            shift(s.target, s.operand, s.alpha);
          } else {  // c - alpha * y
            scale_both("aten.mul.Tensor", number_operand(negated(s.alpha)));
            shift("aten.add.Tensor", s.operand, int64_t{1});
          }
          break;
      }
    }
    if (scale) {
      ValueId by = reshape(*scale, l.channel_shape, sname);
      w = emit("aten.mul.Tensor", {{"self", ir::TensorArg{w}}, {"other", ir::TensorArg{by}}},
               wname);
    }
    w = reshape(w, l.weight, wname);

    ir::Node folded = conv;
    folded.inputs[static_cast<size_t>(ir::input_index(conv, "weight"))].arg = ir::TensorArg{w};
    ir::Argument& bias = folded.inputs[static_cast<size_t>(ir::input_index(conv, "bias"))].arg;
    if (b) bias = ir::TensorArg{*b};
    made.push_back(std::move(folded));
    return made;
  }
};

}  // namespace

void fold_conv_batchnorm(ir::ExportedProgram& program) {
  ConvBatchNormFolder(program).run();
}

}  // namespace kiln::passes
