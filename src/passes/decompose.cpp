// decompose: every node whose op has a decomposition (OpDef::decompose) is replaced, in place,
// by the primitive ops that compute it, until none is left (a decomposition may emit ops that
// decompose further). The replacement of each output must have the output's dtype and sizes.
//
// View nodes a decomposition emits, and views downstream of a replaced value whose layout
// differs from the old one, have their strides re-derived from their inputs, so that types
// keep describing eager PyTorch's layouts for resolve_views.
#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>

#include "ir/graph_edit.h"
#include "ops/args.h"
#include "ops/decompose_util.h"
#include "ops/op_table.h"
#include "passes/passes.h"
#include "passes/view_layout.h"
#include "util/error.h"

namespace kiln::passes {
namespace {

using ir::ValueId;

// Rounds of decomposition before a cycle is assumed (the deepest chain is a handful).
constexpr int kMaxRounds = 16;

class Decomposition {
 public:
  explicit Decomposition(ir::ExportedProgram& p) : p_(p), g_(p.graph) {}

  // One sweep over the nodes; returns whether any node was decomposed.
  bool run() {
    const size_t value_count = g_.values.size();
    subst_.assign(value_count, -1);
    recorded_.clear();
    for (const ir::Value& v : g_.values)
      recorded_.push_back(v.type);
    std::vector<ir::Node> old = std::move(g_.nodes);
    g_.nodes.clear();
    std::vector<ir::Node> out;
    std::vector<bool> emitted;  // per node of `out`: made by a decomposition
    bool changed = false;
    for (ir::Node& n : old) {
      for (ir::NamedArgument& in : n.inputs)
        ir::for_each_ref(in.arg, [&](ValueId& id) { id = resolved(id); });
      const ops::OpDef* op = ops::find_op(n.target);
      if (op == nullptr || op->decompose == nullptr) {
        out.push_back(std::move(n));
        emitted.push_back(false);
        continue;
      }
      changed = true;
      ops::Decomposer d(g_, n);
      std::vector<ValueId> replacement;
      try {
        ops::GraphValueSource source(g_);
        ops::Args args(*op, n, source);
        replacement = op->decompose(d, args);
      } catch (const Error& e) {
        std::string what = e.what();
        if (what.starts_with("node '" + n.name + "'")) throw error("decompose: ", what);
        throw error("decompose: node '", n.name, "' (", n.target, "): ", what);
      }
      bind_outputs(n, replacement);
      for (ir::Node& made : d.take_nodes()) {
        out.push_back(std::move(made));
        emitted.push_back(true);
      }
    }
    g_.nodes = std::move(out);
    if (!changed) return false;
    substitute_uses();
    ir::renumber_producers(g_);
    refresh_layouts(emitted);
    ir::compact(p_);
    return true;
  }

 private:
  ir::ExportedProgram& p_;
  ir::Graph& g_;
  std::vector<ValueId> subst_;            // per value of the sweep's start: its replacement
  std::vector<ir::TensorType> recorded_;  // per value of the sweep's start: its type then

  ValueId resolved(ValueId id) const {
    if (id >= 0 && static_cast<size_t>(id) < subst_.size() &&
        subst_[static_cast<size_t>(id)] >= 0) {
      return subst_[static_cast<size_t>(id)];
    }
    return id;
  }

  // Pairs the node's outputs with the decomposition's values, in order; None outputs take a
  // value too (the decomposition computes every output the shape rule lists).
  void bind_outputs(const ir::Node& n, const std::vector<ValueId>& replacement) {
    size_t next = 0;
    auto take = [&]() {
      if (next >= replacement.size()) {
        throw error("decompose: node '", n.name, "' (", n.target, "): the decomposition gave ",
                    replacement.size(), " values, fewer than the node's outputs");
      }
      return replacement[next++];
    };
    auto bind = [&](ValueId from, ValueId to) {
      check_type(n, from, to, static_cast<size_t>(to) >= subst_.size());
      subst_.at(static_cast<size_t>(from)) = to;
    };
    for (const ir::Argument& o : n.outputs) {
      if (const auto* t = std::get_if<ir::TensorArg>(&o)) {
        bind(t->value, take());
      } else if (const auto* opt = std::get_if<ir::OptionalTensorArg>(&o)) {
        ValueId to = take();
        if (opt->value) bind(*opt->value, to);
      } else if (const auto* list = std::get_if<std::vector<ir::TensorArg>>(&o)) {
        for (const ir::TensorArg& e : *list)
          bind(e.value, take());
      } else if (const auto* opts = std::get_if<std::vector<ir::OptionalTensorArg>>(&o)) {
        for (const ir::OptionalTensorArg& e : *opts) {
          ValueId to = take();
          if (e.value) bind(*e.value, to);
        }
      } else if (std::holds_alternative<ir::NoneArg>(o)) {
        take();
      } else {
        throw error("decompose: node '", n.name, "' (", n.target,
                    "): only tensor outputs can be decomposed");
      }
    }
    if (next != replacement.size()) {
      throw error("decompose: node '", n.name, "' (", n.target, "): the decomposition gave ",
                  replacement.size(), " values for ", next, " outputs");
    }
  }

  // The replacement must have the output's dtype and sizes. Sizes the canonical forms do not
  // prove equal (nested max / min of slices, say) are accepted when they agree at many points
  // of bounded symbol ranges; a replacement the decomposition made then takes the output's
  // spelling of its sizes, so that the nodes typed from it read the same expressions.
  void check_type(const ir::Node& n, ValueId from, ValueId to, bool made) {
    const ir::Value& a = g_.values.at(static_cast<size_t>(from));
    ir::Value& b = g_.values.at(static_cast<size_t>(to));
    bool same = a.kind == b.kind && a.type.dtype == b.type.dtype && a.type.rank() == b.type.rank();
    bool respell = false;
    for (size_t d = 0; same && d < a.type.rank(); ++d) {
      if (provably_equal(a.type.sizes[d], b.type.sizes[d], p_.ranges)) continue;
      same = agree_on_samples(a.type.sizes[d], b.type.sizes[d]);
      respell = true;
    }
    if (!same) {
      throw error("decompose: node '", n.name, "' (", n.target, "): output %", a.name, " is ",
                  a.type.str(), " but its decomposition computes %", b.name, ": ", b.type.str());
    }
    if (respell && made) {
      b.type.sizes = a.type.sizes;
      b.type.strides = ir::TensorType::contiguous_strides(b.type.sizes);
    }
  }

  // a == b at each symbol's bounds, their neighbours, the midpoint and pseudo-random points of
  // the ranges (every symbol must have a bounded range).
  bool agree_on_samples(const sym::Expr& a, const sym::Expr& b) const {
    std::set<std::string> symbols = a.free_symbols();
    for (const std::string& s : b.free_symbols())
      symbols.insert(s);
    for (const std::string& s : symbols) {
      auto it = p_.ranges.find(s);
      if (it == p_.ranges.end() || !it->second.min || !it->second.max) return false;
    }
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    for (int pick = 0; pick < 32; ++pick) {
      std::unordered_map<std::string, int64_t> at;
      for (const std::string& s : symbols) {
        const sym::Range& r = p_.ranges.at(s);
        int64_t lo = *r.min, hi = *r.max;
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t span = hi - lo + 1;
        int64_t random =
            span > 0 ? lo + static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(span)) : lo;
        const int64_t fixed[] = {lo, hi, std::min(lo + 1, hi), std::max(hi - 1, lo),
                                 lo + (hi - lo) / 2};
        at[s] = pick < 5 ? fixed[pick] : random;
      }
      try {
        if (a.eval(at) != b.eval(at)) return false;
      } catch (const Error&) {
        return false;
      }
    }
    return true;
  }

  void substitute_uses() {
    auto fix = [&](ValueId& id) { id = resolved(id); };
    for (ir::Argument& a : g_.outputs)
      ir::for_each_ref(a, fix);
    for (ir::OutputSpec& spec : p_.signature.outputs)
      ir::for_each_ref(spec.arg, fix);
    for (ir::Value& v : g_.values) {
      if (!v.view_of) continue;
      ValueId root = resolved(*v.view_of);
      if (root != *v.view_of && g_.values[static_cast<size_t>(root)].view_of) {
        throw error("decompose: the view %", v.name, " would name a root that is itself a view");
      }
      v.view_of = root;
    }
  }

  // Re-derives view layouts where an input's layout changed: views a decomposition emitted,
  // and views reading a replacement laid out unlike the value it replaced.
  void refresh_layouts(const std::vector<bool>& emitted) {
    std::vector<bool> relaid(g_.values.size(), false);
    for (size_t id = 0; id < subst_.size(); ++id) {
      ValueId to = subst_[id];
      if (to < 0) continue;
      const ir::TensorType& was = recorded_[id];
      const ir::TensorType& now = g_.values[static_cast<size_t>(to)].type;
      if (was.strides != now.strides || was.storage_offset != now.storage_offset) {
        relaid[static_cast<size_t>(to)] = true;
      }
    }
    for (size_t k = 0; k < g_.nodes.size(); ++k) {
      const ir::Node& n = g_.nodes[k];
      bool stale = emitted[k];
      for (const ir::NamedArgument& in : n.inputs) {
        for (ValueId id : ir::argument_values(in.arg))
          stale = stale || relaid[static_cast<size_t>(id)];
      }
      if (stale && refresh_view_layout(g_, n, p_.ranges)) {
        for (ValueId id : ir::node_outputs(n))
          relaid[static_cast<size_t>(id)] = true;
      }
    }
  }
};

std::string decomposable_targets(const ir::Graph& g) {
  std::set<std::string> targets;
  for (const ir::Node& n : g.nodes) {
    const ops::OpDef* op = ops::find_op(n.target);
    if (op != nullptr && op->decompose != nullptr) targets.insert(n.target);
  }
  std::string out;
  for (const std::string& t : targets)
    out += (out.empty() ? "" : ", ") + t;
  return out;
}

}  // namespace

void decompose(ir::ExportedProgram& program) {
  for (int round = 0; round < kMaxRounds; ++round) {
    if (!Decomposition(program).run()) return;
  }
  throw error("decompose: decompositions still leave ", decomposable_targets(program.graph),
              " after ", kMaxRounds, " rounds; one must be emitting itself");
}

}  // namespace kiln::passes
