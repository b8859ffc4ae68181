#include "ops/schema.h"

#include <cctype>
#include <charconv>

#include "util/error.h"

namespace kiln::ops {
namespace {

class SchemaParser {
 public:
  explicit SchemaParser(std::string_view text) : text_(text) {}

  OpSchema parse() {
    OpSchema s;
    s.name = identifier();
    while (peek() == '.') {  // "aten::add.Tensor" style names are accepted and kept whole
      ++pos_;
      s.name += '.';
      s.name += identifier();
    }
    expect('(');
    bool kwarg_only = false;
    while (!accept(')')) {
      if (!s.args.empty()) expect(',');
      if (accept('*')) {
        kwarg_only = true;
        continue;
      }
      ArgSchema a = typed_name(true);
      a.kwarg_only = kwarg_only;
      s.args.push_back(std::move(a));
    }
    skip_space();
    if (!accept_text("->")) fail("expected '->'");
    if (accept('(')) {
      while (!accept(')')) {
        if (!s.returns.empty()) expect(',');
        s.returns.push_back(typed_name(false));
      }
    } else {
      s.returns.push_back(typed_name(false));
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the returns");
    return s;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw error("op schema '", text_, "': ", what, " at position ", pos_);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])))
      ++pos_;
  }
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool accept(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  bool accept_text(std::string_view t) {
    skip_space();
    if (text_.substr(pos_, t.size()) != t) return false;
    pos_ += t.size();
    return true;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  std::string identifier() {
    skip_space();
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                   text_[pos_] == '_' || text_[pos_] == ':')) {
      ++pos_;
    }
    if (start == pos_) fail("expected a name");
    return std::string(text_.substr(start, pos_ - start));
  }

  static ArgType base_type(std::string_view name, bool& ok) {
    ok = true;
    if (name == "Tensor") return ArgType::kTensor;
    if (name == "int" || name == "SymInt") return ArgType::kInt;
    if (name == "float") return ArgType::kFloat;
    if (name == "bool") return ArgType::kBool;
    if (name == "str") return ArgType::kStr;
    if (name == "Scalar") return ArgType::kScalar;
    if (name == "ScalarType") return ArgType::kScalarType;
    if (name == "Layout") return ArgType::kLayout;
    if (name == "Device") return ArgType::kDevice;
    if (name == "MemoryFormat") return ArgType::kMemoryFormat;
    if (name == "Generator") return ArgType::kGenerator;
    if (name == "Any") return ArgType::kAny;
    ok = false;
    return ArgType::kAny;
  }

  ArgSchema typed_name(bool with_name) {
    ArgSchema a;
    std::string type = identifier();
    bool ok = false;
    a.type = base_type(type, ok);
    if (!ok) fail("unknown type '" + type + "'");
    if (accept('(')) {  // alias annotation: Tensor(a), Tensor(a!), Tensor(a -> *)
      while (pos_ < text_.size() && text_[pos_] != ')') {
        if (text_[pos_] == '!') a.is_mutated = true;
        ++pos_;
      }
      expect(')');
    }
    if (accept('?')) a.element_optional = true;
    if (accept('[')) {
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])))
        ++pos_;
      expect(']');
      a.is_list = true;
      if (accept('?')) a.optional = true;
    } else {
      a.optional = a.element_optional;
      a.element_optional = false;
    }
    if (!with_name) {
      skip_space();
      if (pos_ < text_.size() && (std::isalpha(static_cast<unsigned char>(text_[pos_])))) {
        a.name = identifier();
      }
      return a;
    }
    a.name = identifier();
    if (accept('=')) a.default_value = default_value(a);
    return a;
  }

  ir::Argument default_value(const ArgSchema& a) {
    skip_space();
    if (accept_text("None")) return ir::NoneArg{};
    if (accept_text("True")) return true;
    if (accept_text("False")) return false;
    if (accept_text("contiguous_format")) return ir::MemoryFormat::kContiguous;
    if (accept_text("long")) return ir::ScalarTypeArg{ir::DType::kInt64};
    if (peek() == '"' || peek() == '\'') {
      char quote = text_[pos_++];
      size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] != quote)
        ++pos_;
      std::string s(text_.substr(start, pos_ - start));
      expect(quote);
      return s;
    }
    if (accept('[')) {
      std::vector<int64_t> ints;
      std::vector<double> floats;
      bool is_float = a.type == ArgType::kFloat;
      while (!accept(']')) {
        if (!ints.empty() || !floats.empty()) expect(',');
        double d = 0;
        int64_t i = 0;
        number(d, i, is_float);
        ints.push_back(i);
        floats.push_back(d);
      }
      if (is_float) return floats;
      return ints;
    }
    double d = 0;
    int64_t i = 0;
    bool is_float = number(d, i, a.type == ArgType::kFloat);
    if (a.is_list) {
      // "int[2] stride=1" repeats the value; the length is the op's business.
      return std::vector<int64_t>{i};
    }
    if (is_float) return d;
    return i;
  }

  // Reads an int or a float literal; returns true if it was a float.
  bool number(double& d, int64_t& i, bool want_float) {
    skip_space();
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
            text_[pos_] == '-' || text_[pos_] == '+')) {
      ++pos_;
    }
    std::string tok(text_.substr(start, pos_ - start));
    if (tok.empty()) fail("expected a default value");
    bool is_float = want_float || tok.find_first_of(".eE") != std::string::npos;
    if (tok == "inf" || tok == "-inf") is_float = true;
    if (is_float) {
      try {
        d = std::stod(tok);
      } catch (...) {
        fail("bad number '" + tok + "'");
      }
      i = static_cast<int64_t>(d);
      return true;
    }
    auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), i);
    if (ec != std::errc() || ptr != tok.data() + tok.size()) fail("bad number '" + tok + "'");
    d = static_cast<double>(i);
    return false;
  }
};

}  // namespace

int OpSchema::index_of(std::string_view arg_name) const {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].name == arg_name) return static_cast<int>(i);
  }
  return -1;
}

OpSchema parse_schema(std::string_view text) {
  return SchemaParser(text).parse();
}

}  // namespace kiln::ops
