// The kernel-IR evaluator's driver: binds the shape symbols from the inputs, holds the buffers
// (temps live from the first step that touches them to the last), and runs the steps: kernels
// by interpretation (evaluate_kernel.cpp), extern calls through the registered evaluators.
#include "lower/evaluate.h"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "lower/evaluate_internal.h"
#include "sym/checked.h"
#include "util/error.h"

namespace kiln::lower {
namespace {

using eval::Storage;

std::string input_label(const Program& p, size_t i) {
  return "input " + std::to_string(i) + " (" + p.buffers[static_cast<size_t>(p.inputs[i])].name +
         ")";
}

std::string sizes_str(const std::vector<int64_t>& sizes) {
  std::string s = "[";
  for (size_t d = 0; d < sizes.size(); ++d)
    s += (d ? ", " : "") + std::to_string(sizes[d]);
  return s + "]";
}

// The value of `s` that makes e == value, when e is a*s + b once the known symbols are
// substituted (a != 0 dividing value - b); nullopt otherwise.
std::optional<int64_t> solve_for(const sym::Expr& e, const std::string& s, int64_t value) {
  auto at = [&](int64_t v) { return e.substitute({{s, sym::Expr(v)}}).as_const(); };
  auto b = at(0), ab = at(1);
  if (!b || !ab) return std::nullopt;
  int64_t a = *ab - *b;
  if (a == 0 || (value - *b) % a != 0) return std::nullopt;
  int64_t candidate = (value - *b) / a;
  auto check = at(candidate);
  if (!check || *check != value) return std::nullopt;
  return candidate;
}

std::map<std::string, ExternEvaluator, std::less<>>& extern_registry() {
  static std::map<std::string, ExternEvaluator, std::less<>> registry;
  return registry;
}

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::string registered_kinds() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::string s;
  for (const auto& [kind, fn] : extern_registry())
    s += (s.empty() ? "" : ", ") + kind;
  return s.empty() ? "none" : s;
}

void run_extern(const ExternCall& call, const Program& program, const SymbolValues& symbols,
                std::vector<Storage>& storage) {
  ExternEvaluator fn = find_extern_evaluator(call.kind);
  if (fn == nullptr) {
    throw error("no evaluator is registered for extern calls of kind '", call.kind,
                "' (registered: ", registered_kinds(), ")");
  }
  auto tensors_of = [&](const std::vector<BufferId>& ids, const char* what) {
    std::vector<ref::Tensor> out;
    for (size_t j = 0; j < ids.size(); ++j) {
      BufferId id = ids[j];
      if (id < 0 || static_cast<size_t>(id) >= storage.size()) {
        throw error(what, " ", j, " is buffer id ", id, ", not a buffer of the program");
      }
      out.push_back(storage[static_cast<size_t>(id)].to_tensor());
    }
    return out;
  };
  std::vector<ref::Tensor> ins = tensors_of(call.inputs, "input");
  std::vector<ref::Tensor> outs = tensors_of(call.outputs, "output");
  std::vector<ref::Tensor*> in_ptrs, out_ptrs;
  for (ref::Tensor& t : ins)
    in_ptrs.push_back(&t);
  for (size_t j = 0; j < outs.size(); ++j) {
    BufferKind kind = program.buffers[static_cast<size_t>(call.outputs[j])].kind;
    if (kind == BufferKind::kInput || kind == BufferKind::kConstant) {
      throw error("output ", j, " is ", storage[static_cast<size_t>(call.outputs[j])].str(),
                  ", an input or constant buffer");
    }
    out_ptrs.push_back(&outs[j]);
  }
  fn(call, in_ptrs, out_ptrs, symbols);
  for (size_t j = 0; j < outs.size(); ++j) {
    Storage& s = storage[static_cast<size_t>(call.outputs[j])];
    if (outs[j].dtype() != s.kind.dtype || outs[j].sizes() != s.sizes) {
      throw error("the evaluator replaced output ", j, ", ", s.str(), ", by a ", outs[j].str());
    }
    s.fill_from(outs[j]);
  }
}

// Per buffer: the first and last step that reads or writes it (-1 when none does).
void step_spans(const Program& program, std::vector<int>& first, std::vector<int>& last) {
  first.assign(program.buffers.size(), -1);
  last.assign(program.buffers.size(), -1);
  auto touch = [&](BufferId id, int step) {
    if (id < 0 || static_cast<size_t>(id) >= first.size()) return;  // reported when run
    auto k = static_cast<size_t>(id);
    if (first[k] < 0) first[k] = step;
    last[k] = step;
  };
  for (size_t k = 0; k < program.steps.size(); ++k) {
    const Step& step = program.steps[k];
    int s = static_cast<int>(k);
    if (step.kernel) {
      for (const Loop& loop : step.kernel->loops) {
        for (const ScalarNode& n : loop.body.nodes) {
          if (n.op == ScalarOp::kLoad) touch(n.buffer, s);
        }
        for (const Store& st : loop.stores)
          touch(st.buffer, s);
      }
    }
    if (step.call) {
      for (BufferId id : step.call->inputs)
        touch(id, s);
      for (BufferId id : step.call->outputs)
        touch(id, s);
    }
  }
}

}  // namespace

SymbolValues bind_symbols(const Program& program, const std::vector<ref::Tensor>& inputs) {
  if (inputs.size() != program.inputs.size()) {
    throw error("the program takes ", program.inputs.size(), " inputs, but ", inputs.size(),
                " were given");
  }
  SymbolValues symbols;
  std::map<std::string, std::string> bound_by;  // for messages: which input dim bound a symbol
  std::vector<size_t> used;
  for (size_t i = 0; i < inputs.size(); ++i) {
    BufferId id = program.inputs[i];
    if (id < 0) continue;
    if (static_cast<size_t>(id) >= program.buffers.size()) {
      throw error("input ", i, " names buffer id ", id, ", not a buffer of the program");
    }
    const Buffer& b = program.buffers[static_cast<size_t>(id)];
    const ref::Tensor& t = inputs[i];
    if (t.dtype() != b.dtype) {
      throw error(input_label(program, i), ": expected dtype ", ir::dtype_name(b.dtype), ", got ",
                  ir::dtype_name(t.dtype()));
    }
    if (static_cast<size_t>(t.dim()) != b.sizes.size()) {
      throw error(input_label(program, i), ": expected ", b.sizes.size(), " dims, got ", t.dim());
    }
    used.push_back(i);
    for (size_t d = 0; d < b.sizes.size(); ++d) {
      if (!b.sizes[d].is_symbol()) continue;
      const std::string& s = b.sizes[d].name();
      int64_t v = t.size(static_cast<int64_t>(d));
      auto [it, fresh] = symbols.emplace(s, v);
      std::string here = input_label(program, i) + " dim " + std::to_string(d);
      if (fresh) {
        bound_by[s] = here;
      } else if (it->second != v) {
        throw error(here, " is ", v, ", but ", s, " is ", it->second, " from ", bound_by[s]);
      }
    }
  }
  // Dims like 2*s0 or s1 + 1 whose symbol no bare dim gave.
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i : used) {
      const Buffer& b = program.buffers[static_cast<size_t>(program.inputs[i])];
      for (size_t d = 0; d < b.sizes.size(); ++d) {
        std::set<std::string> free = b.sizes[d].free_symbols();
        std::erase_if(free, [&](const std::string& s) { return symbols.count(s) != 0; });
        if (free.size() != 1) continue;
        std::map<std::string, sym::Expr> known;
        for (const std::string& s : b.sizes[d].free_symbols()) {
          if (symbols.count(s)) known.emplace(s, sym::Expr(symbols.at(s)));
        }
        const std::string& s = *free.begin();
        int64_t v = inputs[i].size(static_cast<int64_t>(d));
        if (auto solved = solve_for(b.sizes[d].substitute(known), s, v)) {
          symbols[s] = *solved;
          progress = true;
        }
      }
    }
  }
  for (size_t i : used) {
    const Buffer& b = program.buffers[static_cast<size_t>(program.inputs[i])];
    for (size_t d = 0; d < b.sizes.size(); ++d) {
      int64_t want;
      try {
        want = b.sizes[d].eval(symbols);
      } catch (const Error& e) {
        throw error(input_label(program, i), " dim ", d, ": ", e.what());
      }
      int64_t got = inputs[i].size(static_cast<int64_t>(d));
      if (want != got) {
        throw error(input_label(program, i), " dim ", d, ": expected ", b.sizes[d].str(),
                    b.sizes[d].is_const() ? "" : " = " + std::to_string(want), ", got ", got);
      }
    }
  }
  return symbols;
}

std::vector<ref::Tensor> evaluate(const Program& program, const std::vector<ref::Tensor>& inputs,
                                  const std::vector<ref::Tensor>& constants) {
  const SymbolValues symbols = bind_symbols(program, inputs);
  if (constants.size() != program.constants.size()) {
    throw error("the program has ", program.constants.size(), " constants, but ", constants.size(),
                " were given");
  }
  std::vector<Storage> storage(program.buffers.size());
  for (size_t k = 0; k < program.buffers.size(); ++k) {
    const Buffer& b = program.buffers[k];
    Storage& s = storage[k];
    s.buffer = &b;
    s.kind = eval::kind_of(b.dtype, "buffer " + b.name);
    s.numel = 1;
    for (const sym::Expr& e : b.sizes) {
      try {
        s.sizes.push_back(e.eval(symbols));
      } catch (const Error& err) {
        throw error("buffer ", b.name, ": ", err.what());
      }
      if (s.sizes.back() < 0) throw error("buffer ", b.name, " has a negative size ", e.str());
      s.numel = sym::detail::checked_mul(s.numel, s.sizes.back());
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (program.inputs[i] >= 0)
      storage[static_cast<size_t>(program.inputs[i])].fill_from(inputs[i]);
  }
  std::vector<bool> persistent(storage.size(), false);
  for (size_t k = 0; k < storage.size(); ++k) {
    const Buffer& b = program.buffers[k];
    if (b.kind == BufferKind::kConstant) {
      if (b.constant_index < 0 || static_cast<size_t>(b.constant_index) >= constants.size()) {
        throw error("buffer ", b.name, " is constant ", b.constant_index,
                    ", which the program does not list");
      }
      const ref::Tensor& t = constants[static_cast<size_t>(b.constant_index)];
      if (t.dtype() != b.dtype || t.sizes() != storage[k].sizes) {
        throw error("constant ", b.constant_index, " (", program.constants[b.constant_index],
                    "): expected ", ir::dtype_name(b.dtype), sizes_str(storage[k].sizes), ", got ",
                    t.str());
      }
      storage[k].fill_from(t);
    } else if (b.kind == BufferKind::kInput && !storage[k].allocated) {
      throw error("buffer ", b.name, " is an input that Program::inputs does not list");
    }
    persistent[k] = b.kind != BufferKind::kTemp;
    if (b.kind == BufferKind::kOutput) storage[k].allocate_poisoned();
  }
  for (const OutputRef& o : program.outputs) {
    if (o.buffer < 0 || static_cast<size_t>(o.buffer) >= storage.size()) {
      throw error("output ", o.name, " names buffer id ", o.buffer, ", not a buffer");
    }
    persistent[static_cast<size_t>(o.buffer)] = true;
  }

  std::vector<int> first, last;
  step_spans(program, first, last);
  for (size_t k = 0; k < program.steps.size(); ++k) {
    const Step& step = program.steps[k];
    for (size_t b = 0; b < storage.size(); ++b) {
      if (first[b] == static_cast<int>(k) && !storage[b].allocated) storage[b].allocate_poisoned();
    }
    try {
      if (step.kernel && step.call) throw error("a step is both a kernel and an extern call");
      if (step.kernel) {
        eval::run_kernel(*step.kernel, program, symbols, storage);
      } else if (step.call) {
        run_extern(*step.call, program, symbols, storage);
      } else {
        throw error("an empty step");
      }
    } catch (const Error& e) {
      std::string what = step.kernel ? step.kernel->name + " (" + step.kernel->comment + ")"
                         : step.call ? "extern " + step.call->kind + " (" + step.call->comment + ")"
                                     : "";
      throw error("step ", k, ", ", what, ": ", e.what());
    }
    for (size_t b = 0; b < storage.size(); ++b) {
      if (last[b] == static_cast<int>(k) && !persistent[b]) storage[b].release();
    }
  }

  std::vector<ref::Tensor> out;
  for (const OutputRef& o : program.outputs) {
    Storage& s = storage[static_cast<size_t>(o.buffer)];
    if (!s.allocated) s.allocate_poisoned();  // never written: poison shows it
    out.push_back(s.to_tensor());
  }
  return out;
}

void register_extern_evaluator(std::string_view kind, ExternEvaluator fn) {
  if (fn == nullptr) throw error("the evaluator of extern kind '", kind, "' is null");
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto [it, fresh] = extern_registry().emplace(std::string(kind), fn);
  if (!fresh && it->second != fn) {
    throw error("another evaluator is already registered for extern kind '", kind, "'");
  }
}

ExternEvaluator find_extern_evaluator(std::string_view kind) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto it = extern_registry().find(kind);
  return it == extern_registry().end() ? nullptr : it->second;
}

}  // namespace kiln::lower
