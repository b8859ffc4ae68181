// A deterministic randomized test of the compiled models' C ABI. Random kiln_run and
// kiln_output_shapes calls on five fixtures with shared dynamic dims, int and bool inputs mix
// valid and invalid DLPack arguments: wrong dtypes, ranks, dims at and just past each bound,
// unequal shared dims, null pointers, odd strides, other devices, byte offsets, wrong counts
// and caller-provided outputs of the wrong shape. Whether a call is valid is decided here, from
// the signature the library reports (kiln_input_info and kiln_output_info) and the DLPack
// rules kiln.h states, not by the runtime's checks. Every invalid call must fail with the
// right status and a message naming the input (or output); every valid one must match the
// reference interpreter (fp32 within 1e-4 relative, integers and bools exactly); the container
// keeps working throughout.
//
// KILN_ABI_FUZZ_CALLS raises the number of calls (3,000 by default), KILN_ABI_FUZZ_SEED picks
// another sequence.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>

#include "abi_fuzz_model.h"
#include "reliability_support.h"

namespace kiln::testing {
namespace {

using fuzz::Call;
using fuzz::Case;
using fuzz::Expect;
using fuzz::FuzzModel;
using fuzz::Slot;

enum class Mut {
  // Valid variants.
  kPlain,
  kExplicitStrides,
  kUnitDimStrides,
  kAlignedOffset,
  kCallerOutputs,
  kCallerOutputsOffset,
  // One input made invalid (or, for the classifier to decide, possibly still valid).
  kDtype,
  kRankUp,
  kRankDown,
  kDimPastBound,
  kSymbolPastBound,
  kSharedDimUnequal,
  kStaticDim,
  kZeroDim,
  kNegativeDim,
  kHugeDims,
  kNullData,
  kNullShape,
  kNullTensor,
  kBadStrides,
  kDevice,
  kMisaligned,
  // The call itself.
  kNumInputs,
  kNullInputs,
  kNumOutputs,
  kNoOutputs,
  kBothOutputs,
  kStream,
  kNullContainer,
  // One caller-provided output.
  kOutShape,
  kOutDtype,
  kOutRank,
  kOutNullData,
  kOutStrides,
  kOutDevice,
  kCount
};

const char* mut_name(Mut m) {
  static const char* const kNames[] = {
      "plain",          "explicit_strides",  "unit_dim_strides",
      "aligned_offset", "caller_outputs",    "caller_outputs_offset",
      "dtype",          "rank_up",           "rank_down",
      "dim_past_bound", "symbol_past_bound", "shared_dim_unequal",
      "static_dim",     "zero_dim",          "negative_dim",
      "huge_dims",      "null_data",         "null_shape",
      "null_tensor",    "bad_strides",       "device",
      "misaligned",     "num_inputs",        "null_inputs",
      "num_outputs",    "no_outputs",        "both_outputs",
      "stream",         "null_container",    "out_shape",
      "out_dtype",      "out_rank",          "out_null_data",
      "out_strides",    "out_device"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Mut::kCount));
  return kNames[static_cast<int>(m)];
}

// Valid variants about 40% of the time, so the container's state after errors is checked often.
Mut pick_mutation(std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  const double r = u(rng);
  auto pick = [&](Mut first, Mut last) {
    return static_cast<Mut>(
        std::uniform_int_distribution<int>(static_cast<int>(first), static_cast<int>(last))(rng));
  };
  if (r < 0.40) return pick(Mut::kPlain, Mut::kCallerOutputsOffset);
  if (r < 0.82) return pick(Mut::kDtype, Mut::kMisaligned);
  if (r < 0.90) return pick(Mut::kNumInputs, Mut::kNullContainer);
  return pick(Mut::kOutShape, Mut::kOutDevice);
}

template <typename T>
T pick(std::mt19937& rng, std::initializer_list<T> items) {
  const size_t k = std::uniform_int_distribution<size_t>(0, items.size() - 1)(rng);
  return *(items.begin() + static_cast<std::ptrdiff_t>(k));
}

// Applies `m` to a call built from `c`; returns false when `m` does not apply to this model or
// case (the caller then picks another).
bool mutate(const FuzzModel& fm, const Case& c, Mut m, Call& call, std::mt19937& rng) {
  const fuzz::Signature& sig = fm.sig;
  const size_t n_in = sig.inputs.size();
  const size_t i = std::uniform_int_distribution<size_t>(0, n_in - 1)(rng);
  Slot& s = call.inputs[i];
  const int32_t nd = static_cast<int32_t>(s.shape.size());
  auto any_dim = [&](const Slot& slot) {
    return std::uniform_int_distribution<int32_t>(0,
                                                  static_cast<int32_t>(slot.shape.size()) - 1)(rng);
  };
  switch (m) {
    case Mut::kPlain:
      return true;
    case Mut::kExplicitStrides:
      for (Slot& x : call.inputs)
        x.set_compact_strides();
      return true;
    case Mut::kUnitDimStrides: {
      bool any = false;
      for (Slot& x : call.inputs) {
        x.set_compact_strides();
        for (size_t d = 0; d < x.shape.size(); ++d) {
          if (x.shape[d] == 1) {
            x.strides[d] = pick<int64_t>(rng, {0, -7, 12345, INT64_MAX, INT64_MIN});
            any = true;
          }
        }
      }
      return any;
    }
    case Mut::kAlignedOffset:
      for (Slot& x : call.inputs)
        x.place(pick<uint64_t>(rng, {8, 16, 24, 64, 128}), rng);
      return true;
    case Mut::kCallerOutputs:
      call.use_caller_outputs(fm, c, 0, rng);
      return true;
    case Mut::kCallerOutputsOffset:
      call.use_caller_outputs(fm, c, pick<uint64_t>(rng, {8, 24, 64}), rng);
      for (Slot& x : call.outputs)
        x.set_compact_strides();
      return true;
    case Mut::kDtype: {
      DLDataType t = s.tensor.dtype;
      while (fuzz::same_dtype(t, s.tensor.dtype)) {
        t = pick<DLDataType>(rng, {{kDLFloat, 32, 1},
                                   {kDLFloat, 64, 1},
                                   {kDLFloat, 16, 1},
                                   {kDLBfloat, 16, 1},
                                   {kDLInt, 64, 1},
                                   {kDLInt, 32, 1},
                                   {kDLInt, 8, 1},
                                   {kDLUInt, 8, 1},
                                   {kDLBool, 8, 1},
                                   {kDLFloat, 32, 4},
                                   {kDLComplex, 64, 1},
                                   {kDLInt, 64, 2},
                                   {17, 32, 1}});
      }
      s.retype(t);
      return true;
    }
    case Mut::kRankUp: {
      std::vector<int64_t> shape = s.shape;
      shape.insert(shape.begin() + std::uniform_int_distribution<int32_t>(0, nd)(rng), 1);
      s.reshape(shape);
      return true;
    }
    case Mut::kRankDown: {
      if (nd == 0) return false;
      std::vector<int64_t> shape = s.shape;
      shape.erase(shape.begin() + any_dim(s));
      s.reshape(shape);
      return true;
    }
    case Mut::kDimPastBound: {
      // One dim of one input, past its range (the other inputs keep the case's value).
      std::vector<int32_t> dyn;
      for (int32_t d = 0; d < nd; ++d)
        if (!sig.inputs[i].dims[static_cast<size_t>(d)].is_static) dyn.push_back(d);
      if (dyn.empty()) return false;
      const int32_t d = dyn[std::uniform_int_distribution<size_t>(0, dyn.size() - 1)(rng)];
      const fuzz::DimSpec& spec = sig.inputs[i].dims[static_cast<size_t>(d)];
      std::vector<int64_t> shape = s.shape;
      shape[static_cast<size_t>(d)] = spec.max >= 0 && (rng() & 1) ? spec.max + 1 : spec.min - 1;
      s.reshape(shape);
      return true;
    }
    case Mut::kSymbolPastBound: {
      // A symbol at min - 1 or max + 1 in every input that uses it (consistent, but illegal).
      const auto& sym = *std::next(sig.symbols.begin(),
                                   std::uniform_int_distribution<ptrdiff_t>(
                                       0, static_cast<ptrdiff_t>(sig.symbols.size()) - 1)(rng));
      const int64_t v =
          sym.second.max >= 0 && (rng() & 1) ? sym.second.max + 1 : sym.second.min - 1;
      for (size_t k = 0; k < n_in; ++k) {
        std::vector<int64_t> shape = call.inputs[k].shape;
        bool changed = false;
        for (size_t d = 0; d < shape.size(); ++d) {
          if (sig.inputs[k].dims[d].symbol == sym.first) shape[d] = v, changed = true;
        }
        if (changed) call.inputs[k].reshape(shape);
      }
      return true;
    }
    case Mut::kSharedDimUnequal: {
      // A symbol used by two or more dims: one of them gets another legal value.
      std::vector<std::pair<size_t, size_t>> uses;
      std::string name;
      for (const auto& [sym, range] : sig.symbols) {
        std::vector<std::pair<size_t, size_t>> u;
        for (size_t k = 0; k < n_in; ++k)
          for (size_t d = 0; d < sig.inputs[k].dims.size(); ++d)
            if (sig.inputs[k].dims[d].symbol == sym) u.emplace_back(k, d);
        if (u.size() >= 2 && (uses.empty() || (rng() & 1))) uses = u, name = sym;
      }
      if (uses.empty()) return false;
      const auto [k, d] = uses[std::uniform_int_distribution<size_t>(0, uses.size() - 1)(rng)];
      const auto& range = sig.symbols.at(name);
      const int64_t now = call.inputs[k].shape[d];
      const int64_t hi = range.max >= 0 ? range.max : now + 8;
      if (hi == range.min) return false;
      int64_t v = now;
      while (v == now)
        v = std::uniform_int_distribution<int64_t>(range.min, std::min(hi, now + 8))(rng);
      std::vector<int64_t> shape = call.inputs[k].shape;
      shape[d] = v;
      call.inputs[k].reshape(shape);
      return true;
    }
    case Mut::kStaticDim: {
      std::vector<int32_t> st;
      for (int32_t d = 0; d < nd; ++d)
        if (sig.inputs[i].dims[static_cast<size_t>(d)].is_static) st.push_back(d);
      if (st.empty()) return false;
      const int32_t d = st[std::uniform_int_distribution<size_t>(0, st.size() - 1)(rng)];
      std::vector<int64_t> shape = s.shape;
      shape[static_cast<size_t>(d)] += (rng() & 1) ? 1 : -1;
      s.reshape(shape);
      return true;
    }
    case Mut::kZeroDim:
    case Mut::kNegativeDim: {
      if (nd == 0) return false;
      std::vector<int64_t> shape = s.shape;
      shape[static_cast<size_t>(any_dim(s))] =
          m == Mut::kZeroDim ? 0 : pick<int64_t>(rng, {-1, -5, INT64_MIN});
      s.reshape(shape, /*allocate=*/m == Mut::kZeroDim);
      return true;
    }
    case Mut::kHugeDims: {
      if (nd == 0) return false;
      std::vector<int64_t> shape = s.shape;
      for (auto& v : shape)
        v = pick<int64_t>(rng, {int64_t{1} << 40, INT64_MAX, int64_t{1} << 32});
      s.reshape(shape, /*allocate=*/false);
      return true;
    }
    case Mut::kNullData:
      s.tensor.data = nullptr;
      if (rng() & 1) s.tensor.byte_offset = 64;
      return true;
    case Mut::kNullShape:
      if (nd == 0) return false;
      s.tensor.shape = nullptr;
      return true;
    case Mut::kNullTensor:
      call.input_ptrs[i] = nullptr;
      return true;
    case Mut::kBadStrides: {
      s.set_compact_strides();
      std::vector<size_t> big;
      for (size_t d = 0; d < s.shape.size(); ++d)
        if (s.shape[d] > 1) big.push_back(d);
      if (big.empty()) return false;
      const size_t d = big[std::uniform_int_distribution<size_t>(0, big.size() - 1)(rng)];
      switch (rng() % 4) {
        case 0:
          s.strides[d] *= 2;
          break;
        case 1:
          s.strides[d] = -s.strides[d];
          break;
        case 2:
          s.strides[d] = 0;
          break;
        default:
          std::reverse(s.strides.begin(), s.strides.end());
          break;  // column-major
      }
      return true;
    }
    case Mut::kDevice: {
      const int32_t type = pick<int32_t>(rng, {kDLCUDA, kDLCUDAHost, kDLCPU, kDLROCM, 25, 0});
      std::memcpy(&s.tensor.device.device_type, &type, sizeof(type));
      s.tensor.device.device_id =
          type == kDLCPU ? pick<int32_t>(rng, {1, 7, -1}) : pick<int32_t>(rng, {0, 1});
      return true;
    }
    case Mut::kMisaligned:
      s.place(pick<uint64_t>(rng, {1, 2, 3, 4, 5, 6, 7, 12}), rng);
      return true;
    case Mut::kNumInputs:
      call.num_inputs = (rng() & 1) ? n_in + 1 : n_in - 1;
      if (call.num_inputs > n_in) call.input_ptrs.push_back(call.input_ptrs.back());
      return true;
    case Mut::kNullInputs:
      call.null_inputs = true;
      return true;
    case Mut::kNumOutputs:
      call.num_outputs = pick<size_t>(rng, {0, sig.outputs.size() - 1, sig.outputs.size() + 1});
      call.managed.resize(sig.outputs.size() + 1, fuzz::sentinel());
      return true;
    case Mut::kNoOutputs:
      call.no_managed = true;
      return true;
    case Mut::kBothOutputs:
      call.use_caller_outputs(fm, c, 0, rng);
      call.both = true;
      return true;
    case Mut::kStream:
      call.stream = &call;
      return true;
    case Mut::kNullContainer:
      call.null_container = true;
      return true;
    default:
      break;
  }
  // Output mutations: caller-provided outputs with one of them wrong.
  call.use_caller_outputs(fm, c, 0, rng);
  const size_t j = std::uniform_int_distribution<size_t>(0, call.outputs.size() - 1)(rng);
  Slot& o = call.outputs[j];
  const size_t ond = o.shape.size();
  switch (m) {
    case Mut::kOutShape: {
      std::vector<int64_t> shape = o.shape;
      if (ond == 0) {
        shape.push_back(1);
      } else {
        const size_t d = std::uniform_int_distribution<size_t>(0, ond - 1)(rng);
        shape[d] += (shape[d] > 0 && (rng() & 1)) ? -1 : 1;
      }
      o.reshape(shape);
      return true;
    }
    case Mut::kOutDtype: {
      DLDataType t = o.tensor.dtype;
      while (fuzz::same_dtype(t, o.tensor.dtype)) {
        t = pick<DLDataType>(rng, {{kDLFloat, 32, 1},
                                   {kDLFloat, 64, 1},
                                   {kDLInt, 64, 1},
                                   {kDLInt, 32, 1},
                                   {kDLBool, 8, 1},
                                   {kDLFloat, 16, 1}});
      }
      o.retype(t);
      return true;
    }
    case Mut::kOutRank: {
      std::vector<int64_t> shape = o.shape;
      if (ond > 0 && (rng() & 1))
        shape.pop_back();
      else
        shape.push_back(1);
      o.reshape(shape);
      return true;
    }
    case Mut::kOutNullData:
      o.tensor.data = nullptr;
      return true;
    case Mut::kOutStrides: {
      o.set_compact_strides();
      std::vector<size_t> big;
      for (size_t d = 0; d < ond; ++d)
        if (o.shape[d] > 1) big.push_back(d);
      if (big.empty()) return false;
      const size_t d = big[std::uniform_int_distribution<size_t>(0, big.size() - 1)(rng)];
      o.strides[d] = (rng() & 1) ? 0 : o.strides[d] * 3;
      return true;
    }
    case Mut::kOutDevice: {
      const int32_t type = pick<int32_t>(rng, {kDLCUDA, kDLCPU});
      std::memcpy(&o.tensor.device.device_type, &type, sizeof(type));
      o.tensor.device.device_id = type == kDLCPU ? 3 : 0;
      return true;
    }
    default:
      return false;
  }
}

struct Tally {
  int64_t calls = 0, valid = 0, invalid = 0, shape_queries = 0, fresh_cases = 0;
  std::map<std::string, int64_t> by_mutation;
  int failures = 0;
};

class AbiFuzz : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* name : {"multi_io", "op_indexing", "op_pointwise", "bert", "op_attention"}) {
      models_.push_back(std::make_unique<FuzzModel>(name, reliability::compiled_fixture(name),
                                                    reliability::fixture_pt2(name)));
    }
  }
  static void TearDownTestSuite() { models_.clear(); }
  static std::vector<std::unique_ptr<FuzzModel>> models_;
};
std::vector<std::unique_ptr<FuzzModel>> AbiFuzz::models_;

// The signature the library reports agrees with the fixture's manifest (names, dtypes, ranks),
// and out-of-range introspection indices are errors.
TEST_F(AbiFuzz, SignaturesAreIntrospected) {
  for (const auto& fm : models_) {
    SCOPED_TRACE(fm->name);
    EXPECT_GE(fm->sig.inputs.size(), 2u);
    EXPECT_FALSE(fm->sig.symbols.empty());
    KilnTensorInfo info{};
    EXPECT_EQ(fm->abi.input_info(fm->container, fm->sig.inputs.size(), &info),
              KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(fm->abi.last_error()).find("out of range"), std::string::npos);
    EXPECT_EQ(fm->abi.output_info(fm->container, 0, nullptr), KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(fm->abi.input_info(nullptr, 0, &info), KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(fm->abi.num_inputs(nullptr), 0u);
  }
}

TEST_F(AbiFuzz, RandomCallsAreCheckedOrCorrect) {
  const int64_t total = reliability::env_count("KILN_ABI_FUZZ_CALLS", 3000);
  const auto seed = static_cast<uint32_t>(reliability::env_count("KILN_ABI_FUZZ_SEED", 20250611));
  // A fresh random case (with its reference outputs) replaces an old one this often.
  constexpr int64_t kRefreshEvery = 250;
  std::mt19937 rng(seed);
  for (auto& fm : models_)
    fm->fill_pool(rng);
  Tally tally;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < total && tally.failures < 20; ++n) {
    FuzzModel& fm = *models_[static_cast<size_t>(n) % models_.size()];
    if (n > 0 && n % kRefreshEvery == 0) {
      fm.refresh_one(rng);
      ++tally.fresh_cases;
    }
    const Case& c = fm.pool[std::uniform_int_distribution<size_t>(0, fm.pool.size() - 1)(rng)];
    std::string failure;
    if (n % 10 == 9) {
      failure = fm.fuzz_output_shapes(c, rng);
      ++tally.shape_queries;
    } else {
      auto call = std::make_unique<Call>(fm, c);
      Mut m = pick_mutation(rng);
      while (!mutate(fm, c, m, *call, rng)) {
        call = std::make_unique<Call>(fm, c);
        m = pick_mutation(rng);
      }
      const Expect want = fuzz::classify(fm.sig, *call, c);
      failure = fm.execute(*call, want, c);
      ++tally.by_mutation[mut_name(m)];
      ++(want.status == KILN_OK ? tally.valid : tally.invalid);
      if (!failure.empty()) failure = std::string(mut_name(m)) + ": " + failure;
    }
    ++tally.calls;
    if (!failure.empty()) {
      ++tally.failures;
      ADD_FAILURE() << fm.name << " call " << n << " (seed " << seed << ") " << failure;
    }
  }
  // Still working: every case of every model once more.
  for (auto& fm : models_) {
    for (const Case& c : fm->pool) {
      Call call(*fm, c);
      const std::string failure = fm->execute(call, fuzz::classify(fm->sig, call, c), c);
      EXPECT_TRUE(failure.empty()) << fm->name << " after the fuzz: " << failure;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ abi fuzz ] " << tally.calls << " calls (" << tally.valid << " valid, "
            << tally.invalid << " invalid, " << tally.shape_queries << " output-shape queries), "
            << tally.fresh_cases << " fresh cases, seed " << seed << ", " << secs << " s\n";
  for (const auto& [name, count] : tally.by_mutation)
    std::cout << "  " << name << ": " << count << "\n";
  EXPECT_GT(tally.valid, total / 5);
  EXPECT_GT(tally.invalid, total / 5);
}

}  // namespace
}  // namespace kiln::testing
