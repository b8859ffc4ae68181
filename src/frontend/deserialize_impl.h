#pragma once

// Internals shared by deserialize.cpp (graphs, signature, program) and deserialize_args.cpp
// (the Argument union, tensor metadata, symbolic values).

#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "util/error.h"

namespace kiln::frontend::detail {

using Json = nlohmann::json;

// Where the reader is, for error messages: the source name and a path such as
// "graph, node 'linear' (aten.linear.default), argument 'weight'".
class Context {
 public:
  explicit Context(std::string_view source) : source_(source) {}

  std::string where() const;

  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    std::string w = where();
    throw error(source_, ": ", w, w.empty() ? "" : ": ", parts...);
  }

  // Pushes one path element for its lifetime. When an exception unwinds through it the element
  // stays, so a catch-all at the top can still say where a foreign exception came from.
  class Scope {
   public:
    Scope(Context& ctx, std::string what);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Context& ctx_;
    int uncaught_;
  };

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::vector<std::string> path_;
};

// Typed access to JSON values, failing through the context with the field's name.
const Json* find(const Json& object, std::string_view key);  // null when missing or null
const Json& require(Context& ctx, const Json& object, std::string_view key);
const Json& expect_object(Context& ctx, const Json& j, std::string_view what);
const Json& expect_array(Context& ctx, const Json& j, std::string_view what);
int64_t to_int(Context& ctx, const Json& j, std::string_view what);
double to_double(Context& ctx, const Json& j, std::string_view what);  // also "Infinity", "NaN"
bool to_bool(Context& ctx, const Json& j, std::string_view what);
std::string to_string(Context& ctx, const Json& j, std::string_view what);
// A union object: exactly one key, the active field.
std::pair<std::string, const Json*> union_of(Context& ctx, const Json& j, std::string_view what);

// Builds one ir::Graph (the program's or a subgraph) from a serialized Graph object.
class GraphReader {
 public:
  GraphReader(Context& ctx, const Json& graph_json, ir::Graph& graph);

  // A use: an Argument whose value references must already be defined.
  ir::Argument argument(const Json& j);
  // A definition: a node output, creating the values it names.
  ir::Argument output(const Json& j, int producer);
  // A graph input (placeholder); `constant_name` names it if the export made it a literal.
  ir::ValueId input(const Json& j, const std::string& constant_name);
  // A value by name, which must be defined.
  ir::ValueId lookup(std::string_view name);

  Context& ctx() { return ctx_; }

 private:
  Context& ctx_;
  ir::Graph& graph_;
  const Json* tensor_values_;
  const Json* sym_int_values_;
  const Json* sym_bool_values_;
  const Json* sym_float_values_;
  const Json* custom_obj_values_;

  ir::ValueId add(ir::Value v);
  const Json& meta(const Json* table, std::string_view table_name, const std::string& name);
  ir::ValueId define_tensor(const std::string& name, int producer);
  ir::ValueId define_sym(const std::string& name, ir::ValueKind kind, int producer);
  ir::ValueId define_custom_obj(const std::string& name, const std::string& class_fqn,
                                int producer);
  ir::TensorArg tensor_ref(const Json& j);
  ir::OptionalTensorArg optional_tensor(const Json& j);
  ir::SymIntArg sym_int_arg(const Json& j);
  ir::SymBoolArg sym_bool_arg(const Json& j);
  ir::SymFloatArg sym_float_arg(const Json& j);
};

ir::TensorType tensor_meta(Context& ctx, const Json& j);
sym::Expr sym_int(Context& ctx, const Json& j);   // a SymInt: {as_int} | {as_expr}
sym::Expr sym_bool(Context& ctx, const Json& j);  // a SymBool: {as_bool} | {as_expr}
ir::Device device(Context& ctx, const Json& j);

// Reads a serialized Graph; `constant_names[i]` names graph input i if it is a literal.
ir::Graph read_graph(Context& ctx, const Json& j, const std::vector<std::string>& constant_names);

}  // namespace kiln::frontend::detail
