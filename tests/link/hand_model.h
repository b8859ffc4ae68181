#pragma once

// A model written by hand in the shape code generation produces: y = x + w + c, with x an
// f32[s0, 4] input (s0 in [1, 64]), w an f32[4] constant read from the weights blob, and c the
// sum of `parts` constants, each defined in its own translation unit (so a build has several
// kernel sources to compile in parallel).

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "checksum.h"
#include "codegen/generated_model.h"

namespace kiln::testing {

struct HandModel {
  codegen::GeneratedModel model;
  std::vector<float> w;
  float c = 0;  // the sum of the parts, exact in float
};

inline std::string hand_wrapper(bool external, uint64_t size, uint64_t checksum,
                                const std::string& tag) {
  char facts[160];
  std::snprintf(facts, sizeof facts, "%" PRIu64 "ULL, 0x%016" PRIx64 "ULL", size, checksum);
  std::string s = "// " + tag + "\n";
  s += R"cpp(#include <cstdint>

#include "kiln/kiln.h"
#include "model_interface.h"
  )cpp";
  if (!external) s += "extern \"C\" const unsigned char kiln_weights_blob[];\n";
  s += "float kiln_hand_parts();\n";
  s += R"cpp(
    namespace {
    using namespace kiln::rt;

    const SymbolInfo kSymbols[] = {{"s0", 1, 64}};
    const char* const kDims[] = {"s0", "4"};
    const int64_t kMin[] = {1, 4};
    const int64_t kMax[] = {64, 4};
    const TensorInfo kInputs[] = {{"x", {kDLFloat, 32, 1}, 2, kDims, kMin, kMax}};
    const TensorInfo kOutputs[] = {{"y", {kDLFloat, 32, 1}, 2, kDims, kMin, kMax}};
    const int64_t kWShape[] = {4};
    const ConstantInfo kConstants[] = {{"w", {kDLFloat, 32, 1}, 1, kWShape, 16, 0}};

    bool bind_dims(const int64_t* dims, int32_t ndim, int64_t* symbols, ErrorSink* err) {
      if (ndim != 2)
        return fail(err, KILN_ERROR_BAD_INPUT, "input 'x' (#0): rank %d, expected 2", ndim);
      if (dims[0] < 1 || dims[0] > 64) {
        return fail(err, KILN_ERROR_BAD_INPUT,
                    "input 'x' (#0): dim 0 is %lld, outside the range [1, 64] of s0",
                    static_cast<long long>(dims[0]));
      }
      if (dims[1] != 4) {
        return fail(err, KILN_ERROR_BAD_INPUT, "input 'x' (#0): dim 1 is %lld, expected 4 (4)",
                    static_cast<long long>(dims[1]));
      }
      symbols[0] = dims[0];
      return true;
    }

    bool bind_inputs(const DLTensor* const* inputs, int64_t* symbols, ErrorSink* err) {
      const DLTensor* x = inputs[0];
      if (x == nullptr) return fail(err, KILN_ERROR_BAD_INPUT, "input 'x' (#0): tensor is NULL");
      if (x->dtype.code != kDLFloat || x->dtype.bits != 32 || x->dtype.lanes != 1) {
        return fail(err, KILN_ERROR_BAD_INPUT, "input 'x' (#0): dtype is not float32");
      }
      if (x->shape == nullptr) return fail(err, KILN_ERROR_BAD_INPUT, "input 'x' (#0): shape is NULL");
      if (x->strides != nullptr && (x->strides[1] != 1 || (x->shape[0] > 1 && x->strides[0] != 4))) {
        return fail(err, KILN_ERROR_BAD_INPUT, "input 'x' (#0): not compact row-major");
      }
      return bind_dims(x->shape, x->ndim, symbols, err);
    }

    bool bind_shapes(const int64_t* const* shapes, int64_t* symbols, ErrorSink* err) {
      return bind_dims(shapes[0], 2, symbols, err);
    }

    void output_shapes(const int64_t* symbols, int64_t* const* shapes) {
      shapes[0][0] = symbols[0];
      shapes[0][1] = 4;
    }

    uint64_t arena_bytes(const int64_t*) {
      return 0;
    }

    bool run(const RunContext& ctx) {
      const float* x = static_cast<const float*>(ctx.inputs[0]);
      const float* w = static_cast<const float*>(ctx.constants[0]);
      float* y = static_cast<float*>(ctx.outputs[0]);
      const float c = kiln_hand_parts();
      for (int64_t i = 0; i < ctx.symbols[0]; ++i) {
        for (int64_t j = 0; j < 4; ++j)
          y[i * 4 + j] = x[i * 4 + j] + w[j] + c;
      }
      return true;
    }

    const ModelDesc kDesc = {kModelInterfaceVersion, "hand", "test", "x86-64-v3", 1, kSymbols, 1,
                             kInputs, 1, kOutputs, 1, kConstants,
  )cpp";
  s += external ? "    nullptr,\n" : "    kiln_weights_blob,\n";
  s += "    " + std::string(facts) + ",\n";
  s += R"cpp(bind_inputs, bind_shapes, output_shapes, arena_bytes, run
             }
             ;

             }  // namespace

             extern "C" const kiln::rt::ModelDesc* kiln_rt_model() {
               return &kDesc;
             }
  )cpp";
  if (!external) {
    // Lets a test see where the embedded blob landed.
    s += "extern \"C\" KILN_API const void* kiln_test_weights_address() { return "
         "kiln_weights_blob; }\n";
  }
  return s;
}

// `tag` goes into a comment of every source, so distinct tags give distinct cache keys.
inline HandModel make_hand_model(bool external, int parts, const std::string& tag,
                                 uint32_t seed = 7) {
  HandModel h;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (int i = 0; i < 4; ++i)
    h.w.push_back(dist(rng));
  h.model.model_name = "hand";
  h.model.weights.assign(64, 0);  // one constant at offset 0, padded to 64 bytes
  std::memcpy(h.model.weights.data(), h.w.data(), 16);
  h.model.weights_checksum = rt::weights_checksum(h.model.weights.data(), h.model.weights.size());
  h.model.sources.push_back({"wrapper.cpp", hand_wrapper(external, h.model.weights.size(),
                                                         h.model.weights_checksum, tag)});
  std::string sum = "// " + tag + "\n";
  for (int p = 0; p < parts; ++p)
    sum += "float kiln_hand_part_" + std::to_string(p) + "();\n";
  sum += "float kiln_hand_parts() {\n  float c = 0;\n";
  for (int p = 0; p < parts; ++p)
    sum += "  c += kiln_hand_part_" + std::to_string(p) + "();\n";
  sum += "  return c;\n}\n";
  h.model.sources.push_back({"kernels_sum.cpp", sum});
  for (int p = 0; p < parts; ++p) {
    const float value = 0.25f * static_cast<float>(p + 1);
    h.c += value;
    h.model.sources.push_back({"kernels_" + std::to_string(p) + ".cpp",
                               "// " + tag + "\nfloat kiln_hand_part_" + std::to_string(p) +
                                   "() { return " + std::to_string(value) + "f; }\n"});
  }
  return h;
}

}  // namespace kiln::testing
