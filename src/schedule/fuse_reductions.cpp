#include "schedule/fuse_reductions.h"

#include <functional>
#include <map>
#include <string>

#include "lower/lowering.h"
#include "schedule/program_uses.h"

namespace kiln::schedule {

namespace {

using lower::Body;
using lower::BodyBuilder;
using lower::BufferId;
using lower::Kernel;
using lower::Loop;
using lower::ScalarNode;
using lower::ScalarOp;
using Renames = std::map<std::string, sym::Expr>;

std::string x_var(size_t d) { return "x" + std::to_string(d); }
std::string r_var(size_t loop, size_t d) { return "r" + std::to_string(loop) + "_" + std::to_string(d); }

// Copies `src` into a new body: symbols renamed by `renames` (loop variables), indirect
// symbols t<N> renamed to their new node ids, loop references shifted by `loop_shift`. A node
// for which `replace` returns >= 0 is replaced by that node of the new body.
struct BodyCopy {
  Body body;
  std::vector<int32_t> map;  // old id -> new id
};
BodyCopy copy_body(const Body& src, const Renames& renames, int32_t loop_shift,
                   const std::function<int32_t(BodyBuilder&, const ScalarNode&, const Renames&)>& replace) {
  BodyCopy out;
  BodyBuilder b(out.body);
  Renames names = renames;
  for (size_t i = 0; i < src.nodes.size(); ++i) {
    const ScalarNode& old = src.nodes[i];
    int32_t id = replace ? replace(b, old, names) : -1;
    if (id < 0) {
      ScalarNode n = old;
      for (int32_t* operand : {&n.a, &n.b, &n.c}) {
        if (*operand >= 0) *operand = out.map[*operand];
      }
      if (n.op == ScalarOp::kLoad || n.op == ScalarOp::kIndex || n.op == ScalarOp::kIndirect) {
        n.index = n.index.substitute(names);
      }
      if (n.op == ScalarOp::kLoopResult || n.op == ScalarOp::kLoopIndex) n.ivalue += loop_shift;
      id = b.add_node(std::move(n));
    }
    out.map.push_back(id);
    if (old.op == ScalarOp::kIndirect) {
      names["t" + std::to_string(i)] = sym::Expr::symbol("t" + std::to_string(id));
    }
  }
  return out;
}

void rename_loop(Loop& loop, const Renames& renames, int32_t loop_shift,
                 const std::function<int32_t(BodyBuilder&, const ScalarNode&, const Renames&)>& replace) {
  BodyCopy c = copy_body(loop.body, renames, loop_shift, replace);
  // Store indices may use indirect symbols too.
  Renames names = renames;
  for (size_t i = 0; i < loop.body.nodes.size(); ++i) {
    if (loop.body.nodes[i].op == ScalarOp::kIndirect) {
      names["t" + std::to_string(i)] = sym::Expr::symbol("t" + std::to_string(c.map[i]));
    }
  }
  for (auto& st : loop.stores) {
    st.index = st.index.substitute(names);
    st.value = c.map[st.value];
  }
  if (loop.value >= 0) loop.value = c.map[loop.value];
  loop.body = std::move(c.body);
}

// A producer the consumer can absorb: outer loops, reduction loops, then one range-less loop
// that stores a single buffer at the row-major position of the outer index.
bool is_fusable_producer(const Kernel& k, BufferId& out) {
  if (k.loops.size() < 2) return false;
  const Loop& last = k.loops.back();
  if (!last.ranges.empty() || last.reduce || last.stores.size() != 1) return false;
  for (size_t l = 0; l + 1 < k.loops.size(); ++l) {
    if (!k.loops[l].reduce) return false;
  }
  lower::Index xs;
  for (size_t d = 0; d < k.ranges.size(); ++d) xs.push_back(sym::Expr::symbol(x_var(d)));
  if (last.stores[0].index != lower::ravel(xs, k.ranges)) return false;
  out = last.stores[0].buffer;
  return true;
}

// Merges producer `a` (storing buffer r) into consumer `b`; false when the shapes don't allow.
bool merge(const Kernel& a, BufferId r, const lower::Program& program, Kernel& b) {
  const size_t k = a.ranges.size();
  if (b.ranges.size() < k) return false;
  for (size_t d = 0; d < k; ++d) {
    if (b.ranges[d] != a.ranges[d]) return false;
  }
  const bool inner = b.ranges.size() > k;
  if (inner && (b.loops.size() != 1 || b.loops[0].reduce || !b.loops[0].ranges.empty())) return false;

  lower::Index xs;
  for (size_t d = 0; d < k; ++d) xs.push_back(sym::Expr::symbol(x_var(d)));
  const sym::Expr r_index = lower::ravel(xs, a.ranges);
  // Every load of r must read the value of the current outer point.
  for (const Loop& loop : b.loops) {
    for (const ScalarNode& n : loop.body.nodes) {
      if (n.op == ScalarOp::kLoad && n.buffer == r && n.index != r_index) return false;
    }
  }

  const auto a_loops = static_cast<int32_t>(a.loops.size() - 1);
  const Loop& store_loop = a.loops.back();
  const ir::DType r_dtype = program.buffers[r].dtype;
  // A load of r becomes the stored value, rounded to r's dtype as the store would.
  auto replace = [&](BodyBuilder& bb, const ScalarNode& n, const Renames&) -> int32_t {
    if (n.op != ScalarOp::kLoad || n.buffer != r) return -1;
    BodyCopy value = copy_body(store_loop.body, {}, 0, nullptr);
    std::vector<int32_t> map;
    for (const ScalarNode& vn : value.body.nodes) {
      ScalarNode c = vn;
      for (int32_t* operand : {&c.a, &c.b, &c.c}) {
        if (*operand >= 0) *operand = map[*operand];
      }
      map.push_back(bb.add_node(std::move(c)));
    }
    const int32_t v = map[store_loop.stores[0].value];
    return bb.cast(bb.cast(v, r_dtype), lower::compute_dtype(r_dtype));
  };

  Kernel merged;
  merged.name = b.name;
  merged.comment = a.comment + "; " + b.comment;
  merged.ranges = a.ranges;
  for (int32_t l = 0; l < a_loops; ++l) merged.loops.push_back(a.loops[l]);
  for (size_t l = 0; l < b.loops.size(); ++l) {
    Loop loop = b.loops[l];
    const size_t new_l = a_loops + l;
    Renames renames;
    for (size_t d = 0; d < loop.ranges.size(); ++d) renames[r_var(l, d)] = sym::Expr::symbol(r_var(new_l, d));
    if (inner) {
      for (size_t d = k; d < b.ranges.size(); ++d) {
        renames[x_var(d)] = sym::Expr::symbol(r_var(new_l, d - k));
        loop.ranges.push_back(b.ranges[d]);
      }
    }
    rename_loop(loop, renames, a_loops, replace);
    merged.loops.push_back(std::move(loop));
  }
  b = std::move(merged);
  return true;
}

}  // namespace

void drop_unit_ranges(Kernel& kernel) {
  Renames renames;
  std::vector<sym::Expr> ranges;
  for (size_t d = 0; d < kernel.ranges.size(); ++d) {
    if (kernel.ranges[d] == sym::Expr(1)) {
      renames[x_var(d)] = 0;
    } else {
      renames[x_var(d)] = sym::Expr::symbol(x_var(ranges.size()));
      ranges.push_back(kernel.ranges[d]);
    }
  }
  if (ranges.size() == kernel.ranges.size()) return;
  kernel.ranges = std::move(ranges);
  for (Loop& loop : kernel.loops) rename_loop(loop, renames, 0, nullptr);
}

int fuse_reductions(lower::Program& program) {
  for (auto& step : program.steps) {
    if (step.kernel) drop_unit_ranges(*step.kernel);
  }
  int merges = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    const StepUses uses = step_uses(program);
    for (size_t i = 0; i < program.steps.size() && !changed; ++i) {
      BufferId r = -1;
      if (!program.steps[i].kernel || !is_fusable_producer(*program.steps[i].kernel, r)) continue;
      if (program.buffers[r].kind != lower::BufferKind::kTemp) continue;
      // The single reader of r, later in the program.
      int reader = -1, readers = 0;
      for (size_t j = 0; j < uses.size(); ++j) {
        for (BufferId x : uses[j].reads) {
          if (x == r) {
            ++readers;
            reader = static_cast<int>(j);
          }
        }
      }
      if (readers != 1 || reader <= static_cast<int>(i) || !program.steps[reader].kernel) continue;
      Kernel consumer = *program.steps[reader].kernel;
      if (!merge(*program.steps[i].kernel, r, program, consumer)) continue;
      program.steps[reader].kernel = std::move(consumer);
      program.steps.erase(program.steps.begin() + static_cast<std::ptrdiff_t>(i));
      ++merges;
      changed = true;
    }
  }
  return merges;
}

}  // namespace kiln::schedule
