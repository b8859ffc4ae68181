#pragma once

// The pieces of the ABI fuzzer (abi_fuzz_test.cpp): a compiled fixture behind its C ABI with a
// pool of random cases and their reference outputs, the DLPack arguments of one call, and the
// classifier that decides from the introspected signature alone whether a call is valid.

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "compiled_model.h"
#include "frontend/load.h"
#include "kiln/kiln.h"
#include "op_harness.h"
#include "passes/passes.h"
#include "passes/stored_tensors.h"
#include "ref/interpreter.h"
#include "ref/npy_io.h"
#include "util/error.h"

namespace kiln::testing::fuzz {

// A managed-output slot kiln must overwrite with NULL when a call with the right counts fails.
inline DLManagedTensor* sentinel() {
  static DLManagedTensor dummy{};
  return &dummy;
}

inline bool same_dtype(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}
inline uint64_t element_size(DLDataType t) {
  return (uint64_t{t.bits} * t.lanes + 7) / 8;
}

// --- the signature, as the library reports it -------------------------------------------------

struct DimSpec {
  std::string text;
  bool is_static = false;
  int64_t value = 0;   // static dims
  std::string symbol;  // dynamic dims: a bare symbol
  int64_t min = 0, max = -1;
};
struct TensorSpec {
  std::string name;
  DLDataType dtype{};
  std::vector<DimSpec> dims;
};
struct Range {
  int64_t min = 0, max = -1;  // max -1: unbounded
};
struct Signature {
  std::vector<TensorSpec> inputs, outputs;
  std::map<std::string, Range> symbols;
};

struct Abi {
  decltype(&kiln_options_init) options_init;
  decltype(&kiln_container_create) create;
  decltype(&kiln_container_delete) destroy;
  decltype(&kiln_run) run;
  decltype(&kiln_num_inputs) num_inputs;
  decltype(&kiln_num_outputs) num_outputs;
  decltype(&kiln_input_info) input_info;
  decltype(&kiln_output_info) output_info;
  decltype(&kiln_output_shapes) output_shapes;
  decltype(&kiln_last_error) last_error;
};

template <typename F>
void resolve(void* handle, F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(handle, name));
  if (f == nullptr) throw error("model library lacks ", name);
}

inline bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
  });
}

inline TensorSpec read_spec(const KilnTensorInfo& info, bool input,
                            std::map<std::string, Range>& symbols) {
  TensorSpec t;
  t.name = info.name;
  t.dtype = info.dtype;
  for (int32_t d = 0; d < info.ndim; ++d) {
    DimSpec s;
    s.text = info.dims[d];
    s.min = info.dim_min[d];
    s.max = info.dim_max[d];
    if (!s.text.empty() && std::all_of(s.text.begin(), s.text.end(), ::isdigit)) {
      s.is_static = true;
      s.value = std::stoll(s.text);
      if (s.min != s.value || s.max != s.value)
        throw error(t.name, " dim ", d, ": static ", s.text, " with range [", s.min, ", ", s.max,
                    "]");
    } else if (input) {
      // The classifier knows bare symbols only; the fuzzed models have no derived input dims.
      if (!is_identifier(s.text))
        throw error("input ", t.name, " dim ", d, " is '", s.text, "', not a bare symbol");
      s.symbol = s.text;
      auto [it, fresh] = symbols.emplace(s.symbol, Range{s.min, s.max});
      if (!fresh && (it->second.min != s.min || it->second.max != s.max)) {
        throw error("symbol ", s.symbol, " has two ranges in the introspected signature");
      }
    }
    t.dims.push_back(s);
  }
  return t;
}

// --- the arguments of one call ----------------------------------------------------------------

// One DLTensor with its own storage. `content` holds the logical bytes, copied to `data +
// byte_offset`; the storage is padded so a wrongly accepted shape never reads out of bounds.
struct Slot {
  Slot() = default;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

  std::vector<std::byte> raw, content;
  std::vector<int64_t> shape, strides;
  DLTensor tensor{};
  uint64_t offset = 0;

  void init(std::vector<std::byte> bytes, std::vector<int64_t> dims, DLDataType dtype) {
    content = std::move(bytes);
    shape = std::move(dims);
    tensor.device = {kDLCPU, 0};
    tensor.dtype = dtype;
    tensor.ndim = static_cast<int32_t>(shape.size());
    tensor.shape = shape.data();
    tensor.strides = nullptr;
    std::mt19937 none(0);
    place(0, none);
  }
  std::byte* base() {
    auto p = reinterpret_cast<uintptr_t>(raw.data());
    return raw.data() + ((64 - p % 64) % 64);
  }
  // Puts the content at base + off, split randomly between the data pointer and byte_offset.
  void place(uint64_t off, std::mt19937& rng) {
    const size_t need = 64 + off + content.size() + 64;
    if (raw.size() < need) raw.assign(need, std::byte{0});
    std::memcpy(base() + off, content.data(), content.size());
    offset = off;
    const uint64_t in_pointer = (rng() & 1) ? off : 0;
    tensor.data = base() + in_pointer;
    tensor.byte_offset = off - in_pointer;
  }
  void set_compact_strides() {
    strides.assign(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;)
      strides[d - 1] = strides[d] * shape[d];
    tensor.strides = strides.data();
  }
  // New dims; the content grows (zero-filled) to cover them when `allocate` and they are sane.
  void reshape(std::vector<int64_t> dims, bool allocate = true) {
    shape = std::move(dims);
    tensor.shape = shape.data();
    tensor.ndim = static_cast<int32_t>(shape.size());
    if (tensor.strides != nullptr) set_compact_strides();
    if (allocate) grow(tensor.dtype);
  }
  void retype(DLDataType t) {
    tensor.dtype = t;
    grow(t);
  }
  void grow(DLDataType t) {
    uint64_t n = element_size(t);
    for (int64_t v : shape) {
      if (v < 0 || v > (int64_t{1} << 24)) return;
      n *= static_cast<uint64_t>(v);
    }
    if (n > (uint64_t{1} << 28) || n <= content.size()) return;
    content.resize(n, std::byte{0});
    void* data = tensor.data;
    const uint64_t bo = tensor.byte_offset;
    std::mt19937 none(0);
    place(offset, none);
    tensor.data = data != nullptr ? base() + (offset - bo) : nullptr;
    tensor.byte_offset = bo;
  }
};

// A random case: symbol values, the inputs and the reference interpreter's outputs.
struct Case {
  std::map<std::string, int64_t> syms;
  std::vector<ref::Tensor> inputs;
  std::vector<std::vector<std::byte>> bytes;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<ref::Tensor> want;
};

struct FuzzModel;

struct Call {
  Call(const FuzzModel& fm, const Case& c);
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  std::deque<Slot> inputs, outputs;
  std::vector<const DLTensor*> input_ptrs;
  std::vector<DLTensor*> output_ptrs;
  std::vector<DLManagedTensor*> managed;
  size_t num_inputs = 0, num_outputs = 0;
  bool null_inputs = false, no_managed = false, both = false, null_container = false,
       caller = false;
  void* stream = nullptr;

  void use_caller_outputs(const FuzzModel& fm, const Case& c, uint64_t offset, std::mt19937& rng);
};

// --- the classifier ---------------------------------------------------------------------------

struct Expect {
  KilnStatus status = KILN_OK;
  std::vector<std::string> needles;  // the message must contain one of them
};

// The per-tensor rules of kiln.h and the runtime's documented contract: a CPU tensor (device
// id 0, as DLPack defines CPU memory), the dtype and rank, a shape, no negative dim, a count
// that fits int64; unless empty: compact row-major strides (any stride on a size-1 dim), data,
// and data + byte_offset aligned to the element (at most 8 bytes).
inline bool tensor_ok(const DLTensor* t, DLDataType dtype, size_t ndim) {
  if (t == nullptr) return false;
  int32_t type = 0;
  std::memcpy(&type, &t->device.device_type, sizeof(type));
  if (type != kDLCPU || t->device.device_id != 0) return false;
  if (!same_dtype(t->dtype, dtype) || t->ndim != static_cast<int32_t>(ndim)) return false;
  if (ndim > 0 && t->shape == nullptr) return false;
  bool empty = false;
  for (size_t d = 0; d < ndim; ++d) {
    if (t->shape[d] < 0) return false;
    empty = empty || t->shape[d] == 0;
  }
  if (empty) return true;
  int64_t numel = 1;
  for (size_t d = 0; d < ndim; ++d) {
    if (__builtin_mul_overflow(numel, t->shape[d], &numel)) return false;
  }
  if (t->strides != nullptr) {
    int64_t expected = 1;
    for (size_t d = ndim; d-- > 0;) {
      if (t->shape[d] != 1 && t->strides[d] != expected) return false;
      expected *= t->shape[d];
    }
  }
  if (t->data == nullptr) return false;
  uint64_t align = 1;
  while (align < 8 && element_size(dtype) % (align * 2) == 0)
    align *= 2;
  return (reinterpret_cast<uintptr_t>(t->data) + t->byte_offset) % align == 0;
}

// Dims against the signature: static dims equal, every use of a symbol inside its range and
// all uses equal. `shapes[i]` null: input i is skipped. Adds the inputs at fault.
inline void check_dims(const Signature& sig, const std::vector<const int64_t*>& shapes,
                       std::set<size_t>& culprits) {
  std::map<std::string, std::vector<std::pair<size_t, int64_t>>> uses;
  for (size_t i = 0; i < sig.inputs.size(); ++i) {
    if (shapes[i] == nullptr) continue;
    for (size_t d = 0; d < sig.inputs[i].dims.size(); ++d) {
      const DimSpec& s = sig.inputs[i].dims[d];
      if (s.is_static) {
        if (shapes[i][d] != s.value) culprits.insert(i);
      } else {
        uses[s.symbol].emplace_back(i, shapes[i][d]);
      }
    }
  }
  for (const auto& [sym, list] : uses) {
    const Range r = sig.symbols.at(sym);
    bool out = false;
    std::set<int64_t> values;
    for (const auto& [i, v] : list) {
      if (v < r.min || (r.max >= 0 && v > r.max)) culprits.insert(i), out = true;
      values.insert(v);
    }
    if (!out && values.size() > 1) {
      for (const auto& [i, v] : list)
        culprits.insert(i);
    }
  }
}

inline Expect bad(KilnStatus status, std::vector<std::string> needles) {
  return Expect{status, std::move(needles)};
}

inline Expect classify(const Signature& sig, const Call& call, const Case& c) {
  const size_t n_in = sig.inputs.size(), n_out = sig.outputs.size();
  if (call.null_container) return bad(KILN_ERROR_INVALID_ARGUMENT, {"container is NULL"});
  if (call.null_inputs && n_in > 0) return bad(KILN_ERROR_INVALID_ARGUMENT, {"kiln_run: inputs"});
  if (call.num_inputs != n_in || call.num_outputs != n_out || (call.caller && call.both) ||
      (!call.caller && call.no_managed) || call.stream != nullptr) {
    return bad(KILN_ERROR_INVALID_ARGUMENT, {"kiln_run"});
  }
  std::set<size_t> culprits;
  std::vector<const int64_t*> shapes(n_in, nullptr);
  for (size_t i = 0; i < n_in; ++i) {
    const DLTensor* t = call.input_ptrs[i];
    if (!tensor_ok(t, sig.inputs[i].dtype, sig.inputs[i].dims.size())) {
      culprits.insert(i);
    } else {
      shapes[i] = t->shape;
    }
  }
  check_dims(sig, shapes, culprits);
  if (!culprits.empty()) {
    Expect e{KILN_ERROR_BAD_INPUT, {}};
    for (size_t i : culprits)
      e.needles.push_back("input '" + sig.inputs[i].name + "'");
    return e;
  }
  if (call.caller) {
    Expect e{KILN_ERROR_BAD_INPUT, {}};
    for (size_t j = 0; j < n_out; ++j) {
      const DLTensor* t = call.output_ptrs[j];
      bool ok = tensor_ok(t, sig.outputs[j].dtype, sig.outputs[j].dims.size());
      for (size_t d = 0; ok && d < sig.outputs[j].dims.size(); ++d) {
        ok = t->shape[d] == c.want[j].sizes()[d];
      }
      if (!ok) e.needles.push_back("output '" + sig.outputs[j].name + "'");
    }
    if (!e.needles.empty()) return e;
  }
  return {};
}

// --- the model ----------------------------------------------------------------------------------

// Reference outputs of fp32 within 1e-4 relative norm, fp16/bf16 within 1e-2, others exact.
inline std::string compare(const ref::Tensor& got, const ref::Tensor& want) {
  if (got.sizes() != want.sizes()) return "shape " + got.str() + ", reference " + want.str();
  if (ir::is_floating(got.dtype())) {
    ref::Tensor a(ir::DType::kFloat64, got.sizes()), b(ir::DType::kFloat64, want.sizes());
    for (int64_t k = 0; k < got.numel(); ++k)
      a.set(k, got.get(k)), b.set(k, want.get(k));
    const double tol = ir::dtype_size(got.dtype()) >= 4 ? 1e-4 : 1e-2;
    const double e = relative_error(a, b);
    if (!(e <= tol)) return "relative error " + std::to_string(e) + " of " + got.str();
    return "";
  }
  for (int64_t k = 0; k < got.numel(); ++k) {
    if (got.get_int(k) != want.get_int(k)) {
      return "element " + std::to_string(k) + " is " + std::to_string(got.get_int(k)) +
             ", reference " + std::to_string(want.get_int(k));
    }
  }
  return "";
}

struct FuzzModel {
  FuzzModel(std::string model, const std::filesystem::path& so, const std::filesystem::path& pt2);
  ~FuzzModel() {
    if (container != nullptr) abi.destroy(container);
  }
  FuzzModel(const FuzzModel&) = delete;
  FuzzModel& operator=(const FuzzModel&) = delete;

  std::string name;
  Abi abi{};
  KilnContainer* container = nullptr;
  Signature sig;
  frontend::LoadedProgram loaded;
  ir::ExportedProgram program;  // inlined and functionalized, for the interpreter
  std::unique_ptr<ref::Interpreter> interpreter;
  std::vector<Case> pool;

  Case make_case(std::map<std::string, int64_t> syms, std::mt19937& rng) const;
  std::map<std::string, int64_t> random_symbols(std::mt19937& rng) const;
  // Cases at every symbol's minimum, at every maximum, and three random ones.
  void fill_pool(std::mt19937& rng);
  void refresh_one(std::mt19937& rng);
  // Runs the call and checks it against `want`; returns "" or what went wrong.
  std::string execute(Call& call, const Expect& want, const Case& c) const;
  // A kiln_output_shapes call on the case's shapes, maybe with one dim made wrong.
  std::string fuzz_output_shapes(const Case& c, std::mt19937& rng) const;
};

// --- implementation -----------------------------------------------------------------------------

inline Call::Call(const FuzzModel& fm, const Case& c) {
  const size_t n_in = fm.sig.inputs.size(), n_out = fm.sig.outputs.size();
  for (size_t i = 0; i < n_in; ++i) {
    inputs.emplace_back().init(c.bytes[i], c.shapes[i], fm.sig.inputs[i].dtype);
    input_ptrs.push_back(&inputs.back().tensor);
  }
  num_inputs = n_in;
  num_outputs = n_out;
  managed.assign(n_out, sentinel());
}

inline void Call::use_caller_outputs(const FuzzModel& fm, const Case& c, uint64_t offset,
                                     std::mt19937& rng) {
  caller = true;
  for (size_t j = 0; j < fm.sig.outputs.size(); ++j) {
    const DLDataType t = fm.sig.outputs[j].dtype;
    const ref::Tensor& w = c.want[j];
    // Stale bytes, so a run that writes nothing is caught.
    std::vector<std::byte> fill(static_cast<size_t>(w.numel()) * element_size(t));
    for (auto& b : fill)
      b = static_cast<std::byte>(rng() & 0x7f);
    outputs.emplace_back().init(std::move(fill), w.sizes(), t);
    if (offset != 0) outputs.back().place(offset, rng);
    output_ptrs.push_back(&outputs.back().tensor);
  }
}

inline FuzzModel::FuzzModel(std::string model, const std::filesystem::path& so,
                            const std::filesystem::path& pt2)
    : name(std::move(model)), loaded(frontend::load_program(pt2)) {
  // RTLD_NODELETE: the library's OpenMP threads outlive dlclose (see compiled_model.cpp).
  void* handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) throw error("dlopen ", so.string(), ": ", dlerror());
  resolve(handle, abi.options_init, "kiln_options_init");
  resolve(handle, abi.create, "kiln_container_create");
  resolve(handle, abi.destroy, "kiln_container_delete");
  resolve(handle, abi.run, "kiln_run");
  resolve(handle, abi.num_inputs, "kiln_num_inputs");
  resolve(handle, abi.num_outputs, "kiln_num_outputs");
  resolve(handle, abi.input_info, "kiln_input_info");
  resolve(handle, abi.output_info, "kiln_output_info");
  resolve(handle, abi.output_shapes, "kiln_output_shapes");
  resolve(handle, abi.last_error, "kiln_last_error");
  KilnOptions options;
  abi.options_init(&options);
  options.num_runners = 2;
  options.num_threads = 2;
  if (abi.create(&container, &options) != KILN_OK)
    throw error("kiln_container_create: ", abi.last_error());
  for (size_t i = 0; i < abi.num_inputs(container); ++i) {
    KilnTensorInfo info{};
    if (abi.input_info(container, i, &info) != KILN_OK) throw error(abi.last_error());
    sig.inputs.push_back(read_spec(info, true, sig.symbols));
  }
  for (size_t j = 0; j < abi.num_outputs(container); ++j) {
    KilnTensorInfo info{};
    if (abi.output_info(container, j, &info) != KILN_OK) throw error(abi.last_error());
    sig.outputs.push_back(read_spec(info, false, sig.symbols));
  }
  passes::attach_stored_tensors(loaded);
  program = loaded.program;
  passes::inline_higher_order(program);
  passes::functionalize(program);
  interpreter =
      std::make_unique<ref::Interpreter>(program, passes::stored_tensors(loaded, program));
}

// Input values inside what each model documents (indices below the dim they index, nonzero
// integer divisors, a mask row never all False).
inline ref::Tensor make_input(const std::string& model, const TensorSpec& spec,
                              const std::vector<int64_t>& shape, const Signature& sig,
                              const std::vector<std::vector<int64_t>>& shapes, std::mt19937& rng) {
  const ir::DType dt = dtype_of(spec.dtype);
  auto dim_of = [&](const std::string& input, size_t d) {
    for (size_t k = 0; k < sig.inputs.size(); ++k) {
      if (sig.inputs[k].name == input) return shapes[k][d];
    }
    throw error("no input ", input);
  };
  const std::string& n = spec.name;
  if ((model == "multi_io" || model == "op_indexing") && (n == "idx" || n == "sel")) {
    return random_tensor(dt, shape, rng, 0, static_cast<double>(dim_of("x", 1)));
  }
  if (model == "op_indexing" && n == "tokens") return random_tensor(dt, shape, rng, 0, 32);
  if (model == "op_pointwise" && n == "y") {
    ref::Tensor t = random_tensor(dt, shape, rng, 0.5, 2);
    for (int64_t k = 0; k < t.numel(); ++k)
      if (rng() & 1) t.set(k, -t.get(k));
    return t;
  }
  if (model == "op_pointwise" && n == "xi") return random_tensor(dt, shape, rng, -20, 20);
  if (model == "op_pointwise" && n == "yi") {
    ref::Tensor t = random_tensor(dt, shape, rng, 1, 8);
    for (int64_t k = 0; k < t.numel(); ++k)
      if (rng() & 1) t.set_int(k, -t.get_int(k));
    return t;
  }
  if (model == "bert" && n == "input_ids") return random_tensor(dt, shape, rng, 0, 256);
  if (model == "bert" && n == "attention_mask") {
    // Ones on a prefix of each row, at least one.
    ref::Tensor t(dt, shape);
    for (int64_t r = 0; r < shape[0]; ++r) {
      const int64_t len = std::uniform_int_distribution<int64_t>(1, shape[1])(rng);
      for (int64_t k = 0; k < shape[1]; ++k)
        t.set_int(r * shape[1] + k, k < len ? 1 : 0);
    }
    return t;
  }
  if (model == "op_attention" && n == "mask") {
    ref::Tensor t = random_tensor(dt, shape, rng);
    for (int64_t k = 0; k < t.numel(); k += shape.back())
      t.set_int(k, 1);
    return t;
  }
  if (!ir::is_floating(dt) && dt != ir::DType::kBool) return random_tensor(dt, shape, rng, 0, 4);
  return random_tensor(dt, shape, rng);
}

inline Case FuzzModel::make_case(std::map<std::string, int64_t> syms, std::mt19937& rng) const {
  Case c;
  c.syms = std::move(syms);
  for (const TensorSpec& t : sig.inputs) {
    std::vector<int64_t> shape;
    for (const DimSpec& d : t.dims)
      shape.push_back(d.is_static ? d.value : c.syms.at(d.symbol));
    c.shapes.push_back(shape);
  }
  std::vector<ref::RValue> args;
  for (size_t i = 0; i < sig.inputs.size(); ++i) {
    c.inputs.push_back(make_input(name, sig.inputs[i], c.shapes[i], sig, c.shapes, rng));
    c.bytes.push_back(to_dlpack(c.inputs.back())->bytes);
    args.emplace_back(c.inputs.back());
  }
  const std::vector<ref::RValue> out = interpreter->run_user_outputs(args);
  if (out.size() != sig.outputs.size())
    throw error(name, ": the reference gives ", out.size(), " outputs");
  for (size_t o = 0; o < out.size(); ++o)
    c.want.push_back(ref::tensor_from_npy(ref::npy_from_value(out[o], o)));
  return c;
}

inline std::map<std::string, int64_t> FuzzModel::random_symbols(std::mt19937& rng) const {
  // The reference interpreter is slow on big inputs: shrink the largest symbol toward its
  // minimum until the inputs hold at most this many elements.
  constexpr int64_t kMaxElements = 20000;
  std::map<std::string, int64_t> syms;
  for (const auto& [s, r] : sig.symbols) {
    syms[s] = std::uniform_int_distribution<int64_t>(r.min, r.max >= 0 ? r.max : r.min + 64)(rng);
  }
  for (;;) {
    int64_t total = 0;
    for (const TensorSpec& t : sig.inputs) {
      int64_t n = 1;
      for (const DimSpec& d : t.dims)
        n *= d.is_static ? d.value : syms.at(d.symbol);
      total += n;
    }
    if (total <= kMaxElements) return syms;
    std::string largest;
    for (const auto& [s, v] : syms) {
      if (v > sig.symbols.at(s).min && (largest.empty() || v > syms[largest])) largest = s;
    }
    if (largest.empty()) return syms;
    syms[largest] = std::max(sig.symbols.at(largest).min, syms[largest] / 2);
  }
}

inline void FuzzModel::fill_pool(std::mt19937& rng) {
  pool.clear();
  std::map<std::string, int64_t> lo, hi;
  for (const auto& [s, r] : sig.symbols) {
    lo[s] = r.min;
    hi[s] = r.max >= 0 ? r.max : r.min + 64;
  }
  pool.push_back(make_case(lo, rng));
  pool.push_back(make_case(hi, rng));
  for (int k = 0; k < 3; ++k)
    pool.push_back(make_case(random_symbols(rng), rng));
}

inline void FuzzModel::refresh_one(std::mt19937& rng) {
  const size_t k = std::uniform_int_distribution<size_t>(2, pool.size() - 1)(rng);
  pool[k] = make_case(random_symbols(rng), rng);
}

inline std::string status_text(KilnStatus s) {
  return "status " + std::to_string(static_cast<int>(s));
}

inline std::string FuzzModel::execute(Call& call, const Expect& want, const Case& c) const {
  const DLTensor* const* in = call.null_inputs ? nullptr : call.input_ptrs.data();
  DLTensor* const* out = call.caller ? call.output_ptrs.data() : nullptr;
  DLManagedTensor** managed =
      (call.caller && !call.both) || call.no_managed ? nullptr : call.managed.data();
  const KilnStatus got = abi.run(call.null_container ? nullptr : container, in, call.num_inputs,
                                 out, managed, call.num_outputs, call.stream);
  const std::string message = abi.last_error();
  auto release = [&] {
    if (managed == nullptr || got != KILN_OK) return;
    for (size_t j = 0; j < call.num_outputs; ++j) {
      if (call.managed[j] != nullptr && call.managed[j] != sentinel())
        call.managed[j]->deleter(call.managed[j]);
    }
  };
  if (got != want.status) {
    release();
    return "expected " + status_text(want.status) + ", got " + status_text(got) +
           (got != KILN_OK ? " (" + message + ")" : "");
  }
  if (want.status != KILN_OK) {
    if (message.empty()) return "a failed call left no message";
    const bool named =
        std::any_of(want.needles.begin(), want.needles.end(),
                    [&](const std::string& n) { return message.find(n) != std::string::npos; });
    if (!named) {
      std::string list;
      for (const auto& n : want.needles)
        list += " [" + n + "]";
      return "message '" + message + "' names none of" + list;
    }
    // Once the counts are right, a failed call leaves NULL in every managed slot.
    const bool counts_right = in != nullptr && call.num_inputs == sig.inputs.size() &&
                              call.num_outputs == sig.outputs.size() && !call.null_container;
    if (managed != nullptr && out == nullptr && counts_right) {
      for (size_t j = 0; j < call.num_outputs; ++j) {
        if (call.managed[j] != nullptr)
          return "managed output " + std::to_string(j) + " not NULL after a failure";
      }
    }
    return "";
  }
  // A valid call: the case's shapes, the reference's values, the inputs untouched.
  for (size_t i = 0; i < sig.inputs.size(); ++i) {
    const Slot& s = call.inputs[i];
    if (s.shape != c.shapes[i]) return "internal: a valid call changed input shapes";
    const auto* data = static_cast<const std::byte*>(s.tensor.data) + s.tensor.byte_offset;
    if (!s.content.empty() && std::memcmp(data, s.content.data(), s.content.size()) != 0) {
      return "input '" + sig.inputs[i].name + "' was written to";
    }
  }
  std::string failure;
  for (size_t j = 0; j < sig.outputs.size() && failure.empty(); ++j) {
    const TensorSpec& spec = sig.outputs[j];
    const DLTensor* t = nullptr;
    if (out != nullptr) {
      t = call.output_ptrs[j];
    } else {
      if (call.managed[j] == nullptr || call.managed[j] == sentinel()) {
        failure = "no managed output " + std::to_string(j);
        break;
      }
      t = &call.managed[j]->dl_tensor;
      if (!same_dtype(t->dtype, spec.dtype) || t->ndim != static_cast<int32_t>(spec.dims.size()) ||
          t->device.device_type != kDLCPU || reinterpret_cast<uintptr_t>(t->data) % 64 != 0 ||
          (t->strides != nullptr && !tensor_ok(t, spec.dtype, spec.dims.size()))) {
        failure = "managed output '" + spec.name +
                  "' has the wrong dtype, rank, device, layout or alignment";
        break;
      }
    }
    const ref::Tensor have = from_dlpack(*t, dtype_of(t->dtype));
    const std::string diff = compare(have, c.want[j]);
    if (!diff.empty()) failure = "output '" + spec.name + "': " + diff;
  }
  release();
  return failure;
}

inline std::string FuzzModel::fuzz_output_shapes(const Case& c, std::mt19937& rng) const {
  const size_t n_in = sig.inputs.size(), n_out = sig.outputs.size();
  std::vector<std::vector<int64_t>> shapes = c.shapes;
  std::vector<const int64_t*> in;
  for (const auto& s : shapes)
    in.push_back(s.data());
  Expect want;
  const int what = static_cast<int>(rng() % 6);
  const size_t i = rng() % n_in;
  if (what == 1 && !shapes[i].empty()) {  // a dim past its range, or a static dim off by one
    const size_t d = rng() % shapes[i].size();
    const DimSpec& s = sig.inputs[i].dims[d];
    shapes[i][d] = s.is_static ? s.value + 1 : (s.max >= 0 && (rng() & 1) ? s.max + 1 : s.min - 1);
  } else if (what == 2 && !shapes[i].empty()) {  // a dim changed at random
    shapes[i][rng() % shapes[i].size()] = std::uniform_int_distribution<int64_t>(-2, 300)(rng);
  } else if (what == 3) {
    in[i] = nullptr;
  }
  if (in[i] == nullptr && !shapes[i].empty()) {
    want = bad(KILN_ERROR_INVALID_ARGUMENT, {"input '" + sig.inputs[i].name + "'"});
  } else {
    std::set<size_t> culprits;
    check_dims(sig, in, culprits);
    if (!culprits.empty()) {
      want.status = KILN_ERROR_BAD_INPUT;
      for (size_t k : culprits)
        want.needles.push_back("input '" + sig.inputs[k].name + "'");
    }
  }
  std::vector<std::vector<int64_t>> result(n_out);
  std::vector<int64_t*> out;
  for (size_t j = 0; j < n_out; ++j) {
    result[j].assign(sig.outputs[j].dims.size(), -99);
    out.push_back(result[j].data());
  }
  const KilnStatus got = abi.output_shapes(container, in.data(), n_in, out.data(), n_out);
  const std::string message = abi.last_error();
  if (got != want.status) {
    return "kiln_output_shapes: expected " + status_text(want.status) + ", got " +
           status_text(got) + " (" + message + ")";
  }
  if (got != KILN_OK) {
    for (const auto& n : want.needles) {
      if (message.find(n) != std::string::npos) return "";
    }
    return "kiln_output_shapes: message '" + message + "' names no culprit";
  }
  // A random dim that happened to stay legal changes the shapes: only the case's are known.
  if (shapes != c.shapes) return "";
  for (size_t j = 0; j < n_out; ++j) {
    if (result[j] != c.want[j].sizes())
      return "kiln_output_shapes: output '" + sig.outputs[j].name + "' differs";
  }
  return "";
}

}  // namespace kiln::testing::fuzz
