// kiln_update_constants: replacing weights by name, its errors, all-or-nothing, and runs in
// flight meanwhile.

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "fake_model.h"
#include "kiln/kiln.h"
#include "runtime_test_util.h"

namespace {

using rtest::HostTensor;
using rtest::Inputs;

// A constant's new value: w as f32[4], c as f32[].
struct Values {
  HostTensor w;
  HostTensor c;
  Values(uint32_t seed) : w({4}, seed), c({}, seed + 1) {}
  std::vector<float> w_values() const { return w.data; }
  float c_value() const { return c.data[0]; }
};

KilnStatus update(KilnContainer* k, std::vector<const char*> names,
                  std::vector<const DLTensor*> values) {
  return kiln_update_constants(k, names.data(), values.data(), names.size());
}

TEST(UpdateConstants, ReplacesValues) {
  auto c = rtest::make_container(2);
  auto other = rtest::make_container();
  Values v(31);
  ASSERT_EQ(update(c.get(), {"w", "c"}, {&v.w.t, &v.c.t}), KILN_OK) << kiln_last_error();
  EXPECT_TRUE(rtest::runs_ok(c.get(), 12, 1, v.w_values(), v.c_value()));
  // The caller's tensors were copied: changing them afterwards changes nothing.
  const std::vector<float> w_before = v.w_values();
  v.w.data[0] = 100.0f;
  EXPECT_TRUE(rtest::runs_ok(c.get(), 12, 2, w_before, v.c_value()));
  // Constants belong to the container; another one of the same model is untouched.
  EXPECT_TRUE(rtest::runs_ok(other.get(), 12, 3));
  // A second update reuses the container's copy.
  Values v2(77);
  ASSERT_EQ(update(c.get(), {"w"}, {&v2.w.t}), KILN_OK) << kiln_last_error();
  EXPECT_TRUE(rtest::runs_ok(c.get(), 3, 4, v2.w_values(), v.c_value()));
  // A fresh container of the model still sees the embedded weights.
  auto fresh = rtest::make_container();
  EXPECT_TRUE(rtest::runs_ok(fresh.get(), 3, 5));
}

TEST(UpdateConstants, NothingToDo) {
  auto c = rtest::make_container();
  EXPECT_EQ(kiln_update_constants(c.get(), nullptr, nullptr, 0), KILN_OK);
  EXPECT_TRUE(rtest::runs_ok(c.get(), 3, 5));
}

TEST(UpdateConstants, ErrorsNameTheConstant) {
  auto c = rtest::make_container();
  Values good(5);
  HostTensor w5({5}, 6), w2d({2, 2}, 7), c1({1}, 8);
  HostTensor w_f64({4}, 9);
  w_f64.t.dtype = DLDataType{kDLFloat, 64, 1};
  HostTensor w_gpu({4}, 10);
  w_gpu.t.device = DLDevice{kDLCUDA, 0};
  HostTensor w_null({4}, 11);
  w_null.t.data = nullptr;
  HostTensor w_strided({4}, 12);
  int64_t stride2[] = {2};
  w_strided.t.strides = stride2;
  struct Case {
    std::vector<const char*> names;
    std::vector<const DLTensor*> values;
    KilnStatus status;
    std::string message;
  } cases[] = {
      {{"bias"},
       {&good.w.t},
       KILN_ERROR_INVALID_ARGUMENT,
       "kiln_update_constants: the model has no constant 'bias'"},
      {{nullptr},
       {&good.w.t},
       KILN_ERROR_INVALID_ARGUMENT,
       "kiln_update_constants: names[0] is NULL"},
      {{"w", "w"},
       {&good.w.t, &good.w.t},
       KILN_ERROR_INVALID_ARGUMENT,
       "kiln_update_constants: constant 'w' is given twice"},
      {{"w"}, {nullptr}, KILN_ERROR_BAD_INPUT, "constant 'w': tensor is NULL"},
      {{"w"}, {&w5.t}, KILN_ERROR_BAD_INPUT, "constant 'w': dim 0 is 5, expected 4"},
      {{"w"}, {&w2d.t}, KILN_ERROR_BAD_INPUT, "constant 'w': rank 2, expected 1"},
      {{"c"}, {&c1.t}, KILN_ERROR_BAD_INPUT, "constant 'c': rank 1, expected 0"},
      {{"w"}, {&w_f64.t}, KILN_ERROR_BAD_INPUT, "constant 'w': dtype float64, expected float32"},
      {{"w"}, {&w_gpu.t}, KILN_ERROR_BAD_INPUT, "constant 'w': on cuda:0, expected cpu"},
      {{"w"}, {&w_null.t}, KILN_ERROR_BAD_INPUT, "constant 'w': data is NULL"},
      {{"w"},
       {&w_strided.t},
       KILN_ERROR_BAD_INPUT,
       "constant 'w': not compact row-major: dim 0 has stride 2, expected 1 (strides [2]); make "
       "it contiguous first"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.message);
    EXPECT_EQ(update(c.get(), k.names, k.values), k.status);
    EXPECT_EQ(rtest::last_error(), k.message);
    EXPECT_TRUE(rtest::runs_ok(c.get(), 6, 13));  // nothing changed
  }
  const char* names[] = {"w"};
  EXPECT_EQ(kiln_update_constants(c.get(), names, nullptr, 1), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_update_constants: values is NULL");
  EXPECT_EQ(kiln_update_constants(c.get(), nullptr, nullptr, 1), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_update_constants: names is NULL");
  EXPECT_EQ(kiln_update_constants(nullptr, names, nullptr, 1), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rtest::last_error(), "kiln_update_constants: container is NULL");
}

TEST(UpdateConstants, AllOrNothing) {
  auto c = rtest::make_container();
  Values v(40);
  HostTensor bad_c({3}, 41);
  // w is fine, c is not: neither applies.
  EXPECT_EQ(update(c.get(), {"w", "c"}, {&v.w.t, &bad_c.t}), KILN_ERROR_BAD_INPUT);
  EXPECT_EQ(rtest::last_error(), "constant 'c': rank 1, expected 0");
  EXPECT_TRUE(rtest::runs_ok(c.get(), 9, 42));
  // Also after w already has its own copy.
  Values v2(50);
  ASSERT_EQ(update(c.get(), {"w"}, {&v2.w.t}), KILN_OK);
  EXPECT_EQ(update(c.get(), {"w", "nope"}, {&v.w.t, &v.c.t}), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(rtest::runs_ok(c.get(), 9, 43, v2.w_values(), fake::default_c()));
}

TEST(UpdateConstants, ExternalWeightsToo) {
  // Mapped weights are read-only like embedded ones; the update copies.
  const std::string path = ::testing::TempDir() + "kiln_update_constants.weights";
  {
    const std::vector<uint8_t> blob = fake::weights_blob();
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(blob.data(), 1, blob.size(), f);
    std::fclose(f);
  }
  fake::ModelScope scope(fake::external_model());
  auto c = rtest::make_container(1, 0, path.c_str());
  Values v(60);
  ASSERT_EQ(update(c.get(), {"c", "w"}, {&v.c.t, &v.w.t}), KILN_OK) << kiln_last_error();
  EXPECT_TRUE(rtest::runs_ok(c.get(), 10, 61, v.w_values(), v.c_value()));
  std::remove(path.c_str());
}

TEST(UpdateConstants, WaitsForRunsInFlight) {
  // Runs from four threads while two others flip the weights between two sets: every run
  // must see one whole set, never a mix.
  auto c = rtest::make_container(3);
  Values a(70), b(80);
  fake::set_run_delay_us(200);
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0}, failed{0}, runs{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; !stop.load() || i < 20; ++i) {
        Inputs in(1 + (t * 13 + i) % 16, static_cast<uint32_t>(t * 1000 + i));
        rtest::ManagedOutputs out;
        if (kiln_run(c.get(), in.ptrs, 2, nullptr, out.items, 2, nullptr) != KILN_OK) {
          ++failed;
          continue;
        }
        ++runs;
        const bool is_default = rtest::close(out.y(), rtest::expected(in).y);
        const bool is_a = rtest::close(out.y(), rtest::expected(in, a.w_values(), a.c_value()).y);
        const bool is_b = rtest::close(out.y(), rtest::expected(in, b.w_values(), b.c_value()).y);
        if (!is_default && !is_a && !is_b) ++mixed;
      }
    });
  }
  // Two updaters at once, one writing set a and one set b: updates serialize.
  std::atomic<int> update_failures{0};
  std::vector<std::thread> updaters;
  for (Values* v : {&a, &b}) {
    updaters.emplace_back([&, v] {
      for (int i = 0; i < 20; ++i) {
        if (update(c.get(), {"w", "c"}, {&v->w.t, &v->c.t}) != KILN_OK) ++update_failures;
        std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
    });
  }
  for (std::thread& u : updaters)
    u.join();
  stop = true;
  for (std::thread& w : workers)
    w.join();
  EXPECT_EQ(update_failures.load(), 0);
  fake::set_run_delay_us(0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GE(runs.load(), 80);
}

}  // namespace
