#pragma once

// Lowering: the functionalized, decomposed ATen graph becomes kernel IR.
//
// Each graph value becomes a TensorRef: a function from an index (one sym::Expr per dim) to a
// scalar node of the body being built. Pointwise ops and views compose these functions, so a
// chain of them costs nothing until a consumer that needs memory (a reduction, an extern, an
// output, a value with several costly users) realizes it: one kernel then computes the whole
// chain into a buffer. Each op's lowering is a LowerFn in the table of src/lower/lower_*.cpp,
// keyed by the op's target (the op table's entry of the same target gives its schema).

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "lower/kernel_ir.h"
#include "ops/args.h"

namespace kiln::lower {

// Builds one body, sharing structurally equal nodes.
class BodyBuilder {
 public:
  explicit BodyBuilder(Body& body) : body_(body) {}

  int32_t load(BufferId buffer, ir::DType buffer_dtype, const sym::Expr& flat_index);
  int32_t constant(double value, ir::DType dtype);  // dtype: any; ints/bools take value as is
  int32_t index_value(const sym::Expr& value);      // an int64 node
  // a converted to dtype (no node when it already has it). f16/bf16 round to that precision.
  int32_t cast(int32_t a, ir::DType dtype);
  int32_t unary(ScalarOp op, int32_t a);  // result in a's dtype (kNot, kIs*: bool)
  // Result dtype: a's for arithmetic (b must match: cast first), bool for comparisons/logic.
  int32_t binary(ScalarOp op, int32_t a, int32_t b);
  int32_t where(int32_t cond, int32_t a, int32_t b);  // a and b of one dtype
  // The value of int node a, wrapped if negative and checked against [0, size), as an index
  // variable usable in index expressions (the symbol "t<N>").
  sym::Expr indirect(int32_t a, const sym::Expr& size);
  int32_t loop_result(int32_t loop, ir::DType dtype);
  int32_t loop_index(int32_t loop);

  // Adds a node as given (operands already in this body), sharing an equal existing node.
  int32_t add_node(ScalarNode n) { return add(std::move(n)); }

  ir::DType dtype(int32_t node) const { return body_.nodes[node].dtype; }
  Body& body() { return body_; }

  // The graph nodes whose computation was inlined into this body ("aten.exp.default (exp)"),
  // in first-use order, for the kernel's comment.
  void note_origin(const std::string& label);
  const std::vector<std::string>& origins() const { return origins_; }

 private:
  int32_t add(ScalarNode n);
  Body& body_;
  std::vector<std::string> origins_;
};

using Index = std::vector<sym::Expr>;
// Emits the scalar value of a tensor at an index into a body.
using LoadFn = std::function<int32_t(BodyBuilder& b, const Index& index)>;

// A tensor during lowering. Copies share state: realizing one realizes all.
class TensorRef {
 public:
  TensorRef() = default;
  TensorRef(ir::DType dtype, std::vector<sym::Expr> sizes, LoadFn load, int cost);
  static TensorRef of_buffer(const Buffer& buffer, BufferId id);

  ir::DType dtype() const;
  const std::vector<sym::Expr>& sizes() const;
  size_t rank() const { return sizes().size(); }
  // The value at index (one expression per dim), in the body being built. For a realized
  // tensor this is a load of its buffer; for a lazy one its whole computation, inlined.
  int32_t load(BodyBuilder& b, const Index& index) const;
  // Scalar nodes one inlined load emits (0 for a realized tensor); guides realization.
  int cost() const;
  bool realized() const;
  BufferId buffer() const;  // valid when realized
  bool valid() const { return static_cast<bool>(state_); }
  // The buffer holding this [N, C, spatial...] tensor channels-last, as [N, spatial..., C], if
  // it has one. Such a tensor is not realized(): a consumer that needs row-major memory gets a
  // copy, and loads read the channels-last buffer.
  std::optional<BufferId> channels_last() const;

 private:
  friend class Lowering;
  void mark_realized(BufferId id) const;
  // Turns a lazy tensor into a view of its channels-last copy in `id`.
  void mark_channels_last(BufferId id, LoadFn view) const;
  void set_cost(int cost) const;
  void set_origin(const std::string& label) const;
  struct State;
  std::shared_ptr<State> state_;
};

class Lowering;
// Lowers one node: reads its arguments through `args`, sets each output with ctx.set_output.
using LowerFn = void (*)(Lowering& ctx, const ir::Node& node, const ops::Args& args);

struct LowerEntry {
  std::string_view target;
  LowerFn lower;
};

// The lowering tables of each family (src/lower/lower_<family>.cpp), joined.
std::vector<LowerEntry> all_lowerings();
LowerFn find_lowering(std::string_view target);

class Lowering {
 public:
  explicit Lowering(const ir::ExportedProgram& program);

  const ir::ExportedProgram& source() const { return source_; }
  const ir::Graph& graph() const { return source_.graph; }
  Program& program() { return program_; }

  // ---- for LowerFns ----
  // The TensorRef of a tensor value (a graph input, constant or earlier node's output).
  TensorRef tensor(ir::ValueId v);
  TensorRef tensor(const ops::Args& args, std::string_view name);
  std::vector<TensorRef> tensors(const ops::Args& args, std::string_view name);
  // The declared type of a node's i-th output value (from the graph).
  const ir::TensorType& output_type(const ir::Node& node, int i = 0) const;
  void set_output(const ir::Node& node, int i, TensorRef t);

  // A lazy elementwise tensor: `fn` computes the value at an index. `cost` estimates the
  // scalar nodes one evaluation emits beyond its inputs' loads.
  TensorRef pointwise(ir::DType dtype, std::vector<sym::Expr> sizes, LoadFn fn, int cost = 1);
  // A reduction over `dims` of `input` (kept as size-1 when keepdim), realized in a new
  // buffer; map the input first with pointwise() to reduce a function of it. Arg reductions
  // give int64 indices (row-major over the reduced dims).
  TensorRef reduce(const TensorRef& input, const std::vector<int64_t>& dims, bool keepdim,
                   ReduceOp op, ir::DType out_dtype, const std::string& comment);
  // Computes a lazy tensor into a new temp buffer (no-op when realized); returns its buffer.
  BufferId realize(const TensorRef& t, const std::string& comment);
  // A new temp buffer and a TensorRef reading it (for extern outputs).
  std::pair<BufferId, TensorRef> new_buffer(ir::DType dtype, std::vector<sym::Expr> sizes);
  // A new temp buffer holding an [N, C, spatial...] tensor of `sizes` channels-last, and the
  // tensor (see TensorRef::channels_last).
  std::pair<BufferId, TensorRef> new_channels_last_buffer(ir::DType dtype,
                                                          const std::vector<sym::Expr>& sizes);
  // The channels-last buffer of t: its own, or a new one computed by a kernel that runs in
  // channels-last order. A lazy t becomes a view of it; a realized t keeps its buffer too.
  BufferId realize_channels_last(const TensorRef& t, const std::string& comment);
  void emit(Kernel kernel);
  void emit(ExternCall call);
  std::string fresh_kernel_name();

  // A SymInt argument as an expression over the shape symbols.
  sym::Expr sym_int(const ops::Args& args, std::string_view name) const;
  std::vector<sym::Expr> sym_ints(const ops::Args& args, std::string_view name) const;
  // A "which node is being lowered" label for comments: "aten.add.Tensor (add_3)".
  std::string label(const ir::Node& node) const;

  // ---- driver ----
  // Lowers every node, then realizes each user output into an output buffer.
  Program run();

 private:
  const ir::ExportedProgram& source_;
  Program program_;
  // Whether a lazy tensor reads a channels-last buffer of its own rank (an f32 tensor of rank
  // 3 to 5): such a tensor is best stored channels-last too.
  bool prefers_channels_last(const TensorRef& t) const;

  std::vector<TensorRef> values_;
  std::vector<int> uses_;
  std::set<BufferId> channels_last_buffers_;
  int kernel_counter_ = 0;
};

// Lowers a program that went through passes::prepare_for_backend (and decomposition).
// Throws kiln::Error naming every target without a lowering, at once, before any work.
Program lower_program(const ir::ExportedProgram& program);

// Index helpers: row-major flat offset of an index into sizes, and the inverse.
sym::Expr ravel(const Index& index, const std::vector<sym::Expr>& sizes);
Index unravel(const sym::Expr& flat, const std::vector<sym::Expr>& sizes);
// The index into a tensor of `sizes` broadcast to an output index (right-aligned, size-1 dims
// read 0).
Index broadcast_index(const Index& out_index, const std::vector<sym::Expr>& sizes);
// The compute dtype of a body for tensors of `dtype`: f32 for f16/bf16, otherwise itself.
ir::DType compute_dtype(ir::DType dtype);

}  // namespace kiln::lower
