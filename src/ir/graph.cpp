#include "ir/graph.h"

#include <type_traits>

#include "util/error.h"

namespace kiln::ir {

sym::Expr TensorType::numel() const {
  sym::Expr n = 1;
  for (const auto& s : sizes)
    n = n * s;
  return n;
}

std::string TensorType::str() const {
  std::string out(dtype_name(dtype));
  out += '[';
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) out += ", ";
    out += sizes[i].str();
  }
  out += ']';
  return out;
}

std::vector<sym::Expr> TensorType::contiguous_strides(const std::vector<sym::Expr>& sizes) {
  // Symbolic dims are export-backed sizes (>= 1 by construction), so only literal zeros need the
  // max(size, 1) that torch applies; keeping symbols bare matches the strides torch records.
  std::vector<sym::Expr> strides(sizes.size());
  sym::Expr running = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = running;
    auto c = sizes[i].as_const();
    running = (c && *c == 0) ? running : running * sizes[i];
  }
  return strides;
}

TensorType TensorType::contiguous(DType dtype, std::vector<sym::Expr> sizes, Device device) {
  TensorType t;
  t.dtype = dtype;
  t.device = std::move(device);
  t.strides = contiguous_strides(sizes);
  t.sizes = std::move(sizes);
  return t;
}

std::vector<ValueId> argument_values(const Argument& arg) {
  std::vector<ValueId> out;
  auto add = [&](const std::optional<ValueId>& v) {
    if (v) out.push_back(*v);
  };
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, TensorArg>) {
          out.push_back(a.value);
        } else if constexpr (std::is_same_v<T, std::vector<TensorArg>>) {
          for (const auto& t : a)
            out.push_back(t.value);
        } else if constexpr (std::is_same_v<T, OptionalTensorArg> || std::is_same_v<T, SymIntArg> ||
                             std::is_same_v<T, SymBoolArg> || std::is_same_v<T, SymFloatArg> ||
                             std::is_same_v<T, CustomObjArg>) {
          add(a.value);
        } else if constexpr (std::is_same_v<T, std::vector<OptionalTensorArg>> ||
                             std::is_same_v<T, std::vector<SymIntArg>> ||
                             std::is_same_v<T, std::vector<SymBoolArg>> ||
                             std::is_same_v<T, std::vector<SymFloatArg>>) {
          for (const auto& e : a)
            add(e.value);
        }
      },
      arg);
  return out;
}

const NamedArgument* Node::input(std::string_view arg_name) const {
  for (const auto& in : inputs) {
    if (in.name == arg_name) return &in;
  }
  return nullptr;
}

std::optional<ValueId> Graph::find(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

ValueId Graph::add_value(Value v) {
  if (v.name.empty()) throw error("graph value without a name (value #", values.size(), ")");
  if (by_name_.count(v.name)) throw error("graph value name %", v.name, " is already defined");
  auto id = static_cast<ValueId>(values.size());
  by_name_.emplace(v.name, id);
  values.push_back(std::move(v));
  return id;
}

std::string_view input_kind_name(InputKind k) {
  switch (k) {
    case InputKind::kUserInput:
      return "user_input";
    case InputKind::kParameter:
      return "parameter";
    case InputKind::kBuffer:
      return "buffer";
    case InputKind::kTensorConstant:
      return "tensor_constant";
    case InputKind::kCustomObj:
      return "custom_obj";
    case InputKind::kConstantInput:
      return "constant_input";
    case InputKind::kToken:
      return "token";
  }
  return "?";
}

std::string_view output_kind_name(OutputKind k) {
  switch (k) {
    case OutputKind::kUserOutput:
      return "user_output";
    case OutputKind::kLossOutput:
      return "loss_output";
    case OutputKind::kBufferMutation:
      return "buffer_mutation";
    case OutputKind::kGradientToParameter:
      return "gradient_to_parameter";
    case OutputKind::kGradientToUserInput:
      return "gradient_to_user_input";
    case OutputKind::kUserInputMutation:
      return "user_input_mutation";
    case OutputKind::kToken:
      return "token";
    case OutputKind::kParameterMutation:
      return "parameter_mutation";
  }
  return "?";
}

std::string_view value_kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::kTensor:
      return "Tensor";
    case ValueKind::kSymInt:
      return "SymInt";
    case ValueKind::kSymBool:
      return "SymBool";
    case ValueKind::kSymFloat:
      return "SymFloat";
    case ValueKind::kCustomObj:
      return "CustomObj";
    case ValueKind::kToken:
      return "Token";
    case ValueKind::kConstant:
      return "Const";
  }
  return "?";
}

}  // namespace kiln::ir
