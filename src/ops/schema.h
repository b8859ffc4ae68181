#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace kiln::ops {

// The base type of a schema argument or return ("Tensor?[]" has base kTensor, list, optional
// elements).
enum class ArgType : uint8_t {
  kTensor,
  kInt,  // int and SymInt
  kFloat,
  kBool,
  kStr,
  kScalar,
  kScalarType,
  kLayout,
  kDevice,
  kMemoryFormat,
  kGenerator,
  kAny,
};

struct ArgSchema {
  std::string name;
  ArgType type = ArgType::kTensor;
  bool is_list = false;                       // "int[]", "Tensor[]", "int[2]"
  bool optional = false;                      // "Tensor?", "int[]?"
  bool element_optional = false;              // "Tensor?[]"
  bool is_mutated = false;                    // "Tensor(a!)"
  bool kwarg_only = false;                    // after "*"
  std::optional<ir::Argument> default_value;  // None is NoneArg
};

// A PyTorch operator schema, parsed from its text:
//   "linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor"
struct OpSchema {
  std::string name;  // "linear" (the text before the parenthesis; namespaces and overloads are
                     // the op table's business)
  std::vector<ArgSchema> args;
  std::vector<ArgSchema> returns;

  // -1 when no argument has that name.
  int index_of(std::string_view arg_name) const;
};

// Throws kiln::Error naming the schema and the position for malformed text.
OpSchema parse_schema(std::string_view text);

}  // namespace kiln::ops
