#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/dtype.h"
#include "sym/expr.h"

namespace kiln::ir {

struct TensorType {
  DType dtype = DType::kFloat32;
  Device device;
  Layout layout = Layout::kStrided;
  std::vector<sym::Expr> sizes;
  std::vector<sym::Expr> strides;
  sym::Expr storage_offset;
  bool requires_grad = false;

  size_t rank() const { return sizes.size(); }
  sym::Expr numel() const;
  // "f32[s0, 3, 224, 224]"
  std::string str() const;

  // Row-major strides for `sizes` (torch.empty's layout; a size-0 dim counts as 1).
  static std::vector<sym::Expr> contiguous_strides(const std::vector<sym::Expr>& sizes);
  // A strided, contiguous tensor type with storage offset 0.
  static TensorType contiguous(DType dtype, std::vector<sym::Expr> sizes, Device device = {});
};

// kConstant is a graph input the export specialized to a literal (an int, None, ...): the
// placeholder stays, so inputs line up with the signature, and Value::constant holds the literal.
enum class ValueKind : uint8_t {
  kTensor,
  kSymInt,
  kSymBool,
  kSymFloat,
  kCustomObj,
  kToken,
  kConstant,
};

using ValueId = int32_t;  // index into Graph::values

// A symbolic int argument is either a graph value (a SymInt node output) or a literal.
struct SymIntArg {
  std::optional<ValueId> value;
  int64_t literal = 0;
  bool operator==(const SymIntArg&) const = default;
};
struct SymBoolArg {
  std::optional<ValueId> value;
  bool literal = false;
  bool operator==(const SymBoolArg&) const = default;
};
struct SymFloatArg {
  std::optional<ValueId> value;
  double literal = 0;
  bool operator==(const SymFloatArg&) const = default;
};

struct Graph;

struct NoneArg {
  bool operator==(const NoneArg&) const = default;
};
struct TensorArg {
  ValueId value = -1;
  bool operator==(const TensorArg&) const = default;
};
struct OptionalTensorArg {
  std::optional<ValueId> value;
  bool operator==(const OptionalTensorArg&) const = default;
};
struct ScalarTypeArg {
  DType dtype;
  bool operator==(const ScalarTypeArg&) const = default;
};
struct SubgraphArg {
  std::string name;
  std::shared_ptr<Graph> graph;
  bool operator==(const SubgraphArg& o) const { return name == o.name && graph == o.graph; }
};
struct CustomObjArg {
  std::string name;
  std::string class_fqn;
  std::optional<ValueId> value;  // the kCustomObj value named `name`, when resolved
  bool operator==(const CustomObjArg&) const = default;
};
struct OperatorArg {
  std::string target;
  bool operator==(const OperatorArg&) const = default;
};

// A typed argument, as the export schema's Argument union.
using Argument =
    std::variant<NoneArg, TensorArg, std::vector<TensorArg>, OptionalTensorArg,
                 std::vector<OptionalTensorArg>, int64_t, std::vector<int64_t>, double,
                 std::vector<double>, bool, std::vector<bool>, std::string,
                 std::vector<std::string>, SymIntArg, std::vector<SymIntArg>, SymBoolArg,
                 std::vector<SymBoolArg>, SymFloatArg, std::vector<SymFloatArg>, ScalarTypeArg,
                 MemoryFormat, Layout, Device, SubgraphArg, CustomObjArg, OperatorArg>;

// Every value an argument refers to, in order (lists flattened; subgraphs not entered).
std::vector<ValueId> argument_values(const Argument& arg);

// A named value of the graph: a placeholder, or an output of a node.
struct Value {
  std::string name;
  ValueKind kind = ValueKind::kTensor;
  TensorType type;               // kTensor only
  std::optional<sym::Expr> sym;  // kSymInt/kSymBool: the value as an expression over symbols
  int producer = -1;             // index of the producing node in Graph::nodes; -1 for graph inputs
  std::string class_fqn;         // kCustomObj only: the TorchBind class
  Argument constant;             // kConstant only: the literal the export specialized the input to
  // Set by passes::resolve_views on a value a view op produced: the value is an index map over
  // this root (a graph input or a non-view node output, never itself a view), and type.strides
  // and type.storage_offset are in elements of the root's buffer.
  std::optional<ValueId> view_of;
};

enum class ArgKindHint : uint8_t { kUnknown, kPositional, kKeyword };

struct NamedArgument {
  std::string name;  // the schema argument name ("" for positional HOP arguments)
  Argument arg;
  ArgKindHint kind = ArgKindHint::kUnknown;
};

struct Node {
  std::string name;    // the node's name (its first output's name when the file has none)
  std::string target;  // "aten.linear.default", "_operator.add", "higher_order.cond"
  std::vector<NamedArgument> inputs;
  // Outputs are values (or None for an output slot the program never names).
  std::vector<Argument> outputs;
  std::map<std::string, std::string> metadata;
  // Higher-order ops only: the op returns one bare tensor rather than a one-element tuple.
  bool is_hop_single_tensor_return = false;

  const NamedArgument* input(std::string_view arg_name) const;
};

enum class InputKind : uint8_t {
  kUserInput,
  kParameter,
  kBuffer,
  kTensorConstant,
  kCustomObj,
  kConstantInput,
  kToken,
};

struct InputSpec {
  InputKind kind = InputKind::kUserInput;
  Argument arg;            // the placeholder (TensorArg, SymIntArg, or a literal for constants)
  std::string target;      // FQN for parameters, buffers, constants, custom objects
  bool persistent = true;  // buffers only
};

enum class OutputKind : uint8_t {
  kUserOutput,
  kLossOutput,
  kBufferMutation,
  kGradientToParameter,
  kGradientToUserInput,
  kUserInputMutation,
  kToken,
  kParameterMutation,
};

struct OutputSpec {
  OutputKind kind = OutputKind::kUserOutput;
  Argument arg;
  std::string target;  // the mutated buffer/parameter FQN or user input name
};

struct Graph {
  std::vector<Value> values;
  std::vector<ValueId> inputs;  // placeholders, in the order of the signature's input specs
  std::vector<Argument> outputs;
  std::vector<Node> nodes;  // topological order
  // Subgraphs of higher-order ops: the graph returns one bare tensor, not a tuple.
  bool is_single_tensor_return = false;

  std::optional<ValueId> find(std::string_view name) const;
  ValueId add_value(Value v);  // throws if the name is taken
 private:
  std::map<std::string, ValueId, std::less<>> by_name_;
};

// A tensor the compiler made (a folded constant): dtype, sizes and the elements in row-major
// order as contiguous little-endian bytes.
struct ConstantData {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> sizes;
  std::vector<std::byte> bytes;
  bool operator==(const ConstantData&) const = default;
};

struct GraphSignature {
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
};

// The whole exported program: the graph, its signature and the symbol ranges.
struct ExportedProgram {
  Graph graph;
  GraphSignature signature;
  sym::RangeMap ranges;
  int schema_major = 0;
  int schema_minor = 0;
  std::string torch_version;
  std::vector<std::string> verifiers;
  std::map<std::string, int64_t> opset_version;
  std::vector<std::string> guards_code;  // Python guard expressions, kept for reference
  // The root module's call signature: pytree specs (JSON text) and forward()'s argument names.
  std::string in_spec;
  std::string out_spec;
  std::vector<std::string> forward_arg_names;
  // Data of the tensor-constant inputs the passes add (fold_constants), by their signature
  // target. Archive tensors are not copied here; they stay in the archive.
  std::map<std::string, ConstantData> constants;
  // Reads the stored tensor of a parameter, buffer or tensor constant by its target FQN; set
  // by whoever holds the weights (passes::attach_stored_tensors). Without it, constant folding
  // folds only through literals and folded values.
  std::function<std::optional<ConstantData>(const std::string& target)> read_stored;
};

std::string_view input_kind_name(InputKind k);
std::string_view output_kind_name(OutputKind k);
std::string_view value_kind_name(ValueKind k);

}  // namespace kiln::ir
