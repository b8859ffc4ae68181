#pragma once

// Helpers shared by the CPU kernel and extern printers: an indenting line writer, the names a
// printed function uses (symbols read from the context, typed buffer pointers), and text
// escaping for comments and string literals.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "codegen/cpu/kernel_printer.h"

namespace kiln::codegen::cpu::detail {

class Writer {
 public:
  void set_indent(int indent) { indent_ = indent; }
  void line(const std::string& text);
  void open(const std::string& text);  // a line ending in "{"; indents what follows
  void close(const std::string& text = "}");
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  int indent_ = 0;
};

// A kernel-local variable name: x<i> (outer loop), r<L>_<d> (inner loop), t<N> (indirect).
struct LocalVar {
  enum Kind { kNone, kOuter, kLoop, kIndirect } kind = kNone;
  int64_t a = -1, b = -1;
};
LocalVar parse_local(const std::string& name);

// The names of one printed function. Records which symbols and buffers it uses, so that the
// prologue reads exactly those.
class Names {
 public:
  // `owner` names the function in errors ("kernel kernel3").
  Names(const PrintContext& pc, std::string owner);

  const lower::Program& program() const { return *pc_.program; }
  bool is_symbol(const std::string& name) const { return symbol_index_.count(name) != 0; }
  // Throws unless `id` is a buffer of the program with a dtype kernels support.
  void buffer(lower::BufferId id, const std::string& what) const;
  // The typed pointer variable of a buffer that is read / written.
  std::string load(lower::BufferId id);
  std::string store(lower::BufferId id);
  // e.to_cpp(), recording its symbols; throws for names that are not program symbols or
  // kernel-local variables (checked by the caller).
  std::string cpp(const sym::Expr& e);
  // Records the program symbols of e and throws for any other name.
  void use_symbols_only(const sym::Expr& e, const std::string& what);

  bool uses_symbols() const { return !used_symbols_.empty(); }
  bool uses_buffers() const { return !buffers_.empty(); }
  // `const int64_t s0 = ctx.symbols[0];` for each symbol used, then a typed pointer for each
  // buffer used (const when only read), indented by one level.
  std::string prologue() const;

 private:
  std::string pointer_name(lower::BufferId id) const;

  const PrintContext& pc_;
  std::string owner_;
  std::map<std::string, size_t> symbol_index_;
  std::set<std::string> used_symbols_;
  std::map<lower::BufferId, bool> buffers_;  // id -> written
};

void check_identifier(const std::string& name, const std::string& what);
// `// text` lines for a comment that may hold any characters.
std::string comment_lines(const std::string& text);
// A C++ string literal holding text exactly.
std::string c_string_literal(const std::string& text);
// The smallest / largest value of an integer or bool dtype as a literal.
std::string int_literal_min(ir::DType dtype);
std::string int_literal_max(ir::DType dtype);
// "sum in f32 over [768]", "pointwise over [s0, 4]", "pointwise".
std::string loop_summary(const lower::Loop& loop);
// "iteration space: outer [s0], loops: max in f32 over [768], ..."
std::string space_summary(const lower::Kernel& kernel);

}  // namespace kiln::codegen::cpu::detail
