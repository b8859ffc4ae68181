#include "ref/bind_inputs.h"

#include "util/error.h"

namespace kiln::ref {
namespace {

struct Dim {
  std::string input;
  size_t dim;
  int64_t value;
  sym::Expr expr;
};

std::string describe(const Dim& d) {
  return "input '" + d.input + "' dim " + std::to_string(d.dim);
}

// Solves expr(s) == value for the one unbound symbol s of an affine expression.
bool solve_affine(const Dim& d, Bindings& bindings) {
  std::string unbound;
  for (const auto& s : d.expr.free_symbols()) {
    if (bindings.count(s)) continue;
    if (!unbound.empty()) return false;
    unbound = s;
  }
  if (unbound.empty()) return false;
  auto at = [&](int64_t v) {
    Bindings trial = bindings;
    trial[unbound] = v;
    return d.expr.eval(trial);
  };
  int64_t b = at(0), a = at(1) - b;
  if (a == 0 || at(2) != 2 * a + b) return false;  // not affine in the symbol
  if ((d.value - b) % a != 0) {
    throw error(describe(d), " is ", d.value, ", which no value of ", unbound, " makes equal to ",
                d.expr.str());
  }
  bindings[unbound] = (d.value - b) / a;
  return true;
}

}  // namespace

Bindings bind_inputs(const ir::ExportedProgram& program, const std::vector<RValue>& user_inputs) {
  const ir::Graph& g = program.graph;
  Bindings bindings;
  std::vector<Dim> pending;
  size_t k = 0;
  for (size_t i = 0; i < program.signature.inputs.size(); ++i) {
    if (program.signature.inputs[i].kind != ir::InputKind::kUserInput) continue;
    const ir::Value& v = g.values[g.inputs[i]];
    if (k >= user_inputs.size()) {
      throw error("missing input '", v.name, "': the program takes more inputs than the ",
                  user_inputs.size(), " given");
    }
    const RValue& given = user_inputs[k++];
    if (v.kind == ir::ValueKind::kSymInt) {
      const auto* n = std::get_if<int64_t>(&given);
      if (n == nullptr) throw error("input '", v.name, "' must be an int");
      if (v.sym && v.sym->is_symbol()) {
        pending.push_back({v.name, 0, *n, *v.sym});
      }
      continue;
    }
    if (v.kind != ir::ValueKind::kTensor) {
      throw error("input '", v.name, "' is a ", ir::value_kind_name(v.kind),
                  ", which the reference interpreter does not take");
    }
    const auto* t = std::get_if<Tensor>(&given);
    if (t == nullptr) throw error("input '", v.name, "' must be a tensor");
    if (t->dtype() != v.type.dtype) {
      throw error("input '", v.name, "' is ", ir::dtype_name(t->dtype()), " but the program takes ",
                  ir::dtype_name(v.type.dtype));
    }
    if (static_cast<size_t>(t->dim()) != v.type.rank()) {
      throw error("input '", v.name, "' has rank ", t->dim(), " but the program takes rank ",
                  v.type.rank(), " (", v.type.str(), ")");
    }
    for (size_t d = 0; d < v.type.rank(); ++d) {
      const sym::Expr& e = v.type.sizes[d];
      int64_t value = t->sizes()[d];
      if (auto c = e.as_const()) {
        if (*c != value) {
          throw error("input '", v.name, "' dim ", d, " is ", value, " but the program needs ", *c,
                      " (", v.type.str(), ")");
        }
        continue;
      }
      pending.push_back({v.name, d, value, e});
    }
  }
  if (k != user_inputs.size()) {
    throw error("the program takes ", k, " inputs but ", user_inputs.size(), " were given");
  }
  // Dims that are a bare symbol bind it first; the first input to name a symbol sets it.
  std::unordered_map<std::string, const Dim*> bound_by;
  for (const Dim& d : pending) {
    if (!d.expr.is_symbol()) continue;
    auto [it, fresh] = bindings.emplace(d.expr.name(), d.value);
    if (fresh) {
      bound_by[d.expr.name()] = &d;
    } else if (it->second != d.value) {
      throw error(describe(d), " is ", d.value, " but ", describe(*bound_by[d.expr.name()]), " is ",
                  it->second, "; both are ", d.expr.name(), " and must be equal");
    }
  }
  // Then derived dims (2*s0, s0 + 1) bind what they alone name, and are checked.
  for (bool progress = true; progress;) {
    progress = false;
    for (const Dim& d : pending)
      progress |= solve_affine(d, bindings);
  }
  for (const Dim& d : pending) {
    for (const auto& s : d.expr.free_symbols()) {
      if (!bindings.count(s)) {
        throw error(describe(d), " = ", d.value, " does not determine ", s, " in ", d.expr.str());
      }
    }
    int64_t want = d.expr.eval(bindings);
    if (want != d.value) {
      throw error(describe(d), " is ", d.value, " but must be ", d.expr.str(), " = ", want);
    }
  }
  for (const auto& [name, range] : program.ranges) {
    auto it = bindings.find(name);
    if (it == bindings.end() || range.contains(it->second)) continue;
    auto by = bound_by.find(name);
    std::string where = by != bound_by.end() ? describe(*by->second) + " is " +
                                                   std::to_string(it->second) + ", which makes "
                                             : "";
    throw error(where, name, " = ", it->second, ", outside its range ", range.str());
  }
  return bindings;
}

}  // namespace kiln::ref
