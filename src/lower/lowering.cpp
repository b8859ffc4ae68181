#include "lower/lowering.h"

#include <algorithm>
#include <map>
#include <set>

#include "ir/graph_edit.h"
#include "ops/op_table.h"
#include "util/error.h"

namespace kiln::lower {

namespace {

// A lazy tensor read by several consumers is computed once into memory when one evaluation
// costs more than this many scalar nodes; any lazy tensor costing more than kMaxInlineCost is
// realized, which bounds the size of generated bodies.
constexpr int kSharedInlineCost = 12;
constexpr int kMaxInlineCost = 160;

std::string c_identifier(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), 'v');
  return out;
}

Index loop_vars(std::string_view prefix, size_t n) {
  Index vars;
  for (size_t d = 0; d < n; ++d) vars.push_back(sym::Expr::symbol(std::string(prefix) + std::to_string(d)));
  return vars;
}

bool has_tensor_output(const ir::Graph& g, const ir::Node& n) {
  for (ir::ValueId v : ir::node_outputs(n)) {
    if (g.values[v].kind == ir::ValueKind::kTensor) return true;
  }
  return false;
}

// The number of scalar nodes one inlined evaluation of t emits.
int measure_cost(const TensorRef& t) {
  if (t.realized()) return 0;
  Body scratch;
  BodyBuilder b(scratch);
  t.load(b, loop_vars("x", t.rank()));
  return static_cast<int>(scratch.nodes.size());
}

ir::DType accumulate_dtype(ReduceOp op, ir::DType in, ir::DType out) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kProd:
      return ir::is_floating(out) ? compute_dtype(out) : ir::DType::kInt64;
    case ReduceOp::kAny:
    case ReduceOp::kAll:
      return ir::DType::kBool;
    default:
      return compute_dtype(in);
  }
}

}  // namespace

sym::Expr Buffer::numel() const {
  sym::Expr n = 1;
  for (const auto& s : sizes) n = n * s;
  return n;
}

Lowering::Lowering(const ir::ExportedProgram& program) : source_(program) {}

TensorRef Lowering::tensor(ir::ValueId v) {
  if (v < 0 || static_cast<size_t>(v) >= values_.size() || !values_[v].valid()) {
    throw error("internal: value ", v < 0 ? std::string("?") : graph().values.at(v).name,
                " is used before it was lowered");
  }
  return values_[v];
}

TensorRef Lowering::tensor(const ops::Args& args, std::string_view name) {
  const ir::Argument& a = args.raw(name);
  if (const auto* t = std::get_if<ir::TensorArg>(&a)) return tensor(t->value);
  if (const auto* o = std::get_if<ir::OptionalTensorArg>(&a); o && o->value) return tensor(*o->value);
  args.fail("argument '", name, "' is not a tensor");
}

std::vector<TensorRef> Lowering::tensors(const ops::Args& args, std::string_view name) {
  std::vector<TensorRef> out;
  for (const auto& id : args.tensor_ids(name)) {
    if (!id) args.fail("argument '", name, "' has a None element");
    out.push_back(tensor(*id));
  }
  return out;
}

const ir::TensorType& Lowering::output_type(const ir::Node& node, int i) const {
  const auto outs = ir::node_outputs(node);
  if (i < 0 || static_cast<size_t>(i) >= outs.size()) {
    throw error("internal: ", label(node), " has no output ", i);
  }
  return graph().values[outs[i]].type;
}

void Lowering::set_output(const ir::Node& node, int i, TensorRef t) {
  const auto outs = ir::node_outputs(node);
  if (i < 0 || static_cast<size_t>(i) >= outs.size()) {
    throw error("internal: ", label(node), " has no output ", i);
  }
  const ir::Value& v = graph().values[outs[i]];
  if (t.dtype() != v.type.dtype || t.sizes() != v.type.sizes) {
    std::string got = std::string(ir::dtype_name(t.dtype())) + "[";
    for (size_t d = 0; d < t.rank(); ++d) got += (d ? ", " : "") + t.sizes()[d].str();
    throw error("internal: lowering of ", label(node), " gives output ", i, " as ", got,
                "], but the graph declares ", v.type.str());
  }
  t.set_origin(label(node));
  values_[outs[i]] = t;
}

TensorRef Lowering::pointwise(ir::DType dtype, std::vector<sym::Expr> sizes, LoadFn fn, int cost) {
  return TensorRef(dtype, std::move(sizes), std::move(fn), cost);
}

std::string Lowering::fresh_kernel_name() { return "kernel" + std::to_string(kernel_counter_++); }

void Lowering::emit(Kernel kernel) {
  Step s;
  s.kernel = std::move(kernel);
  program_.steps.push_back(std::move(s));
}

void Lowering::emit(ExternCall call) {
  Step s;
  s.call = std::move(call);
  program_.steps.push_back(std::move(s));
}

std::pair<BufferId, TensorRef> Lowering::new_buffer(ir::DType dtype, std::vector<sym::Expr> sizes) {
  Buffer b;
  b.kind = BufferKind::kTemp;
  b.dtype = dtype;
  b.sizes = std::move(sizes);
  const auto id = static_cast<BufferId>(program_.buffers.size());
  b.name = "buf" + std::to_string(id);
  program_.buffers.push_back(b);
  return {id, TensorRef::of_buffer(program_.buffers.back(), id)};
}

namespace {

// [N, C, spatial...] in channels-last order, [N, spatial..., C], and back.
std::vector<sym::Expr> channels_last_order(const std::vector<sym::Expr>& v) {
  std::vector<sym::Expr> out{v[0]};
  out.insert(out.end(), v.begin() + 2, v.end());
  out.push_back(v[1]);
  return out;
}

std::vector<sym::Expr> plain_order(const std::vector<sym::Expr>& v) {
  std::vector<sym::Expr> out{v[0], v.back()};
  out.insert(out.end(), v.begin() + 1, v.end() - 1);
  return out;
}

// Loads of an [N, C, spatial...] tensor of `sizes` from its channels-last buffer.
LoadFn channels_last_view(BufferId id, ir::DType dtype, const std::vector<sym::Expr>& sizes) {
  return [id, dtype, stored = channels_last_order(sizes)](BodyBuilder& b, const Index& idx) {
    return b.load(id, dtype, ravel(channels_last_order(idx), stored));
  };
}

// One kernel computing t (lazy) into buffer `out` of the same sizes, or of its channels-last
// order; the kernel loops in the stored order, so its stores are contiguous.
Kernel copy_kernel(const TensorRef& t, BufferId out, ir::DType out_dtype, std::string name,
                   std::string comment, bool channels_last = false) {
  Kernel k;
  k.name = std::move(name);
  k.comment = std::move(comment);
  k.ranges = channels_last ? channels_last_order(t.sizes()) : t.sizes();
  Loop loop;
  BodyBuilder b(loop.body);
  const Index xs = loop_vars("x", t.rank());
  Store st;
  st.buffer = out;
  st.index = ravel(xs, k.ranges);
  st.value = b.cast(t.load(b, channels_last ? plain_order(xs) : xs), compute_dtype(out_dtype));
  loop.stores.push_back(std::move(st));
  k.loops.push_back(std::move(loop));
  if (!b.origins().empty()) {
    k.comment.clear();
    for (const auto& o : b.origins()) k.comment += (k.comment.empty() ? "" : ", ") + o;
  }
  return k;
}

}  // namespace

BufferId Lowering::realize(const TensorRef& t, const std::string& comment) {
  if (t.realized()) return t.buffer();
  auto [id, ref] = new_buffer(t.dtype(), t.sizes());
  emit(copy_kernel(t, id, t.dtype(), fresh_kernel_name(), comment));
  t.mark_realized(id);
  return id;
}

std::pair<BufferId, TensorRef> Lowering::new_channels_last_buffer(
    ir::DType dtype, const std::vector<sym::Expr>& sizes) {
  auto [id, stored] = new_buffer(dtype, channels_last_order(sizes));
  TensorRef t(dtype, sizes, nullptr, 1);
  t.mark_channels_last(id, channels_last_view(id, dtype, sizes));
  channels_last_buffers_.insert(id);
  return {id, t};
}

BufferId Lowering::realize_channels_last(const TensorRef& t, const std::string& comment) {
  if (auto id = t.channels_last()) return *id;
  if (t.rank() < 3) throw error("internal: channels-last layout of a rank-", t.rank(), " tensor");
  auto [id, stored] = new_buffer(t.dtype(), channels_last_order(t.sizes()));
  emit(copy_kernel(t, id, t.dtype(), fresh_kernel_name(), comment, true));
  t.mark_channels_last(id, channels_last_view(id, t.dtype(), t.sizes()));
  channels_last_buffers_.insert(id);
  return id;
}

bool Lowering::prefers_channels_last(const TensorRef& t) const {
  if (t.realized() || t.dtype() != ir::DType::kFloat32 || t.rank() < 3 || t.rank() > 5) {
    return false;
  }
  Body scratch;
  BodyBuilder b(scratch);
  t.load(b, loop_vars("x", t.rank()));
  for (const ScalarNode& n : scratch.nodes) {
    if (n.op == ScalarOp::kLoad && channels_last_buffers_.count(n.buffer) &&
        program_.buffers[static_cast<size_t>(n.buffer)].sizes.size() == t.rank()) {
      return true;
    }
  }
  return false;
}

TensorRef Lowering::reduce(const TensorRef& input, const std::vector<int64_t>& dims, bool keepdim,
                           ReduceOp op, ir::DType out_dtype, const std::string& comment) {
  const size_t rank = input.rank();
  std::vector<bool> reduced(rank, false);
  for (int64_t d : dims) {
    if (d < 0 || static_cast<size_t>(d) >= rank) throw error("internal: reduce dim ", d, " of a rank-", rank, " tensor");
    reduced[d] = true;
  }
  std::vector<sym::Expr> out_sizes, reduce_sizes;
  for (size_t d = 0; d < rank; ++d) {
    if (!reduced[d]) {
      out_sizes.push_back(input.sizes()[d]);
    } else {
      reduce_sizes.push_back(input.sizes()[d]);
      if (keepdim) out_sizes.push_back(1);
    }
  }
  auto [id, ref] = new_buffer(out_dtype, out_sizes);

  Kernel k;
  k.name = fresh_kernel_name();
  k.comment = comment;
  k.ranges = out_sizes;
  const Index xs = loop_vars("x", out_sizes.size());
  const Index rs = loop_vars("r0_", reduce_sizes.size());

  Loop red;
  red.ranges = reduce_sizes;
  red.reduce = op;
  red.accumulate = accumulate_dtype(op, input.dtype(), out_dtype);
  {
    BodyBuilder b(red.body);
    Index in_index;
    size_t xi = 0, ri = 0;
    for (size_t d = 0; d < rank; ++d) {
      if (reduced[d]) {
        in_index.push_back(rs[ri++]);
        if (keepdim) ++xi;
      } else {
        in_index.push_back(xs[xi++]);
      }
    }
    red.value = b.cast(input.load(b, in_index), red.accumulate);
    for (const auto& o : b.origins()) k.comment += ", " + o;
  }
  k.loops.push_back(std::move(red));

  Loop store;
  {
    BodyBuilder b(store.body);
    const bool arg = op == ReduceOp::kArgMax || op == ReduceOp::kArgMin;
    int32_t v = arg ? b.loop_index(0) : b.loop_result(0, k.loops[0].accumulate);
    Store st;
    st.buffer = id;
    st.index = ravel(xs, out_sizes);
    st.value = b.cast(v, compute_dtype(out_dtype));
    store.stores.push_back(std::move(st));
  }
  k.loops.push_back(std::move(store));
  emit(std::move(k));
  return ref;
}

sym::Expr Lowering::sym_int(const ops::Args& args, std::string_view name) const {
  return args.sym(name);
}

std::vector<sym::Expr> Lowering::sym_ints(const ops::Args& args, std::string_view name) const {
  return args.syms(name);
}

std::string Lowering::label(const ir::Node& node) const {
  return node.target + " (" + node.name + ")";
}

Program Lowering::run() {
  const ir::Graph& g = graph();
  values_.assign(g.values.size(), TensorRef());
  uses_ = ir::use_counts(g);

  // Inputs: user tensors become input buffers; stored tensors become constants.
  const auto& specs = source_.signature.inputs;
  int32_t user_index = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const ir::ValueId vid = g.inputs[i];
    const ir::Value& v = g.values[vid];
    Buffer b;
    b.name = c_identifier(v.name);
    switch (specs[i].kind) {
      case ir::InputKind::kUserInput:
        if (v.kind == ir::ValueKind::kConstant) continue;  // a literal the export fixed
        if (v.kind != ir::ValueKind::kTensor) {
          throw error("user input '", v.name, "' is a ", ir::value_kind_name(v.kind),
                      "; kiln compiles tensor inputs only");
        }
        b.kind = BufferKind::kInput;
        b.input_index = user_index++;
        break;
      case ir::InputKind::kParameter:
      case ir::InputKind::kBuffer:
      case ir::InputKind::kTensorConstant:
        b.kind = BufferKind::kConstant;
        b.constant_index = static_cast<int32_t>(program_.constants.size());
        program_.constants.push_back(specs[i].target);
        program_.constant_inputs.push_back(static_cast<int32_t>(i));
        break;
      case ir::InputKind::kConstantInput:
        continue;
      default:
        throw error("input '", v.name, "' is a ", ir::input_kind_name(specs[i].kind),
                    ", which kiln does not compile");
    }
    b.dtype = v.type.dtype;
    b.sizes = v.type.sizes;
    const auto id = static_cast<BufferId>(program_.buffers.size());
    program_.buffers.push_back(b);
    if (b.kind == BufferKind::kInput) program_.inputs.push_back(id);
    values_[vid] = TensorRef::of_buffer(program_.buffers.back(), id);
  }

  for (const ir::Node& node : g.nodes) {
    if (!has_tensor_output(g, node)) continue;  // symbolic-int arithmetic lives in sym::Expr
    const ops::OpDef* op = ops::find_op(node.target);
    LowerFn fn = find_lowering(node.target);
    if (!op || !fn) throw error("no lowering for ", label(node));
    ops::GraphValueSource source(g);
    ops::Args args(*op, node, source);
    fn(*this, node, args);
    for (ir::ValueId out : ir::node_outputs(node)) {
      if (g.values[out].kind != ir::ValueKind::kTensor) continue;
      if (!values_[out].valid()) {
        throw error("internal: lowering of ", label(node), " did not set output '",
                    g.values[out].name, "'");
      }
      const TensorRef& t = values_[out];
      if (t.realized() || t.channels_last()) continue;
      const int cost = measure_cost(t);
      t.set_cost(cost);
      if ((uses_[out] > 1 && cost > kSharedInlineCost) || cost > kMaxInlineCost) {
        // A value computed from channels-last activations is stored the same way: its
        // kernel then reads and writes contiguously, and a convolution reading it needs no copy.
        if (prefers_channels_last(t)) {
          realize_channels_last(t, label(node));
        } else {
          realize(t, label(node));
        }
      }
    }
  }

  // User outputs: each gets its own output buffer.
  int32_t out_index = 0;
  for (const ir::OutputSpec& spec : source_.signature.outputs) {
    if (spec.kind != ir::OutputKind::kUserOutput) continue;  // mutated state is not kept
    OutputRef ref;
    const auto ids = ir::argument_values(spec.arg);
    TensorRef t;
    if (!ids.empty() && g.values[ids[0]].kind == ir::ValueKind::kTensor) {
      ref.name = g.values[ids[0]].name;
      t = tensor(ids[0]);
    } else {
      // A SymInt (or int literal) output: a 0-d int64 tensor.
      sym::Expr value;
      if (!ids.empty() && g.values[ids[0]].sym) {
        value = *g.values[ids[0]].sym;
        ref.name = g.values[ids[0]].name;
      } else if (const auto* s = std::get_if<ir::SymIntArg>(&spec.arg); s && !s->value) {
        value = s->literal;
      } else if (const auto* lit = std::get_if<int64_t>(&spec.arg)) {
        value = *lit;
      } else {
        throw error("output ", out_index, " is neither a tensor nor an int; kiln cannot return it");
      }
      if (ref.name.empty()) ref.name = "output" + std::to_string(out_index);
      t = pointwise(ir::DType::kInt64, {},
                    [value](BodyBuilder& b, const Index&) { return b.index_value(value); });
    }
    if (t.realized() && program_.buffers[t.buffer()].kind == BufferKind::kTemp) {
      // The value already has its own buffer: it becomes the output, no copy.
      Buffer& b = program_.buffers[t.buffer()];
      b.kind = BufferKind::kOutput;
      b.output_index = out_index;
      ref.buffer = t.buffer();
      program_.outputs.push_back(ref);
      ++out_index;
      continue;
    }
    Buffer& probe = program_.buffers.emplace_back();
    const auto id = static_cast<BufferId>(program_.buffers.size() - 1);
    probe.name = "out" + std::to_string(out_index);
    probe.kind = BufferKind::kOutput;
    probe.dtype = t.dtype();
    probe.sizes = t.sizes();
    probe.output_index = out_index;
    emit(copy_kernel(t, id, t.dtype(), fresh_kernel_name(), "output " + ref.name));
    ref.buffer = id;
    program_.outputs.push_back(ref);
    ++out_index;
  }
  return std::move(program_);
}

LowerFn find_lowering(std::string_view target) {
  static const std::map<std::string, LowerFn, std::less<>> table = [] {
    std::map<std::string, LowerFn, std::less<>> m;
    for (const LowerEntry& e : all_lowerings()) {
      if (!m.emplace(std::string(e.target), e.lower).second) {
        throw error("internal: two lowerings for ", e.target);
      }
    }
    return m;
  }();
  auto it = table.find(target);
  return it == table.end() ? nullptr : it->second;
}

Program lower_program(const ir::ExportedProgram& program) {
  std::map<std::string, int> missing;
  for (const ir::Node& n : program.graph.nodes) {
    if (has_tensor_output(program.graph, n) && !find_lowering(n.target)) ++missing[n.target];
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& [target, count] : missing) {
      list += (list.empty() ? "" : ", ") + target + " (x" + std::to_string(count) + ")";
    }
    throw error("the CPU backend cannot lower ", missing.size(), " op(s): ", list);
  }
  Lowering lowering(program);
  return lowering.run();
}

}  // namespace kiln::lower
