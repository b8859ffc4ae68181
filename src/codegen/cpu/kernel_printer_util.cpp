#include "codegen/cpu/kernel_printer_util.h"

#include <cctype>
#include <cstdio>
#include <limits>

#include "codegen/cpu/scalar_printer.h"
#include "util/error.h"

namespace kiln::codegen::cpu::detail {
namespace {

// Digits without a leading zero (the spelling std::to_string gives), parsed; -1 otherwise.
int64_t parse_number(const std::string& s, size_t from, size_t to) {
  if (from >= to || to - from > 9) return -1;
  if (s[from] == '0' && to - from > 1) return -1;
  int64_t v = 0;
  for (size_t i = from; i < to; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool prefix_number(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 && parse_number(s, prefix.size(), s.size()) >= 0;
}

// Names a buffer pointer may not take: the printed function's own variables and C++ words.
bool reserved(const std::string& name) {
  static const std::set<std::string> words = {"ctx",
                                              "buffers",
                                              "failure",
                                              "source_op",
                                              "kern",
                                              "kiln",
                                              "std",
                                              "args",
                                              "inputs",
                                              "outputs",
                                              "ints",
                                              "floats",
                                              "int",
                                              "bool",
                                              "char",
                                              "float",
                                              "double",
                                              "long",
                                              "short",
                                              "signed",
                                              "unsigned",
                                              "void",
                                              "auto",
                                              "const",
                                              "constexpr",
                                              "static",
                                              "return",
                                              "if",
                                              "else",
                                              "for",
                                              "while",
                                              "do",
                                              "switch",
                                              "case",
                                              "default",
                                              "break",
                                              "continue",
                                              "goto",
                                              "new",
                                              "delete",
                                              "this",
                                              "class",
                                              "struct",
                                              "union",
                                              "enum",
                                              "namespace",
                                              "using",
                                              "template",
                                              "typename",
                                              "operator",
                                              "sizeof",
                                              "true",
                                              "false",
                                              "nullptr",
                                              "and",
                                              "or",
                                              "not",
                                              "xor",
                                              "register",
                                              "volatile",
                                              "extern",
                                              "inline",
                                              "friend",
                                              "private",
                                              "public",
                                              "protected",
                                              "virtual",
                                              "try",
                                              "catch",
                                              "throw",
                                              "typedef",
                                              "alignas",
                                              "alignof",
                                              "decltype",
                                              "explicit",
                                              "export",
                                              "mutable",
                                              "noexcept",
                                              "static_assert",
                                              "thread_local",
                                              "concept",
                                              "requires",
                                              "co_await",
                                              "co_return",
                                              "co_yield",
                                              "char8_t",
                                              "char16_t",
                                              "char32_t",
                                              "wchar_t",
                                              "bitand",
                                              "bitor",
                                              "compl",
                                              "and_eq",
                                              "or_eq",
                                              "xor_eq",
                                              "not_eq",
                                              "asm",
                                              "const_cast",
                                              "static_cast",
                                              "dynamic_cast",
                                              "reinterpret_cast",
                                              "typeid",
                                              "consteval",
                                              "constinit"};
  if (words.count(name) || name.rfind("kiln_", 0) == 0 || name.rfind("__", 0) == 0) return true;
  if (parse_local(name).kind != LocalVar::kNone) return true;
  // v<N>, acc<L>, acc<L>_index, acc<L>_nan
  return prefix_number(name, "v") || (name.rfind("acc", 0) == 0 && name.size() > 3 &&
                                      std::isdigit(static_cast<unsigned char>(name[3])));
}

std::string shape(const std::vector<sym::Expr>& sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) s += ", ";
    s += sizes[i].str();
  }
  return s + "]";
}

}  // namespace

void Writer::line(const std::string& text) {
  out_.append(static_cast<size_t>(indent_) * 2, ' ');
  out_ += text;
  out_ += '\n';
}

void Writer::open(const std::string& text) {
  line(text);
  ++indent_;
}

void Writer::close(const std::string& text) {
  --indent_;
  line(text);
}

LocalVar parse_local(const std::string& name) {
  LocalVar v;
  if (name.size() < 2) return v;
  if (name[0] == 'x' || name[0] == 't') {
    int64_t n = parse_number(name, 1, name.size());
    if (n >= 0) {
      v.kind = name[0] == 'x' ? LocalVar::kOuter : LocalVar::kIndirect;
      v.a = n;
    }
    return v;
  }
  if (name[0] == 'r') {
    size_t us = name.find('_');
    if (us == std::string::npos) return v;
    int64_t l = parse_number(name, 1, us), d = parse_number(name, us + 1, name.size());
    if (l >= 0 && d >= 0) {
      v.kind = LocalVar::kLoop;
      v.a = l;
      v.b = d;
    }
  }
  return v;
}

void check_identifier(const std::string& name, const std::string& what) {
  bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) throw error(what, " '", name, "' is not a C identifier");
}

Names::Names(const PrintContext& pc, std::string owner) : pc_(pc), owner_(std::move(owner)) {
  if (pc.program == nullptr) throw error(owner_, ": no program to print against");
  for (size_t i = 0; i < pc.symbols.size(); ++i) {
    const std::string& s = pc.symbols[i];
    check_identifier(s, "symbol");
    if (parse_local(s).kind != LocalVar::kNone || reserved(s)) {
      throw error("symbol ", s, " clashes with a name generated kernels use");
    }
    if (!symbol_index_.emplace(s, i).second) throw error("symbol ", s, " is listed twice");
  }
}

void Names::buffer(lower::BufferId id, const std::string& what) const {
  if (id < 0 || static_cast<size_t>(id) >= program().buffers.size()) {
    throw error(what, ": buffer ", id, " is not a buffer of the program (it has ",
                program().buffers.size(), ")");
  }
  const auto& b = program().buffers[static_cast<size_t>(id)];
  try {
    storage_ctype(b.dtype);
  } catch (const Error& e) {
    throw error(what, ": buffer ", b.name, ": ", e.what());
  }
}

std::string Names::pointer_name(lower::BufferId id) const {
  const std::string& name = program().buffers[static_cast<size_t>(id)].name;
  bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok || reserved(name) || is_symbol(name)) return "kiln_buf" + std::to_string(id);
  return name;
}

std::string Names::load(lower::BufferId id) {
  buffers_.emplace(id, false);
  return pointer_name(id);
}

std::string Names::store(lower::BufferId id) {
  buffers_[id] = true;
  return pointer_name(id);
}

std::string Names::cpp(const sym::Expr& e) {
  for (const auto& s : e.free_symbols()) {
    if (is_symbol(s)) used_symbols_.insert(s);
  }
  return e.to_cpp();
}

void Names::use_symbols_only(const sym::Expr& e, const std::string& what) {
  for (const auto& s : e.free_symbols()) {
    if (!is_symbol(s)) {
      throw error(owner_, ": ", what, " (", e.str(), ") uses ", s,
                  ", which is not a symbol of the program");
    }
    used_symbols_.insert(s);
  }
}

std::string Names::prologue() const {
  std::string out;
  // In RunContext order.
  for (size_t i = 0; i < pc_.symbols.size(); ++i) {
    if (used_symbols_.count(pc_.symbols[i])) {
      out += "  const int64_t " + pc_.symbols[i] + " = ctx.symbols[" + std::to_string(i) + "];\n";
    }
  }
  for (const auto& [id, written] : buffers_) {
    const auto& b = program().buffers[static_cast<size_t>(id)];
    const std::string type = (written ? "" : "const ") + std::string(storage_ctype(b.dtype)) + "*";
    out += "  " + type + " " + pointer_name(id) + " = static_cast<" + type + ">(buffers[" +
           std::to_string(id) + "]);\n";
  }
  return out;
}

std::string comment_lines(const std::string& text) {
  std::string out = "// ";
  for (char c : text) {
    if (c == '\n') {
      out += "\n// ";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  // A backslash ending a line would splice the next line into the comment.
  std::string fixed;
  for (size_t i = 0; i < out.size(); ++i) {
    fixed += out[i];
    if (out[i] == '\\' && (i + 1 == out.size() || out[i + 1] == '\n')) fixed += '.';
  }
  return fixed + "\n";
}

std::string c_string_literal(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\%03o", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string int_literal_min(ir::DType dtype) {
  using ir::DType;
  switch (dtype) {
    case DType::kBool:
      return "false";
    case DType::kInt8:
      return int_literal(std::numeric_limits<int8_t>::min(), dtype);
    case DType::kInt16:
      return int_literal(std::numeric_limits<int16_t>::min(), dtype);
    case DType::kInt32:
      return int_literal(std::numeric_limits<int32_t>::min(), dtype);
    case DType::kInt64:
      return int_literal(std::numeric_limits<int64_t>::min(), dtype);
    default:
      return int_literal(0, dtype);  // unsigned
  }
}

std::string int_literal_max(ir::DType dtype) {
  using ir::DType;
  switch (dtype) {
    case DType::kBool:
      return "true";
    case DType::kUInt8:
      return int_literal(std::numeric_limits<uint8_t>::max(), dtype);
    case DType::kInt8:
      return int_literal(std::numeric_limits<int8_t>::max(), dtype);
    case DType::kInt16:
      return int_literal(std::numeric_limits<int16_t>::max(), dtype);
    case DType::kUInt16:
      return int_literal(std::numeric_limits<uint16_t>::max(), dtype);
    case DType::kInt32:
      return int_literal(std::numeric_limits<int32_t>::max(), dtype);
    default:
      return int_literal(std::numeric_limits<int64_t>::max(), dtype);
  }
}

std::string loop_summary(const lower::Loop& loop) {
  std::string s;
  if (loop.reduce) {
    s = std::string(lower::reduce_op_name(*loop.reduce)) + " in " +
        std::string(ir::dtype_name(loop.accumulate));
  } else {
    s = "pointwise";
  }
  if (!loop.ranges.empty()) s += " over " + shape(loop.ranges);
  return s;
}

std::string space_summary(const lower::Kernel& kernel) {
  std::string s = "iteration space: outer " + shape(kernel.ranges) + ", loops: ";
  for (size_t l = 0; l < kernel.loops.size(); ++l) {
    if (l > 0) s += ", ";
    s += loop_summary(kernel.loops[l]);
  }
  if (kernel.loops.empty()) s += "none";
  return s;
}

}  // namespace kiln::codegen::cpu::detail
