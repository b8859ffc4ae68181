// The CPU kernel printer. A kernel prints as one function: the symbols it needs, typed buffer
// pointers, then either
//   - outer loops x0.. over Kernel::ranges (an OpenMP parallel nest when the work is large),
//     with the kernel's loops inside, each vectorized on its innermost dim; or, for a kernel
//     without outer ranges,
//   - its loops one after another, each a parallel nest of its own when large.
// Body nodes print as `const <ctype> v<N> = ...;`, in node order, only where used; nodes that do
// not depend on a loop's own variables are computed once before it (for a pointwise kernel, the
// innermost outer dim counts as its loop, so gathered indices are read and checked once a row).
// Checks that fail return through kern::fail_* or, inside a parallel nest, record the failure
// and skip the rest of that iteration; the kernel reports it after the nest.

#include "codegen/cpu/kernel_printer.h"

#include <functional>
#include <limits>
#include <map>
#include <set>

#include "codegen/cpu/kernel_printer_util.h"
#include "codegen/cpu/scalar_printer.h"
#include "util/error.h"

namespace kiln::codegen::cpu {
namespace {

using namespace detail;
using ir::DType;
using lower::BufferId;
using lower::Loop;
using lower::ReduceOp;
using lower::ScalarNode;
using lower::ScalarOp;

// Parallel loops collapse leading dims until their known iteration count reaches this.
constexpr int64_t kCollapseTarget = 64;
constexpr double kInfinity = std::numeric_limits<double>::infinity();

struct Dim {
  std::string var;
  sym::Expr range;
};

struct NestPlan {
  bool parallel = false;
  std::string if_cond;  // parallel: run in parallel only when this holds (empty: always)
  bool simd_last = false;
  std::string par_clauses;   // e.g. " reduction(+:acc0)"
  std::string simd_clauses;  // on the innermost loop's simd pragma
  bool may_fail = false;     // a check inside can fail: parallel iterations need a skip label
};

// The reduction clause operator for a reduction loop, or "" when OpenMP's clause does not give
// PyTorch's result (arg reductions; integer sums, whose combine could overflow signed types).
std::string clause_op(ReduceOp op, DType acc) {
  const bool fl = is_float(acc), boolean = acc == DType::kBool;
  switch (op) {
    case ReduceOp::kSum:
      return fl ? "+" : "";
    case ReduceOp::kProd:
      return fl ? "*" : "";
    case ReduceOp::kMax:
      return boolean ? "|" : "max";
    case ReduceOp::kMin:
      return boolean ? "&" : "min";
    case ReduceOp::kAny:
      return "|";
    case ReduceOp::kAll:
      return "&";
    case ReduceOp::kArgMax:
    case ReduceOp::kArgMin:
      return "";
  }
  return "";
}

class KernelPrinter {
 public:
  KernelPrinter(const lower::Kernel& kernel, const PrintContext& pc)
      : k_(kernel), names_(pc, "kernel " + kernel.name) {}

  std::string print() {
    check_identifier(k_.name, "kernel name");
    for (size_t i = 0; i < k_.ranges.size(); ++i)
      outer_vars_.push_back("x" + std::to_string(i));
    for (const auto& r : k_.ranges)
      check_expr(r, where(-1, -1) + " range", VarScope{});
    for (size_t l = 0; l < k_.loops.size(); ++l)
      analyze(static_cast<int>(l));

    w_.set_indent(1);
    // Outer dims of size 1 (keepdim reductions) are no loops: their variable is 0.
    for (size_t i = 0; i < k_.ranges.size(); ++i) {
      if (k_.ranges[i] == sym::Expr(1)) {
        fixed_[outer_vars_[i]] = 0;
      } else {
        outer_dims_.push_back({outer_vars_[i], k_.ranges[i]});
      }
    }
    if (outer_dims_.empty()) {
      for (size_t l = 0; l < k_.loops.size(); ++l)
        emit_loop(static_cast<int>(l), true);
    } else {
      emit_outer();
    }
    return assemble();
  }

 private:
  // What each loop's body needs: which nodes print, which depend on the loop's own variables.
  struct LoopInfo {
    std::vector<Dim> dims;  // the loop's own dims (a pointwise kernel's innermost outer dim)
    std::set<BufferId> stored;
    std::vector<char> needed, variant, can_fail;
    bool inner_checks = false;  // a needed node inside the loop can fail
    bool any_checks = false;    // a needed node can fail, hoisted or not
    bool result_used = false, index_used = false;
  };

  // ---- analysis --------------------------------------------------------------------------

  std::string where(int loop, int node) const {
    std::string s = "kernel " + k_.name;
    if (loop >= 0) s += " loop " + std::to_string(loop);
    if (node >= 0) s += " node " + std::to_string(node);
    return s;
  }

  // The variables an index expression may use at some point of a kernel.
  struct VarScope {
    int loop = -1;            // r<loop>_* allowed
    int indirect_before = 0;  // t<M> allowed for M < this (and kIndirect)
    bool outer = false;       // x* allowed
  };

  void check_expr(const sym::Expr& e, const std::string& what, const VarScope& scope) const {
    for (const auto& s : e.free_symbols()) {
      if (names_.is_symbol(s)) continue;
      LocalVar v = parse_local(s);
      bool ok = false;
      if (v.kind == LocalVar::kOuter)
        ok = scope.outer && v.a < static_cast<int64_t>(k_.ranges.size());
      if (v.kind == LocalVar::kLoop) {
        ok = v.a == scope.loop &&
             v.b < static_cast<int64_t>(k_.loops[static_cast<size_t>(scope.loop)].ranges.size());
      }
      if (v.kind == LocalVar::kIndirect && scope.loop >= 0 && v.a < scope.indirect_before) {
        const auto& nodes = k_.loops[static_cast<size_t>(scope.loop)].body.nodes;
        ok = nodes[static_cast<size_t>(v.a)].op == ScalarOp::kIndirect;
      }
      if (!ok) {
        throw error(what, " (", e.str(), ") uses ", s,
                    ", which is neither a symbol of the program nor a variable in scope there");
      }
    }
  }

  void analyze(int l) {
    const Loop& loop = k_.loops[static_cast<size_t>(l)];
    const auto& nodes = loop.body.nodes;
    const int n = static_cast<int>(nodes.size());
    LoopInfo li;
    li.needed.assign(static_cast<size_t>(n), 0);
    li.variant.assign(static_cast<size_t>(n), 0);
    li.can_fail.assign(static_cast<size_t>(n), 0);
    // Loop ranges are sizes over the symbols only, so nests stay rectangular.
    for (const auto& r : loop.ranges)
      check_expr(r, where(l, -1) + " range", VarScope{});
    li.dims = loop_dims(l);
    std::set<BufferId>& stored = li.stored;
    for (const auto& s : loop.stores) {
      names_.buffer(s.buffer, where(l, -1) + " store");
      if (s.value < 0 || s.value >= n)
        throw error(where(l, -1), ": a store of missing node ", s.value);
      check_expr(s.index, where(l, -1) + " store index", VarScope{l, n, true});
      stored.insert(s.buffer);
    }
    if (loop.reduce) {
      if (loop.value < 0 || loop.value >= n) {
        throw error(where(l, -1), ": the reduced value is missing node ", loop.value);
      }
      if (!loop.stores.empty()) throw error(where(l, -1), ": a reduction loop with stores");
      compute_ctype(loop.accumulate);
    }
    for (int i = 0; i < n; ++i)
      validate_node(l, i);

    // Needed: backwards from the roots through operands and indirect index variables.
    auto mark_expr = [&](const sym::Expr& e) {
      for (const auto& s : e.free_symbols()) {
        LocalVar v = parse_local(s);
        if (v.kind == LocalVar::kIndirect) li.needed[static_cast<size_t>(v.a)] = 1;
      }
    };
    if (loop.reduce) li.needed[static_cast<size_t>(loop.value)] = 1;
    for (const auto& s : loop.stores) {
      li.needed[static_cast<size_t>(s.value)] = 1;
      mark_expr(s.index);
    }
    for (int i = n - 1; i >= 0; --i) {
      if (!li.needed[static_cast<size_t>(i)]) continue;
      const ScalarNode& nd = nodes[static_cast<size_t>(i)];
      for (int32_t o : {nd.a, nd.b, nd.c}) {
        if (o >= 0) li.needed[static_cast<size_t>(o)] = 1;
      }
      mark_expr(nd.index);
    }
    for (int i = 0; i < n; ++i) {
      const ScalarNode& nd = nodes[static_cast<size_t>(i)];
      li.can_fail[static_cast<size_t>(i)] = node_can_fail(nodes, nd);
      if (li.needed[static_cast<size_t>(i)] && li.can_fail[static_cast<size_t>(i)]) {
        li.any_checks = true;
      }
      if (li.needed[static_cast<size_t>(i)] &&
          (nd.op == ScalarOp::kLoopResult || nd.op == ScalarOp::kLoopIndex)) {
        LoopInfo& src = info_[static_cast<size_t>(nd.ivalue)];
        (nd.op == ScalarOp::kLoopResult ? src.result_used : src.index_used) = true;
      }
    }
    info_.push_back(std::move(li));
    compute_variance(l);
  }

  // Variant: depends on the loop's own dims (for a loop without dims, everything is inside).
  // Loads of a buffer the loop stores to stay inside too.
  void compute_variance(int l) {
    LoopInfo& li = info_[static_cast<size_t>(l)];
    const auto& nodes = k_.loops[static_cast<size_t>(l)].body.nodes;
    std::set<std::string> own;
    for (const auto& d : li.dims)
      own.insert(d.var);
    li.inner_checks = false;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const ScalarNode& nd = nodes[i];
      bool v = li.dims.empty() || (nd.op == ScalarOp::kLoad && li.stored.count(nd.buffer));
      for (const auto& s : nd.index.free_symbols()) {
        LocalVar lv = parse_local(s);
        if (own.count(s)) v = true;
        if (lv.kind == LocalVar::kIndirect && li.variant[static_cast<size_t>(lv.a)]) v = true;
      }
      for (int32_t o : {nd.a, nd.b, nd.c}) {
        if (o >= 0 && li.variant[static_cast<size_t>(o)]) v = true;
      }
      li.variant[i] = v;
      if (v && li.needed[i] && li.can_fail[i]) li.inner_checks = true;
    }
  }

  static bool node_can_fail(const std::vector<ScalarNode>& nodes, const ScalarNode& nd) {
    if (nd.op == ScalarOp::kIndirect) return true;
    if (!divides_integers(nd)) return false;
    const ScalarNode& b = nodes[static_cast<size_t>(nd.b)];
    return !(b.op == ScalarOp::kConst && b.ivalue != 0 && ir::is_integral(b.dtype));
  }

  void validate_node(int l, int i) {
    const ScalarNode& nd = k_.loops[static_cast<size_t>(l)].body.nodes[static_cast<size_t>(i)];
    const std::string w = where(l, i);
    compute_ctype(nd.dtype);
    auto operand = [&](int32_t o, const char* name) {
      if (o < 0 || o >= i) {
        throw error(w, " (", op_name(nd.op), "): operand ", name, " = ", o,
                    " is not an earlier node");
      }
    };
    const int arity = op_arity(nd.op);
    if (arity >= 1) operand(nd.a, "a");
    if (arity >= 2) operand(nd.b, "b");
    if (arity >= 3) operand(nd.c, "c");
    const VarScope scope{l, i, true};
    switch (nd.op) {
      case ScalarOp::kLoad:
        names_.buffer(nd.buffer, w + " (load)");
        check_expr(nd.index, w + " load index", scope);
        break;
      case ScalarOp::kIndex:
      case ScalarOp::kIndirect:
        check_expr(nd.index, w + " index", scope);
        break;
      case ScalarOp::kLoopResult:
      case ScalarOp::kLoopIndex: {
        if (nd.ivalue < 0 || nd.ivalue >= l || !k_.loops[static_cast<size_t>(nd.ivalue)].reduce) {
          throw error(w, ": ", op_name(nd.op), " of loop ", nd.ivalue,
                      ", which is not an earlier reduction loop");
        }
        auto op = *k_.loops[static_cast<size_t>(nd.ivalue)].reduce;
        if (nd.op == ScalarOp::kLoopIndex && op != ReduceOp::kArgMax && op != ReduceOp::kArgMin) {
          throw error(w, ": loop_index of loop ", nd.ivalue, ", which is not an arg reduction");
        }
        break;
      }
      default:
        break;
    }
    if (nd.op == ScalarOp::kIndirect) {
      DType a = node_dtype(l, nd.a);
      if (!ir::is_integral(a)) {
        throw error(w, ": an indirect index from a ", ir::dtype_name(a), " value");
      }
    }
  }

  static int op_arity(ScalarOp op) {
    if (op == ScalarOp::kWhere) return 3;
    if (op >= ScalarOp::kAdd && op <= ScalarOp::kShr) return 2;
    if (op >= ScalarOp::kNeg && op <= ScalarOp::kSignbit) return 1;
    if (op == ScalarOp::kCast || op == ScalarOp::kIndirect) return 1;
    return 0;
  }

  // ---- node printing ---------------------------------------------------------------------

  const ScalarNode& node(int l, int i) const {
    return k_.loops[static_cast<size_t>(l)].body.nodes[static_cast<size_t>(i)];
  }
  std::string node_var(int l, int i) const {
    return (node(l, i).op == ScalarOp::kIndirect ? "t" : "v") + std::to_string(i);
  }
  DType node_dtype(int l, int i) const {
    const ScalarNode& nd = node(l, i);
    return nd.op == ScalarOp::kIndirect ? DType::kInt64 : nd.dtype;
  }
  std::string acc_var(int64_t l) const { return "acc" + std::to_string(l); }

  std::string cpp(const sym::Expr& e) {
    return names_.cpp(fixed_.empty() ? e : e.substitute(fixed_));
  }

  void emit_fail(const std::string& cond, bool index, const std::string& raw,
                 const std::string& size) {
    uses_source_op_ = true;
    if (fail_label_.empty()) {
      w_.line("if (" + cond + ") " +
              (index ? "return kern::fail_index(ctx, " + raw + ", " + size + ", source_op);"
                     : std::string("return kern::fail_zero_division(ctx, source_op);")));
      return;
    }
    uses_failure_ = true;
    w_.open("if (" + cond + ") {");
    w_.line(index ? "failure.record(kern::kIndexOutOfRange, " + raw + ", " + size + ");"
                  : std::string("failure.record(kern::kZeroDivision, 0, 0);"));
    w_.line("goto " + fail_label_ + ";");
    w_.close();
  }

  void emit_node(int l, int i) {
    const ScalarNode& nd = node(l, i);
    const std::string var = node_var(l, i);
    const std::string decl = "const " + std::string(compute_ctype(nd.dtype)) + " " + var + " = ";
    auto operand = [&](int32_t o, DType to) {
      DType from = node_dtype(l, o);
      return to == DType::kUndefined ? node_var(l, o) : convert(node_var(l, o), from, to);
    };
    switch (nd.op) {
      case ScalarOp::kLoad: {
        const auto& buf = names_.program().buffers[static_cast<size_t>(nd.buffer)];
        const std::string elem = names_.load(nd.buffer) + "[" + cpp(nd.index) + "]";
        w_.line(decl + load_value(elem, buf.dtype, nd.dtype) + ";");
        return;
      }
      case ScalarOp::kConst:
        w_.line(decl +
                (is_float(nd.dtype) ? float_literal(nd.fvalue, nd.dtype)
                                    : int_literal(nd.ivalue, nd.dtype)) +
                ";");
        return;
      case ScalarOp::kIndex:
        w_.line(decl + convert(cpp(nd.index), DType::kInt64, nd.dtype) + ";");
        return;
      case ScalarOp::kCast:
        w_.line(decl + operand(nd.a, nd.dtype) + ";");
        return;
      case ScalarOp::kIndirect: {
        const std::string raw = operand(nd.a, DType::kInt64);
        const std::string size = cpp(nd.index);
        w_.line("const int64_t " + var + " = kern::wrap_index(" + raw + ", " + size + ");");
        emit_fail("!kern::in_range(" + var + ", " + size + ")", true, raw, size);
        return;
      }
      case ScalarOp::kLoopResult: {
        const Loop& src = k_.loops[static_cast<size_t>(nd.ivalue)];
        w_.line(decl + convert(acc_var(nd.ivalue), src.accumulate, nd.dtype) + ";");
        return;
      }
      case ScalarOp::kLoopIndex:
        w_.line(decl + convert(acc_var(nd.ivalue) + "_index", DType::kInt64, nd.dtype) + ";");
        return;
      default:
        break;
    }
    const int arity = op_arity(nd.op);
    DType da = node_dtype(l, nd.a);
    DType db = arity >= 2 ? node_dtype(l, nd.b) : DType::kUndefined;
    Operands o;
    if (nd.op == ScalarOp::kWhere) {
      o.a = operand(nd.a, DType::kBool);
      o.b = operand(nd.b, nd.dtype);
      o.c = operand(nd.c, nd.dtype);
    } else {
      DType od = operand_dtype(nd, da, db);
      o.a = operand(nd.a, od);
      if (arity >= 2) o.b = operand(nd.b, od);
      o.a_dtype = od == DType::kUndefined ? da : od;
    }
    if (node_can_fail(k_.loops[static_cast<size_t>(l)].body.nodes, nd)) {
      emit_fail(o.b + " == 0", false, "", "");
    }
    w_.line(decl + node_expr(nd, o, where(l, i)) + ";");
  }

  void emit_nodes(int l, bool hoisted) {
    const LoopInfo& li = info_[static_cast<size_t>(l)];
    for (size_t i = 0; i < li.needed.size(); ++i) {
      if (li.needed[i] && static_cast<bool>(li.variant[i]) != hoisted) {
        emit_node(l, static_cast<int>(i));
      }
    }
  }

  // ---- loops -----------------------------------------------------------------------------

  std::vector<Dim> loop_dims(int l) const {
    std::vector<Dim> dims;
    const auto& ranges = k_.loops[static_cast<size_t>(l)].ranges;
    for (size_t d = 0; d < ranges.size(); ++d) {
      dims.push_back({"r" + std::to_string(l) + "_" + std::to_string(d), ranges[d]});
    }
    return dims;
  }

  void plan_parallel(NestPlan& plan, const sym::Expr& work) {
    if (auto c = work.as_const()) {
      plan.parallel = *c >= kParallelWorkThreshold;
      return;
    }
    plan.parallel = true;
    plan.if_cond = cpp(work) + " >= " + std::to_string(kParallelWorkThreshold);
  }

  // Whether the stores of loops `ls` may run as SIMD lanes along `iv`: each writes a buffer
  // no other store writes and none of the loops reads, at a stride along iv that is a nonzero
  // constant or symbol expression (so lanes never write one address).
  bool stores_vectorize(const std::vector<int>& ls, const std::string& iv) const {
    std::set<BufferId> stored, loaded;
    for (int l : ls) {
      const LoopInfo& li = info_[static_cast<size_t>(l)];
      const auto& nodes = k_.loops[static_cast<size_t>(l)].body.nodes;
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (li.needed[i] && nodes[i].op == ScalarOp::kLoad) loaded.insert(nodes[i].buffer);
      }
      for (const auto& s : k_.loops[static_cast<size_t>(l)].stores) {
        if (!stored.insert(s.buffer).second) return false;
        const sym::Expr step = s.index.substitute({{iv, sym::Expr::symbol(iv) + 1}}) - s.index;
        if (step == sym::Expr(0)) return false;
        for (const auto& name : step.free_symbols()) {
          if (!names_.is_symbol(name)) return false;
        }
      }
    }
    for (BufferId b : stored) {
      if (loaded.count(b)) return false;
    }
    return true;
  }

  void emit_nest(const std::vector<Dim>& dims, const NestPlan& plan,
                 const std::function<void()>& body) {
    const size_t n = dims.size();
    size_t collapse = 1;
    if (plan.parallel) {
      const size_t m = plan.simd_last && n >= 2 ? n - 1 : n;
      int64_t known = 1;
      for (size_t i = 0; i < m; ++i) {
        if (auto c = dims[i].range.as_const())
          known = *c >= kCollapseTarget ? kCollapseTarget : known * std::max<int64_t>(*c, 1);
        collapse = i + 1;
        if (known >= kCollapseTarget) break;
      }
    }
    const std::string saved_label = fail_label_;
    std::string label;
    for (size_t i = 0; i < n; ++i) {
      if (i == 0 && plan.parallel) {
        std::string p = "#pragma omp parallel for";
        if (n == 1 && plan.simd_last) p += " simd";
        p += " num_threads(ctx.num_threads) schedule(static)";
        if (collapse > 1) p += " collapse(" + std::to_string(collapse) + ")";
        p += plan.par_clauses;
        if (!plan.if_cond.empty()) p += " if(parallel: " + plan.if_cond + ")";
        w_.line(p);
        uses_ctx_ = true;
      } else if (i == n - 1 && plan.simd_last) {
        w_.line("#pragma omp simd" + plan.simd_clauses);
      }
      const std::string& v = dims[i].var;
      w_.open("for (int64_t " + v + " = 0; " + v + " < " + cpp(dims[i].range) + "; ++" + v + ") {");
      if (plan.parallel && plan.may_fail && i + 1 == collapse) {
        label = "next" + std::to_string(label_counter_++);
        fail_label_ = label;
        w_.open("{");
      }
    }
    body();
    for (size_t i = n; i-- > 0;) {
      if (!label.empty() && i + 1 == collapse) {
        w_.close();
        w_.line(label + ":;");
      }
      w_.close();
    }
    fail_label_ = saved_label;
    if (!label.empty()) {
      uses_failure_ = uses_source_op_ = true;
      w_.line("if (failure.kind != kern::kNoFailure) return kern::fail(ctx, failure, source_op);");
    }
  }

  // Kernels with outer ranges: one nest over them, the loops inside.
  void emit_outer() {
    const std::vector<Dim>& dims = outer_dims_;
    sym::Expr outer = 1, inner = 0;
    for (const auto& d : dims)
      outer = outer * d.range;
    bool pointwise_only = true, checks = false;
    std::vector<int> all;
    for (size_t l = 0; l < k_.loops.size(); ++l) {
      const Loop& loop = k_.loops[l];
      sym::Expr volume = 1;
      for (const auto& r : loop.ranges)
        volume = volume * r;
      inner = inner + volume;
      pointwise_only = pointwise_only && !loop.reduce && loop.ranges.empty();
      checks = checks || info_[l].any_checks;
      all.push_back(static_cast<int>(l));
    }
    NestPlan plan;
    plan_parallel(plan, outer * (k_.loops.empty() ? sym::Expr(1) : inner));
    plan.may_fail = checks;
    if (pointwise_only && k_.loops.size() == 1 && hoist_innermost()) {
      // The innermost outer dim becomes the loop's own: what does not depend on it (gathered
      // indices and their checks, per-row values) is computed once per row.
      const std::vector<Dim> rows(dims.begin(), dims.end() - 1);
      if (rows.empty()) {
        emit_loop(0, true);
      } else {
        emit_nest(rows, plan, [&] { emit_loop(0, false); });
      }
      return;
    }
    // Pointwise kernels vectorize along the innermost outer dim.
    plan.simd_last = pointwise_only && !checks && stores_vectorize(all, dims.back().var);
    emit_nest(dims, plan, [&] {
      for (size_t l = 0; l < k_.loops.size(); ++l)
        emit_loop(static_cast<int>(l), false);
    });
  }

  // Makes the innermost outer dim loop 0's own when that hoists a load or a check out of it.
  bool hoist_innermost() {
    LoopInfo& li = info_[0];
    const std::vector<Dim> saved = li.dims;
    li.dims = {outer_dims_.back()};
    compute_variance(0);
    const auto& nodes = k_.loops[0].body.nodes;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (li.needed[i] && !li.variant[i] && (nodes[i].op == ScalarOp::kLoad || li.can_fail[i])) {
        return true;
      }
    }
    li.dims = saved;
    compute_variance(0);
    return false;
  }

  std::string identity(ReduceOp op, DType acc) const {
    const bool fl = is_float(acc);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAny:
        return fl ? float_literal(0, acc) : int_literal(0, acc);
      case ReduceOp::kProd:
      case ReduceOp::kAll:
        return fl ? float_literal(1, acc) : int_literal(1, acc);
      case ReduceOp::kMax:
      case ReduceOp::kArgMax:
        return fl ? float_literal(-kInfinity, acc) : int_literal_min(acc);
      case ReduceOp::kMin:
      case ReduceOp::kArgMin:
        return fl ? float_literal(kInfinity, acc) : int_literal_max(acc);
    }
    return "";
  }

  // The statements that fold the loop's value into its accumulator.
  void emit_combine(int l) {
    const Loop& loop = k_.loops[static_cast<size_t>(l)];
    const ReduceOp op = *loop.reduce;
    const DType acc_t =
        op == ReduceOp::kAny || op == ReduceOp::kAll ? DType::kBool : loop.accumulate;
    const std::string acc = acc_var(l);
    const std::string v = convert(node_var(l, loop.value), node_dtype(l, loop.value), acc_t);
    const bool fl = is_float(acc_t), boolean = acc_t == DType::kBool;
    switch (op) {
      case ReduceOp::kSum:
        w_.line(fl ? acc + " += " + v + ";" : acc + " = kern::add(" + acc + ", " + v + ");");
        return;
      case ReduceOp::kProd:
        w_.line(fl ? acc + " *= " + v + ";" : acc + " = kern::mul(" + acc + ", " + v + ");");
        return;
      case ReduceOp::kMax:
      case ReduceOp::kMin: {
        const bool mx = op == ReduceOp::kMax;
        if (boolean) {
          w_.line(acc + " = " + acc + (mx ? " | " : " & ") + v + ";");
          return;
        }
        // NaN is tracked by a flag, so the comparison stays a plain max/min that vectorizes.
        w_.line(acc + " = " + v + (mx ? " > " : " < ") + acc + " ? " + v + " : " + acc + ";");
        if (fl) w_.line(acc + "_nan = " + acc + "_nan | kern::isnan(" + v + ");");
        return;
      }
      case ReduceOp::kArgMax:
      case ReduceOp::kArgMin: {
        // The first extreme wins; NaN counts as the extreme, and the first NaN stays.
        std::string cond = v + (op == ReduceOp::kArgMax ? " > " : " < ") + acc;
        if (fl) cond = "(" + cond + ") || (kern::isnan(" + v + ") && !kern::isnan(" + acc + "))";
        sym::Expr flat = 0;
        for (const auto& d : info_[static_cast<size_t>(l)].dims)
          flat = flat * d.range + sym::Expr::symbol(d.var);
        w_.open("if (" + cond + ") {");
        w_.line(acc + " = " + v + ";");
        w_.line(acc + "_index = " + cpp(flat) + ";");
        w_.close();
        return;
      }
      case ReduceOp::kAny:
        w_.line(acc + " = " + acc + " | " + v + ";");
        return;
      case ReduceOp::kAll:
        w_.line(acc + " = " + acc + " & " + v + ";");
        return;
    }
  }

  void emit_stores(int l) {
    for (const auto& s : k_.loops[static_cast<size_t>(l)].stores) {
      const auto& buf = names_.program().buffers[static_cast<size_t>(s.buffer)];
      w_.line(names_.store(s.buffer) + "[" + cpp(s.index) +
              "] = " + store_value(node_var(l, s.value), node_dtype(l, s.value), buf.dtype) + ";");
    }
  }

  void emit_loop(int l, bool parallel_allowed) {
    const Loop& loop = k_.loops[static_cast<size_t>(l)];
    const LoopInfo& li = info_[static_cast<size_t>(l)];
    const std::vector<Dim>& dims = li.dims;
    // A lone rangeless loop is the kernel's body: the header comment says it all.
    if (k_.loops.size() > 1 || !loop.ranges.empty()) {
      w_.line("// loop " + std::to_string(l) + ": " + loop_summary(loop));
    }
    std::string clause;
    if (loop.reduce) {
      const ReduceOp op = *loop.reduce;
      const DType acc_t =
          op == ReduceOp::kAny || op == ReduceOp::kAll ? DType::kBool : loop.accumulate;
      const std::string acc = acc_var(l);
      const std::string unused = li.result_used ? "" : "[[maybe_unused]] ";
      // Boolean accumulators are int32_t: GCC vectorizes no reduction over bool.
      const std::string acc_ctype =
          acc_t == DType::kBool ? "int32_t" : std::string(compute_ctype(acc_t));
      w_.line(unused + acc_ctype + " " + acc + " = " + identity(op, acc_t) + ";");
      if (op == ReduceOp::kArgMax || op == ReduceOp::kArgMin) {
        w_.line(std::string(li.index_used ? "" : "[[maybe_unused]] ") + "int64_t " + acc +
                "_index = 0;");
      }
      const std::string cop = clause_op(op, acc_t);
      const bool nan_flag = (op == ReduceOp::kMax || op == ReduceOp::kMin) && is_float(acc_t);
      if (nan_flag) w_.line("int32_t " + acc + "_nan = 0;");
      if (!cop.empty()) clause = " reduction(" + cop + ":" + acc + ")";
      if (nan_flag) clause += " reduction(|:" + acc + "_nan)";
    }
    auto body_end = [&] {
      if (loop.reduce) {
        emit_combine(l);
      } else {
        emit_stores(l);
      }
    };
    if (dims.empty()) {
      const bool block = k_.loops.size() > 1;
      if (block) w_.open("{");
      emit_nodes(l, false);
      body_end();
      if (block) w_.close();
    } else {
      bool has_hoisted = false, reads = false;
      for (size_t i = 0; i < li.needed.size(); ++i) {
        if (!li.needed[i] || li.variant[i]) continue;
        has_hoisted = true;
        reads |= li.can_fail[i] || node(l, static_cast<int>(i)).op == ScalarOp::kLoad;
      }
      if (has_hoisted) {
        // Hoisted loads and checks must not run when the loop runs zero times.
        std::string guard;
        for (const auto& d : dims) {
          auto c = d.range.as_const();
          if (!reads || (c && *c > 0)) continue;
          guard += (guard.empty() ? "" : " && ") + cpp(d.range) + " > 0";
        }
        w_.open(guard.empty() ? "{" : "if (" + guard + ") {");
        emit_nodes(l, true);
      }
      NestPlan plan;
      plan.may_fail = li.inner_checks;
      const bool arg =
          loop.reduce && (*loop.reduce == ReduceOp::kArgMax || *loop.reduce == ReduceOp::kArgMin);
      if (!li.inner_checks && !arg) {
        plan.simd_last = loop.reduce ? true : stores_vectorize({l}, dims.back().var);
      }
      plan.simd_clauses = clause;
      if (parallel_allowed && (!loop.reduce || !clause.empty())) {
        sym::Expr volume = 1;
        for (const auto& d : dims)
          volume = volume * d.range;
        plan_parallel(plan, volume);
        plan.par_clauses = clause;
      }
      emit_nest(dims, plan, [&] {
        emit_nodes(l, false);
        body_end();
      });
      if (has_hoisted) w_.close();
    }
    if (loop.reduce && (*loop.reduce == ReduceOp::kMax || *loop.reduce == ReduceOp::kMin) &&
        is_float(loop.accumulate)) {
      const std::string acc = acc_var(l);
      w_.line("if (" + acc + "_nan) " + acc + " = " +
              float_literal(std::numeric_limits<double>::quiet_NaN(), loop.accumulate) + ";");
    }
  }

  std::string assemble() {
    std::string out = comment_lines(k_.comment);
    out += "// " + space_summary(k_) + "\n";
    out += "static bool " + k_.name + "(" +
           (uses_ctx_ || names_.uses_symbols() || uses_source_op_ ? "" : "[[maybe_unused]] ") +
           "const kiln::rt::RunContext& ctx, " +
           (names_.uses_buffers() ? "" : "[[maybe_unused]] ") + "void* const* buffers) {\n";
    out += names_.prologue();
    if (uses_source_op_) {
      out += "  const char* const source_op = " + c_string_literal(k_.comment) + ";\n";
    }
    if (uses_failure_) out += "  kern::Failure failure;\n";
    out += w_.take();
    out += "  return true;\n}\n";
    return out;
  }

  const lower::Kernel& k_;
  Names names_;
  std::vector<std::string> outer_vars_;
  std::vector<Dim> outer_dims_;             // the outer loops (dims of size 1 are not loops)
  std::map<std::string, sym::Expr> fixed_;  // outer variables of size-1 dims: 0
  std::vector<LoopInfo> info_;
  Writer w_;
  std::string fail_label_;  // where a failing check jumps inside a parallel nest ("": return)
  int label_counter_ = 0;
  bool uses_ctx_ = false, uses_failure_ = false, uses_source_op_ = false;
};

}  // namespace

std::string print_kernel(const lower::Kernel& kernel, const PrintContext& pc) {
  if (pc.program == nullptr) throw error("print_kernel: no program");
  return KernelPrinter(kernel, pc).print();
}

}  // namespace kiln::codegen::cpu
