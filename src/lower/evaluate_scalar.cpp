// The kernel-IR evaluator's scalars: PyTorch's semantics of each scalar op in the node's dtype,
// buffers as the evaluator holds them, and index expressions compiled over variable slots.
#include <algorithm>
#include <cmath>
#include <limits>

#include "lower/evaluate_internal.h"
#include "sym/checked.h"
#include "util/error.h"
#include "util/float_formats.h"

namespace kiln::lower {
namespace eval {
namespace {

using ir::DType;
using sym::detail::checked_add;
using sym::detail::checked_mul;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// What an unwritten integer element holds (wrapped to the buffer's width).
constexpr int64_t kIntPoison = static_cast<int64_t>(0xA5A5A5A5A5A5A5A5ULL);

int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// c10's powi: negative exponents give 0 except for bases 1 and -1.
int64_t powi(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 1) return 1;
    if (base == -1) return exp % 2 != 0 ? -1 : 1;
    return 0;
  }
  int64_t r = 1;
  while (exp != 0) {
    if (exp & 1) r = wrap_mul(r, base);
    exp /= 2;
    base = wrap_mul(base, base);
  }
  return r;
}

// c10's div_floor_floating: floor(x / y) such that x == y * q + fmod(x, y).
double floor_div(double x, double y) {
  if (y == 0) return x / y;
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0 && (y < 0) != (mod < 0)) div -= 1;
  if (div == 0) return std::copysign(0.0, x / y);
  double q = std::floor(div);
  if (div - q > 0.5) q += 1;
  return q;
}

int64_t int_div(int64_t x, int64_t y, bool floor) {
  if (y == 0) throw error("integer division by zero");
  if (y == -1) return wrap_sub(0, x);  // INT_MIN / -1 wraps
  int64_t q = x / y;
  if (floor && x % y != 0 && (x < 0) != (y < 0)) --q;
  return q;
}

int64_t int_mod(int64_t x, int64_t y, bool python) {
  if (y == 0) throw error("integer modulo by zero");
  if (y == -1) return 0;
  int64_t r = x % y;
  if (python && r != 0 && (r < 0) != (y < 0)) r += y;
  return r;
}

// PyTorch's shifts: amounts outside [0, width) shift everything out.
int64_t shift(const Kind& k, int64_t x, int64_t by, bool left) {
  int width = static_cast<int>(ir::dtype_size(k.dtype)) * 8;
  bool is_unsigned =
      k.dtype == DType::kUInt8 || k.dtype == DType::kUInt16 || k.dtype == DType::kBool;
  if (by < 0 || by >= width) return left || is_unsigned || x >= 0 ? 0 : -1;
  if (left) return static_cast<int64_t>(static_cast<uint64_t>(x) << by);
  return x >> by;  // x is already wrapped to the dtype, so this is its arithmetic shift
}

// Giles' approximation, refined by two Newton steps on erf.
double erfinv(double y) {
  if (std::isnan(y) || y < -1 || y > 1) return kNaN;
  if (y == 1 || y == -1) return y * std::numeric_limits<double>::infinity();
  double w = -std::log((1 - y) * (1 + y)), p;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941})
      p = c + p * w;
  } else {
    w = std::sqrt(w) - 3;
    p = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682})
      p = c + p * w;
  }
  double x = p * y;
  for (int k = 0; k < 2; ++k)
    x -= (std::erf(x) - y) / (2 / std::sqrt(M_PI) * std::exp(-x * x));
  return x;
}

// The next value after x toward y in the node's dtype.
double next_after(const Kind& k, double x, double y) {
  if (k.dtype == DType::kFloat64) return std::nextafter(x, y);
  if (k.dtype == DType::kFloat32) {
    return std::nextafter(static_cast<float>(x), static_cast<float>(y));
  }
  if (std::isnan(x) || std::isnan(y)) return kNaN;
  if (x == y) return y;
  bool half = k.dtype == DType::kFloat16;
  if (!half && k.dtype != DType::kBFloat16) {
    throw error("nextafter is not available in ", ir::dtype_name(k.dtype));
  }
  uint16_t bits = half ? util::double_to_half_bits(x) : util::double_to_bfloat16_bits(x);
  if (x == 0) {
    bits = static_cast<uint16_t>((y > 0 ? 0 : 0x8000) | 1);
  } else {
    bits = static_cast<uint16_t>((x < y) == (x > 0) ? bits + 1 : bits - 1);
  }
  return half ? util::half_bits_to_double(bits) : util::bfloat16_bits_to_double(bits);
}

// NaN-propagating maximum/minimum, as torch.maximum/minimum.
double fmax_nan(double x, double y, bool max) {
  if (std::isnan(x) || std::isnan(y)) return kNaN;
  return max ? std::max(x, y) : std::min(x, y);
}

double sigmoid(double x) {
  return 1 / (1 + std::exp(-x));
}

double unary_float(ScalarOp op, double x) {
  switch (op) {
    case ScalarOp::kNeg:
      return -x;
    case ScalarOp::kAbs:
      return std::fabs(x);
    case ScalarOp::kSign:
      return static_cast<double>((0 < x) - (x < 0));  // sign(nan) is 0, as in PyTorch
    case ScalarOp::kExp:
      return std::exp(x);
    case ScalarOp::kExp2:
      return std::exp2(x);
    case ScalarOp::kExpm1:
      return std::expm1(x);
    case ScalarOp::kLog:
      return std::log(x);
    case ScalarOp::kLog2:
      return std::log2(x);
    case ScalarOp::kLog10:
      return std::log10(x);
    case ScalarOp::kLog1p:
      return std::log1p(x);
    case ScalarOp::kSqrt:
      return std::sqrt(x);
    case ScalarOp::kRsqrt:
      return 1 / std::sqrt(x);
    case ScalarOp::kReciprocal:
      return 1 / x;
    case ScalarOp::kSin:
      return std::sin(x);
    case ScalarOp::kCos:
      return std::cos(x);
    case ScalarOp::kTan:
      return std::tan(x);
    case ScalarOp::kAsin:
      return std::asin(x);
    case ScalarOp::kAcos:
      return std::acos(x);
    case ScalarOp::kAtan:
      return std::atan(x);
    case ScalarOp::kSinh:
      return std::sinh(x);
    case ScalarOp::kCosh:
      return std::cosh(x);
    case ScalarOp::kTanh:
      return std::tanh(x);
    case ScalarOp::kAsinh:
      return std::asinh(x);
    case ScalarOp::kAcosh:
      return std::acosh(x);
    case ScalarOp::kAtanh:
      return std::atanh(x);
    case ScalarOp::kErf:
      return std::erf(x);
    case ScalarOp::kErfc:
      return std::erfc(x);
    case ScalarOp::kErfinv:
      return erfinv(x);
    case ScalarOp::kSigmoid:
      return sigmoid(x);
    case ScalarOp::kFloor:
      return std::floor(x);
    case ScalarOp::kCeil:
      return std::ceil(x);
    case ScalarOp::kRound:
      return std::nearbyint(x);  // half to even
    case ScalarOp::kTrunc:
      return std::trunc(x);
    case ScalarOp::kFrac:
      return x - std::trunc(x);
    default:
      break;
  }
  throw error("internal: ", scalar_op_name(op), " is not a floating unary op");
}

int64_t unary_int(const Kind& k, ScalarOp op, int64_t x) {
  switch (op) {
    case ScalarOp::kNeg:
      return wrap_sub(0, x);
    case ScalarOp::kAbs:
      return x < 0 ? wrap_sub(0, x) : x;
    case ScalarOp::kSign:
      return (0 < x) - (x < 0);
    case ScalarOp::kBitNot:
      return k.dtype == DType::kBool ? !x : ~x;
    case ScalarOp::kFloor:
    case ScalarOp::kCeil:
    case ScalarOp::kRound:
    case ScalarOp::kTrunc:
      return x;
    default:
      break;
  }
  throw error("internal: ", scalar_op_name(op), " is not an integer unary op");
}

double binary_float(const Kind& k, ScalarOp op, double x, double y) {
  switch (op) {
    case ScalarOp::kAdd:
      return x + y;
    case ScalarOp::kSub:
      return x - y;
    case ScalarOp::kMul:
      return x * y;
    case ScalarOp::kDiv:
      return x / y;
    case ScalarOp::kFloorDiv:
      return floor_div(x, y);
    case ScalarOp::kMod: {
      double m = std::fmod(x, y);
      return m != 0 && (y < 0) != (m < 0) ? m + y : m;
    }
    case ScalarOp::kFmod:
      return std::fmod(x, y);
    case ScalarOp::kPow:
      return std::pow(x, y);
    case ScalarOp::kAtan2:
      return std::atan2(x, y);
    case ScalarOp::kHypot:
      return std::hypot(x, y);
    case ScalarOp::kCopysign:
      return std::copysign(x, y);
    case ScalarOp::kNextafter:
      return next_after(k, x, y);
    case ScalarOp::kMax:
      return fmax_nan(x, y, true);
    case ScalarOp::kMin:
      return fmax_nan(x, y, false);
    default:
      break;
  }
  throw error("internal: ", scalar_op_name(op), " is not a floating binary op");
}

int64_t binary_int(const Kind& k, ScalarOp op, int64_t x, int64_t y) {
  switch (op) {
    case ScalarOp::kAdd:
      return wrap_add(x, y);
    case ScalarOp::kSub:
      return wrap_sub(x, y);
    case ScalarOp::kMul:
      return wrap_mul(x, y);
    case ScalarOp::kDiv:
      return int_div(x, y, false);
    case ScalarOp::kFloorDiv:
      return int_div(x, y, true);
    case ScalarOp::kMod:
      return int_mod(x, y, true);
    case ScalarOp::kFmod:
      return int_mod(x, y, false);
    case ScalarOp::kPow:
      return powi(x, y);
    case ScalarOp::kMax:
      return std::max(x, y);
    case ScalarOp::kMin:
      return std::min(x, y);
    case ScalarOp::kBitAnd:
      return x & y;
    case ScalarOp::kBitOr:
      return x | y;
    case ScalarOp::kBitXor:
      return x ^ y;
    case ScalarOp::kShl:
      return shift(k, x, y, true);
    case ScalarOp::kShr:
      return shift(k, x, y, false);
    default:
      break;
  }
  throw error("internal: ", scalar_op_name(op), " is not an integer binary op");
}

template <typename T>
bool compare(ScalarOp op, T x, T y) {
  switch (op) {
    case ScalarOp::kEq:
      return x == y;
    case ScalarOp::kNe:
      return x != y;
    case ScalarOp::kLt:
      return x < y;
    case ScalarOp::kLe:
      return x <= y;
    case ScalarOp::kGt:
      return x > y;
    default:
      return x >= y;
  }
}

constexpr std::string_view kOpNames[] = {
    "load",   "const",    "index",     "cast",     "indirect", "loop_result", "loop_index", "neg",
    "abs",    "not",      "bitnot",    "sign",     "exp",      "exp2",        "expm1",      "log",
    "log2",   "log10",    "log1p",     "sqrt",     "rsqrt",    "reciprocal",  "sin",        "cos",
    "tan",    "asin",     "acos",      "atan",     "sinh",     "cosh",        "tanh",       "asinh",
    "acosh",  "atanh",    "erf",       "erfc",     "erfinv",   "sigmoid",     "floor",      "ceil",
    "round",  "trunc",    "frac",      "isnan",    "isinf",    "isfinite",    "signbit",    "add",
    "sub",    "mul",      "div",       "floordiv", "mod",      "fmod",        "pow",        "atan2",
    "hypot",  "copysign", "nextafter", "max",      "min",      "eq",          "ne",         "lt",
    "le",     "gt",       "ge",        "and",      "or",       "xor",         "bitand",     "bitor",
    "bitxor", "shl",      "shr",       "where"};
static_assert(std::size(kOpNames) == static_cast<size_t>(ScalarOp::kWhere) + 1);

bool in_ops(ScalarOp op, ScalarOp first, ScalarOp last) {
  return op >= first && op <= last;
}

}  // namespace

// ---- Scalars and buffers -------------------------------------------------------------------

Kind kind_of(DType t, const std::string& what) {
  Kind k;
  k.dtype = t;
  k.floating = ir::is_floating(t);
  if (!k.floating && !ir::is_integral(t) && t != DType::kBool) {
    throw error(what, " has dtype ", ir::dtype_name(t), ", which kernel IR does not compute in");
  }
  k.round = t == DType::kFloat64   ? Round::kNone
            : t == DType::kFloat32 ? Round::kFloat
                                   : Round::kFormat;
  return k;
}

double round_slow(DType t, double v) {
  return util::round_to_float_format(t, v);
}

void Storage::allocate_poisoned() {
  if (kind.floating) {
    f.assign(static_cast<size_t>(numel), kNaN);
  } else {
    i.assign(static_cast<size_t>(numel), wrap_as(kind, kIntPoison));
  }
  fdata = f.data();
  idata = i.data();
  allocated = true;
}

void Storage::release() {
  f = {};
  i = {};
  fdata = nullptr;
  idata = nullptr;
  allocated = false;
}

void Storage::fill_from(const ref::Tensor& t) {
  allocated = true;
  f.resize(kind.floating ? static_cast<size_t>(numel) : 0);
  i.resize(kind.floating ? 0 : static_cast<size_t>(numel));
  fdata = f.data();
  idata = i.data();
  for (int64_t k = 0; k < numel; ++k) {
    if (kind.floating) {
      fdata[k] = t.get(k);
    } else {
      idata[k] = t.get_int(k);
    }
  }
}

ref::Tensor Storage::to_tensor() const {
  ref::Tensor t(kind.dtype, sizes);
  for (int64_t k = 0; k < numel; ++k) {
    if (kind.floating) {
      t.set(k, fdata[k]);
    } else {
      t.set_int(k, idata[k]);
    }
  }
  return t;
}

std::string Storage::str() const {
  std::string s = buffer->name + " (" + std::string(ir::dtype_name(kind.dtype)) + "[";
  for (size_t d = 0; d < sizes.size(); ++d)
    s += (d ? ", " : "") + std::to_string(sizes[d]);
  return s + "])";
}

// ---- Scalar ops ----------------------------------------------------------------------------

bool is_unary(ScalarOp op) {
  return in_ops(op, ScalarOp::kNeg, ScalarOp::kSignbit);
}
bool is_binary(ScalarOp op) {
  return in_ops(op, ScalarOp::kAdd, ScalarOp::kShr);
}
bool floating_only(ScalarOp op) {
  return in_ops(op, ScalarOp::kExp, ScalarOp::kSigmoid) || op == ScalarOp::kFrac ||
         in_ops(op, ScalarOp::kAtan2, ScalarOp::kNextafter);
}
bool integer_only(ScalarOp op) {
  return op == ScalarOp::kBitNot || in_ops(op, ScalarOp::kBitAnd, ScalarOp::kShr);
}
bool bool_result(ScalarOp op) {
  return op == ScalarOp::kNot || in_ops(op, ScalarOp::kIsNan, ScalarOp::kSignbit) ||
         in_ops(op, ScalarOp::kEq, ScalarOp::kXor);
}

namespace {

KILN_EVAL_INLINE double as_f(Val x, bool floating) {
  return floating ? x.f : static_cast<double>(x.i);
}
KILN_EVAL_INLINE bool truthy(Val x, bool floating) {
  return floating ? x.f != 0 : x.i != 0;
}

}  // namespace

Val apply_scalar(const CNode& n, const Val* v) {
  const Val a = n.a >= 0 ? v[n.a] : Val{};
  Val r;
  switch (n.op) {
    case ScalarOp::kCast:
      return convert(a, n.fa, n.kind);
    case ScalarOp::kWhere:
      return truthy(a, n.fa) ? convert(v[n.b], n.fb, n.kind) : convert(v[n.c], n.fc, n.kind);
    case ScalarOp::kNot:
      r.i = !truthy(a, n.fa);
      return r;
    case ScalarOp::kIsNan:
      r.i = n.fa && std::isnan(a.f);
      return r;
    case ScalarOp::kIsInf:
      r.i = n.fa && std::isinf(a.f);
      return r;
    case ScalarOp::kIsFinite:
      r.i = !n.fa || std::isfinite(a.f);
      return r;
    case ScalarOp::kSignbit:
      r.i = n.fa ? std::signbit(a.f) : a.i < 0;
      return r;
    case ScalarOp::kAnd:
      r.i = truthy(a, n.fa) && truthy(v[n.b], n.fb);
      return r;
    case ScalarOp::kOr:
      r.i = truthy(a, n.fa) || truthy(v[n.b], n.fb);
      return r;
    case ScalarOp::kXor:
      r.i = truthy(a, n.fa) != truthy(v[n.b], n.fb);
      return r;
    default:
      break;
  }
  if (in_ops(n.op, ScalarOp::kEq, ScalarOp::kGe)) {
    const Val b = v[n.b];
    r.i = n.fa || n.fb ? compare(n.op, as_f(a, n.fa), as_f(b, n.fb)) : compare(n.op, a.i, b.i);
    return r;
  }
  if (n.kind.floating) {
    double x = as_f(a, n.fa);
    r.f =
        is_binary(n.op) ? binary_float(n.kind, n.op, x, as_f(v[n.b], n.fb)) : unary_float(n.op, x);
    r.f = round_as(n.kind, r.f);
  } else {
    int64_t x = n.fa ? to_int(a.f) : a.i;
    if (is_binary(n.op)) {
      r.i = binary_int(n.kind, n.op, x, n.fb ? to_int(v[n.b].f) : v[n.b].i);
    } else {
      r.i = unary_int(n.kind, n.op, x);
    }
    r.i = wrap_as(n.kind, r.i);
  }
  return r;
}

// ---- Index expressions ---------------------------------------------------------------------

namespace {

int64_t apply_index_op(sym::Op op, const int64_t* a, int32_t n) {
  switch (op) {
    case sym::Op::kAdd: {
      int64_t r = 0;
      for (int32_t k = 0; k < n; ++k)
        r = checked_add(r, a[k]);
      return r;
    }
    case sym::Op::kMul: {
      int64_t r = 1;
      for (int32_t k = 0; k < n; ++k)
        r = checked_mul(r, a[k]);
      return r;
    }
    case sym::Op::kFloorDiv:
      return sym::detail::py_floordiv(a[0], a[1]);
    case sym::Op::kMod:
      return sym::detail::py_mod(a[0], a[1]);
    case sym::Op::kMin:
      return *std::min_element(a, a + n);
    case sym::Op::kMax:
      return *std::max_element(a, a + n);
    case sym::Op::kEq:
      return a[0] == a[1];
    case sym::Op::kNe:
      return a[0] != a[1];
    case sym::Op::kLt:
      return a[0] < a[1];
    case sym::Op::kLe:
      return a[0] <= a[1];
    case sym::Op::kAnd:
      return std::all_of(a, a + n, [](int64_t x) { return x != 0; });
    case sym::Op::kOr:
      return std::any_of(a, a + n, [](int64_t x) { return x != 0; });
    case sym::Op::kNot:
      return a[0] == 0;
    case sym::Op::kConst:
    case sym::Op::kSymbol:
      break;
  }
  throw error("internal: unexpected symbolic op ", static_cast<int>(op));
}

}  // namespace

int64_t IndexCode::eval_code(const int64_t* vars, int64_t* stack) const {
  size_t sp = 0;
  const Instr* in = code.data();
  for (size_t k = 0, n = code.size(); k < n; ++k) {
    if (in[k].op == sym::Op::kConst) {
      stack[sp++] = in[k].value;
    } else if (in[k].op == sym::Op::kSymbol) {
      stack[sp++] = vars[in[k].value];
    } else {
      sp -= static_cast<size_t>(in[k].count);
      stack[sp] = apply_index_op(in[k].op, stack + sp, in[k].count);
      ++sp;
    }
  }
  return stack[0];
}

void IndexCode::overflow() const {
  throw error("integer overflow evaluating ", text);
}

IndexCode IndexCompiler::compile(const sym::Expr& e) {
  IndexCode c;
  c.text = e.str();
  auto a = affine(e);
  if (a && a->terms.size() <= IndexCode::kMaxTerms) {
    c.constant = a->constant;
    for (const auto& [slot, coef] : a->terms) {
      if (coef == 0) continue;
      c.slots[c.num_terms] = slot;
      c.coefs[c.num_terms++] = coef;
    }
  } else {
    c.affine = false;
    size_t depth = 0;
    emit(e, c.code, depth, c.depth);
  }
  return c;
}

// The expression as constant + sum(coef * variable), or nullopt when it is not affine in the
// variables. Shape symbols are constants here.
std::optional<IndexCompiler::Affine> IndexCompiler::affine(const sym::Expr& e) {
  Affine r;
  switch (e.op()) {
    case sym::Op::kConst:
      r.constant = e.value();
      return r;
    case sym::Op::kSymbol: {
      int32_t slot = slot_of_(e.name());
      if (slot >= 0) {
        r.terms[slot] = 1;
      } else {
        auto it = symbols_.find(e.name());
        if (it == symbols_.end()) throw error("symbol ", e.name(), " is unbound");
        r.constant = it->second;
      }
      return r;
    }
    case sym::Op::kAdd:
      for (const sym::Expr& arg : e.args()) {
        auto a = affine(arg);
        if (!a) return std::nullopt;
        r.constant = checked_add(r.constant, a->constant);
        for (const auto& [slot, coef] : a->terms)
          r.terms[slot] = checked_add(r.terms[slot], coef);
      }
      return r;
    case sym::Op::kMul:
      r.constant = 1;
      for (const sym::Expr& arg : e.args()) {
        auto a = affine(arg);
        if (!a || (!a->terms.empty() && !r.terms.empty())) return std::nullopt;
        const Affine& scaled = a->terms.empty() ? r : *a;
        int64_t by = a->terms.empty() ? a->constant : r.constant;
        Affine p;
        p.constant = checked_mul(scaled.constant, by);
        for (const auto& [slot, coef] : scaled.terms)
          p.terms[slot] = checked_mul(coef, by);
        r = std::move(p);
      }
      return r;
    default: {
      std::vector<int64_t> values;
      for (const sym::Expr& arg : e.args()) {
        auto a = affine(arg);
        if (!a || !a->terms.empty()) return std::nullopt;
        values.push_back(a->constant);
      }
      r.constant = apply_index_op(e.op(), values.data(), static_cast<int32_t>(values.size()));
      return r;
    }
  }
}

void IndexCompiler::emit(const sym::Expr& e, std::vector<Instr>& code, size_t& depth,
                         size_t& max_depth) {
  auto a = affine(e);
  if (a && a->terms.empty()) {
    code.push_back({sym::Op::kConst, 0, a->constant});
    max_depth = std::max(max_depth, ++depth);
    return;
  }
  if (e.is_symbol()) {
    code.push_back({sym::Op::kSymbol, 0, slot_of_(e.name())});
    max_depth = std::max(max_depth, ++depth);
    return;
  }
  for (const sym::Expr& arg : e.args())
    emit(arg, code, depth, max_depth);
  auto n = static_cast<int32_t>(e.args().size());
  code.push_back({e.op(), n, 0});
  depth -= static_cast<size_t>(n - 1);
}

}  // namespace eval

std::string_view scalar_op_name(ScalarOp op) {
  auto k = static_cast<size_t>(op);
  return k < std::size(eval::kOpNames) ? eval::kOpNames[k] : "unknown";
}

}  // namespace kiln::lower
