#include <gtest/gtest.h>

#include <cmath>

#include "ops/op_table.h"
#include "pointwise_test_util.h"

namespace kiln::testing {
namespace {

using namespace pw;

struct CompareCase {
  const char* name;
  bool (*fn)(double, double);
};

const CompareCase kCompares[] = {
    {"eq", [](double x, double y) { return x == y; }},
    {"ne", [](double x, double y) { return x != y; }},
    {"lt", [](double x, double y) { return x < y; }},
    {"le", [](double x, double y) { return x <= y; }},
    {"gt", [](double x, double y) { return x > y; }},
    {"ge", [](double x, double y) { return x >= y; }},
};

TEST(PointwiseCompare, ComparisonsOnTensorsAndScalars) {
  std::mt19937 rng(41);
  for (const auto& c : kCompares) {
    std::string tensor_op = std::string("aten.") + c.name + ".Tensor";
    std::string scalar_op = std::string("aten.") + c.name + ".Scalar";
    auto want = [&](const V& v) { return c.fn(v[0], v[1]) ? 1.0 : 0.0; };
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      // Small integer ranges so that equal values occur.
      ref::Tensor x = random_tensor(DType::kInt64, sa, rng, -3, 3);
      ref::Tensor y = random_tensor(DType::kInt32, sb, rng, -3, 3);
      EXPECT_TRUE(same_values(run_op_tensor(tensor_op, {{"self", x}, {"other", y}}),
                              expect_real(DType::kBool, {&x, &y}, want)))
          << tensor_op;
      ref::Tensor f = pw::cast(random_tensor(DType::kInt64, sa, rng, -3, 3), DType::kFloat32);
      ref::Tensor g = random_tensor(DType::kFloat32, sb, rng, -3, 3);
      g.set(0, 1.0);
      EXPECT_TRUE(same_values(run_op_tensor(tensor_op, {{"self", f}, {"other", g}}),
                              expect_real(DType::kBool, {&f, &g}, want)))
          << tensor_op;
    }
    ref::Tensor x = random_tensor(DType::kInt64, {3, 4}, rng, -3, 3);
    // An int tensor against a float scalar compares as float.
    ref::Tensor half = make_tensor(DType::kFloat64, {}, {0.5});
    EXPECT_TRUE(same_values(run_op_tensor(scalar_op, {{"self", x}, {"other", 0.5}}),
                            expect_real(DType::kBool, {&x, &half}, want)))
        << scalar_op;
    ref::Tensor one = make_tensor(DType::kInt64, {}, {1});
    EXPECT_TRUE(same_values(run_op_tensor(scalar_op, {{"self", x}, {"other", int64_t{1}}}),
                            expect_real(DType::kBool, {&x, &one}, want)))
        << scalar_op;
    ref::Tensor b = random_tensor(DType::kBool, {2, 3}, rng);
    EXPECT_TRUE(same_values(run_op_tensor(scalar_op, {{"self", b}, {"other", true}}),
                            expect_real(DType::kBool, {&b, &one}, want)))
        << scalar_op;
  }
}

TEST(PointwiseCompare, OperandsAreCastToThePromotedDtype) {
  // float32 0.1 equals the scalar 0.1 once the scalar is cast to float32.
  ref::Tensor f = make_tensor(DType::kFloat32, {2}, {0.1, 0.2});
  EXPECT_TRUE(same_values(run_op_tensor("aten.eq.Scalar", {{"self", f}, {"other", 0.1}}),
                          make_tensor(DType::kBool, {2}, {1, 0})));
  // 256 wraps to 0 for uint8 and 300 to 44 for int8, as in PyTorch.
  ref::Tensor u8 = make_tensor(DType::kUInt8, {3}, {3, 2, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.lt.Scalar", {{"self", u8}, {"other", int64_t{256}}}),
                          make_tensor(DType::kBool, {3}, {0, 0, 0})));
  ref::Tensor i8 = make_tensor(DType::kInt8, {2}, {1, 50});
  EXPECT_TRUE(same_values(run_op_tensor("aten.lt.Scalar", {{"self", i8}, {"other", int64_t{300}}}),
                          make_tensor(DType::kBool, {2}, {1, 0})));
  // bool vs 2 compares as int64.
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.eq.Scalar", {{"self", b}, {"other", int64_t{2}}}),
                          make_tensor(DType::kBool, {2}, {0, 0})));
  ref::Tensor nan = make_tensor(DType::kFloat32, {2}, {NAN, 1});
  EXPECT_TRUE(same_values(run_op_tensor("aten.ne.Tensor", {{"self", nan}, {"other", nan}}),
                          make_tensor(DType::kBool, {2}, {1, 0})));
  // In place, the bool result is stored in self's dtype.
  ref::Tensor x = make_tensor(DType::kFloat32, {3}, {1, 2, 3});
  EXPECT_TRUE(same_values(run_op_tensor("aten.ge_.Scalar", {{"self", x}, {"other", int64_t{2}}}),
                          make_tensor(DType::kFloat32, {3}, {0, 1, 1})));
}

TEST(PointwiseCompare, LogicalOps) {
  std::mt19937 rng(42);
  for (const auto& [sa, sb] : pw::shape_pairs()) {
    ref::Tensor x = random_tensor(DType::kInt64, sa, rng, -1, 2);
    ref::Tensor y = random_tensor(DType::kFloat32, sb, rng, -1, 1);
    for (int64_t k = 0; k < y.numel(); k += 3)
      y.set(k, 0);
    y.set(y.numel() - 1, NAN);  // NaN is true
    auto truth = [](double v) { return v != 0; };
    EXPECT_TRUE(same_values(run_op_tensor("aten.logical_and.default", {{"self", x}, {"other", y}}),
                            expect_real(DType::kBool, {&x, &y}, [&](const V& v) {
                              return truth(v[0]) && truth(v[1]) ? 1.0 : 0.0;
                            })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.logical_or.default", {{"self", x}, {"other", y}}),
                            expect_real(DType::kBool, {&x, &y}, [&](const V& v) {
                              return truth(v[0]) || truth(v[1]) ? 1.0 : 0.0;
                            })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.logical_xor.default", {{"self", x}, {"other", y}}),
                            expect_real(DType::kBool, {&x, &y}, [&](const V& v) {
                              return truth(v[0]) != truth(v[1]) ? 1.0 : 0.0;
                            })));
  }
  ref::Tensor f = make_tensor(DType::kFloat32, {3}, {0, 2, -1});
  ref::Tensor b = make_tensor(DType::kBool, {3}, {1, 1, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.logical_and_.default", {{"self", f}, {"other", b}}),
                          make_tensor(DType::kFloat32, {3}, {0, 1, 0})));
}

TEST(PointwiseCompare, BitwiseOps) {
  std::mt19937 rng(43);
  struct Case {
    const char* op;
    int64_t (*fn)(int64_t, int64_t);
  };
  const Case cases[] = {
      {"aten.bitwise_and.Tensor", [](int64_t x, int64_t y) { return x & y; }},
      {"aten.__and__.Tensor", [](int64_t x, int64_t y) { return x & y; }},
      {"aten.bitwise_or.Tensor", [](int64_t x, int64_t y) { return x | y; }},
      {"aten.__or__.Tensor", [](int64_t x, int64_t y) { return x | y; }},
      {"aten.bitwise_xor.Tensor", [](int64_t x, int64_t y) { return x ^ y; }},
      {"aten.__xor__.Tensor", [](int64_t x, int64_t y) { return x ^ y; }},
  };
  for (const auto& c : cases) {
    for (const auto& [sa, sb] : pw::shape_pairs()) {
      ref::Tensor x = random_tensor(DType::kInt64, sa, rng, -1000, 1000);
      ref::Tensor y = random_tensor(DType::kInt64, sb, rng, -1000, 1000);
      EXPECT_TRUE(same_values(
          run_op_tensor(c.op, {{"self", x}, {"other", y}}),
          expect_int(DType::kInt64, {&x, &y}, [&](const I& v) { return c.fn(v[0], v[1]); })))
          << c.op;
      ref::Tensor p = random_tensor(DType::kBool, sa, rng);
      ref::Tensor q = random_tensor(DType::kBool, sb, rng);
      EXPECT_TRUE(same_values(
          run_op_tensor(c.op, {{"self", p}, {"other", q}}),
          expect_int(DType::kBool, {&p, &q}, [&](const I& v) { return c.fn(v[0], v[1]); })))
          << c.op;
    }
    ref::Tensor f = make_tensor(DType::kFloat32, {1}, {1});
    expect_error([&] { run_op(c.op, {{"self", f}, {"other", f}}); }, "Float");
  }
  // Scalars: cast to the tensor's dtype (uint8 | -1 is 255); bool & int promotes to int64.
  ref::Tensor u8 = make_tensor(DType::kUInt8, {3}, {3, 2, 0});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.bitwise_or.Scalar", {{"self", u8}, {"other", int64_t{-1}}}),
                  make_tensor(DType::kUInt8, {3}, {255, 255, 255})));
  ref::Tensor i32 = random_tensor(DType::kInt32, {2, 3}, rng, -100, 100);
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.bitwise_and.Scalar", {{"self", i32}, {"other", int64_t{6}}}),
                  expect_int(DType::kInt32, {&i32}, [](const I& v) { return v[0] & 6; })));
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.bitwise_xor.Scalar", {{"self", i32}, {"other", int64_t{5}}}),
                  expect_int(DType::kInt32, {&i32}, [](const I& v) { return v[0] ^ 5; })));
  ref::Tensor b = make_tensor(DType::kBool, {3}, {1, 0, 1});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.bitwise_and.Scalar", {{"self", b}, {"other", true}}), b));
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.bitwise_and.Scalar", {{"self", b}, {"other", int64_t{1}}}),
                  make_tensor(DType::kInt64, {3}, {1, 0, 1})));
  expect_error(
      [&] {
        run_op("aten.bitwise_and.Scalar", {{"self", i32}, {"other", 1.5}});
      },
      "Float");
}

TEST(PointwiseCompare, MaximumMinimumPropagateNan) {
  std::mt19937 rng(44);
  for (const auto& [sa, sb] : pw::shape_pairs()) {
    ref::Tensor x = random_tensor(DType::kFloat32, sa, rng);
    ref::Tensor y = random_tensor(DType::kFloat32, sb, rng);
    x.set(0, NAN);
    auto mx = [](const V& v) { return v[0] != v[0] || v[1] != v[1] ? NAN : std::max(v[0], v[1]); };
    auto mn = [](const V& v) { return v[0] != v[0] || v[1] != v[1] ? NAN : std::min(v[0], v[1]); };
    for (const char* op : {"aten.maximum.default", "aten.max.other"}) {
      EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", x}, {"other", y}}),
                              expect_real(DType::kFloat32, {&x, &y}, mx)));
    }
    for (const char* op : {"aten.minimum.default", "aten.min.other"}) {
      EXPECT_TRUE(same_values(run_op_tensor(op, {{"self", x}, {"other", y}}),
                              expect_real(DType::kFloat32, {&x, &y}, mn)));
    }
    ref::Tensor i = random_tensor(DType::kInt64, sa, rng, -50, 50);
    ref::Tensor j = random_tensor(DType::kInt32, sb, rng, -50, 50);
    // A 0-dim int64 does not widen an int32 tensor with dims.
    DType it = sa.empty() && !sb.empty() ? DType::kInt32 : DType::kInt64;
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.maximum.default", {{"self", i}, {"other", j}}),
                    expect_int(it, {&i, &j}, [](const I& v) { return std::max(v[0], v[1]); })));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.minimum.default", {{"self", i}, {"other", j}}),
                    expect_int(it, {&i, &j}, [](const I& v) { return std::min(v[0], v[1]); })));
  }
  // int vs float promotes; bool stays bool; maximum(-0, 0) keeps the first.
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {3, -2, 0});
  ref::Tensor f = make_tensor(DType::kFloat32, {3}, {1.5, -2.5, 0.5});
  EXPECT_TRUE(same_values(run_op_tensor("aten.maximum.default", {{"self", i}, {"other", f}}),
                          make_tensor(DType::kFloat32, {3}, {3, -2, 0.5})));
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  ref::Tensor c = make_tensor(DType::kBool, {2}, {0, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.maximum.default", {{"self", b}, {"other", c}}), b));
  ref::Tensor nz = make_tensor(DType::kFloat32, {1}, {-0.0});
  ref::Tensor pz = make_tensor(DType::kFloat32, {1}, {0.0});
  EXPECT_TRUE(
      std::signbit(run_op_tensor("aten.maximum.default", {{"self", nz}, {"other", pz}}).get(0)));
  EXPECT_FALSE(
      std::signbit(run_op_tensor("aten.minimum.default", {{"self", pz}, {"other", nz}}).get(0)));
}

TEST(PointwiseCompare, Clamp) {
  std::mt19937 rng(45);
  auto clamp = [](double x, double lo, double hi) {
    if (x != x || lo != lo || hi != hi) return static_cast<double>(NAN);
    return std::min(std::max(x, lo), hi);
  };
  for (std::vector<int64_t> s : {std::vector<int64_t>{}, {1, 1}, {3, 1, 4}}) {
    ref::Tensor x = random_tensor(DType::kFloat32, s, rng, -3, 3);
    x.set(0, NAN);
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.clamp.default", {{"self", x}, {"min", -1.0}, {"max", 0.5}}),
        expect_real(DType::kFloat32, {&x}, [&](const V& v) { return clamp(v[0], -1, 0.5); })));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.clamp.default", {{"self", x}, {"min", -1.0}}),
        expect_real(DType::kFloat32, {&x}, [&](const V& v) { return clamp(v[0], -1, INFINITY); })));
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.clamp.default", {{"self", x}, {"max", int64_t{1}}}),
        expect_real(DType::kFloat32, {&x}, [&](const V& v) { return clamp(v[0], -INFINITY, 1); })));
    // min > max gives max
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.clamp.default", {{"self", x}, {"min", 1.0}, {"max", 0.0}}),
        expect_real(DType::kFloat32, {&x}, [](const V& v) { return v[0] != v[0] ? NAN : 0.0; })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.clamp_min.default", {{"self", x}, {"min", 0.25}}),
                            expect_real(DType::kFloat32, {&x},
                                        [&](const V& v) { return clamp(v[0], 0.25, INFINITY); })));
    EXPECT_TRUE(same_values(run_op_tensor("aten.clamp_max.default", {{"self", x}, {"max", -0.25}}),
                            expect_real(DType::kFloat32, {&x}, [&](const V& v) {
                              return clamp(v[0], -INFINITY, -0.25);
                            })));
    ref::Tensor i = random_tensor(DType::kInt32, s, rng, -10, 10);
    EXPECT_TRUE(same_values(run_op_tensor("aten.clamp.default",
                                          {{"self", i}, {"min", int64_t{-3}}, {"max", int64_t{4}}}),
                            expect_int(DType::kInt32, {&i}, [](const I& v) {
                              return std::min<int64_t>(std::max<int64_t>(v[0], -3), 4);
                            })));
    // An int tensor clamped by a float promotes to float32.
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.clamp.default", {{"self", i}, {"min", 1.5}}),
        expect_real(DType::kFloat32, {&i}, [](const V& v) { return std::max(v[0], 1.5); })));
  }
  ref::Tensor x = random_tensor(DType::kFloat32, {3, 4}, rng, -3, 3);
  ref::Tensor lo = random_tensor(DType::kFloat32, {4}, rng, -2, 0);
  ref::Tensor hi = random_tensor(DType::kFloat32, {3, 1}, rng, 0, 2);
  lo.set(1, NAN);
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.clamp.Tensor", {{"self", x}, {"min", lo}, {"max", hi}}),
                  expect_real(DType::kFloat32, {&x, &lo, &hi},
                              [&](const V& v) { return clamp(v[0], v[1], v[2]); })));
  EXPECT_TRUE(same_values(run_op_tensor("aten.clamp.Tensor", {{"self", x}, {"max", hi}}),
                          expect_real(DType::kFloat32, {&x, &hi},
                                      [&](const V& v) { return clamp(v[0], -INFINITY, v[1]); })));
  // The bounds broadcast the result.
  ref::Tensor row = random_tensor(DType::kFloat32, {4}, rng);
  EXPECT_EQ(run_op_tensor("aten.clamp.Tensor", {{"self", row}, {"min", hi}}).sizes(),
            (std::vector<int64_t>{3, 4}));
  ref::Tensor i = make_tensor(DType::kInt64, {3}, {3, -2, 0});
  expect_error(
      [&] {
        run_op("aten.clamp.default", {{"self", i}});
      },
      "At least one of 'min' or 'max' must not be None");
  expect_error([&] { run_op("aten.clamp.Tensor", {{"self", i}}); }, "At least one");
  expect_error(
      [&] {
        run_op("aten.clamp.default",
               {{"self", make_tensor(DType::kBool, {1}, {1})}, {"min", false}});
      },
      "Bool");
  expect_error(
      [&] {
        run_op("aten.clamp_.default", {{"self", i}, {"min", 1.5}});
      },
      "result type Float can't be cast to the desired output type Long");
  EXPECT_TRUE(same_values(run_op_tensor("aten.clamp_.default", {{"self", i}, {"min", int64_t{0}}}),
                          make_tensor(DType::kInt64, {3}, {3, 0, 0})));
  EXPECT_EQ(ops::find_op("aten.clamp_.default")->functional, "aten.clamp.default");
  // Integer number bounds beyond the dtype's range: on the near side they clamp nothing, on the
  // far side they are errors. Tensor bounds are cast like any operand (-3 is 253 in uint8).
  ref::Tensor u8 = make_tensor(DType::kUInt8, {4}, {3, 2, 200, 0});
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.clamp.default", {{"self", u8}, {"min", int64_t{-3}}}), u8));
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.clamp_max.default", {{"self", u8}, {"max", int64_t{300}}}), u8));
  EXPECT_TRUE(same_values(run_op_tensor("aten.clamp.default",
                                        {{"self", u8}, {"min", int64_t{-3}}, {"max", int64_t{4}}}),
                          make_tensor(DType::kUInt8, {4}, {3, 2, 4, 0})));
  expect_error(
      [&] {
        run_op("aten.clamp.default", {{"self", u8}, {"max", int64_t{-3}}});
      },
      "Clamp max value -3 is outside the representable range of Byte");
  expect_error(
      [&] {
        run_op("aten.clamp_min.default", {{"self", u8}, {"min", int64_t{300}}});
      },
      "Clamp min value 300 is outside the representable range of Byte");
  EXPECT_TRUE(
      same_values(run_op_tensor("aten.clamp.Tensor",
                                {{"self", u8}, {"min", make_tensor(DType::kInt64, {}, {-3})}}),
                  make_tensor(DType::kUInt8, {4}, {253, 253, 253, 253})));
  ref::Tensor h = make_tensor(DType::kFloat16, {2}, {1, 2});
  expect_error(
      [&] {
        run_op("aten.clamp.default", {{"self", h}, {"max", 1e6}});
      },
      "value cannot be converted to type c10::Half without overflow");
  // Tensor bounds accept bool.
  ref::Tensor b = make_tensor(DType::kBool, {2}, {1, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.clamp.Tensor",
                                        {{"self", b}, {"min", make_tensor(DType::kBool, {}, {1})}}),
                          make_tensor(DType::kBool, {2}, {1, 1})));
}

TEST(PointwiseCompare, Where) {
  std::mt19937 rng(46);
  const std::vector<std::vector<int64_t>> shapes[] = {
      {{3, 4}, {3, 4}, {3, 4}}, {{3, 1}, {1, 4}, {4}}, {{}, {2, 3}, {1}}, {{2, 1, 3}, {}, {1, 1}}};
  for (const auto& s : shapes) {
    ref::Tensor c = random_tensor(DType::kBool, s[0], rng);
    ref::Tensor x = random_tensor(DType::kFloat32, s[1], rng);
    ref::Tensor y = random_tensor(DType::kInt64, s[2], rng, -9, 9);
    auto pick = [](const V& v) { return v[0] != 0 ? v[1] : v[2]; };
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.where.self", {{"condition", c}, {"self", x}, {"other", y}}),
                    expect_real(DType::kFloat32, {&c, &x, &y}, pick)));
    ref::Tensor two = make_tensor(DType::kInt64, {}, {2});
    EXPECT_TRUE(same_values(run_op_tensor("aten.where.ScalarOther",
                                          {{"condition", c}, {"self", y}, {"other", int64_t{2}}}),
                            expect_real(DType::kInt64, {&c, &y, &two}, pick)));
    ref::Tensor f = make_tensor(DType::kFloat64, {}, {-1.5});
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.where.ScalarSelf", {{"condition", c}, {"self", -1.5}, {"other", y}}),
        expect_real(DType::kFloat32, {&c, &f, &y}, pick)));
    EXPECT_TRUE(
        same_values(run_op_tensor("aten.where.Scalar",
                                  {{"condition", c}, {"self", int64_t{2}}, {"other", -1.5}}),
                    expect_real(DType::kFloat32, {&c, &two, &f}, pick)));
  }
  ref::Tensor c = make_tensor(DType::kBool, {3}, {1, 0, 1});
  ref::Tensor h = random_tensor(DType::kFloat16, {3}, rng);
  EXPECT_EQ(run_op_tensor("aten.where.ScalarOther",
                          {{"condition", c}, {"self", h}, {"other", int64_t{2}}})
                .dtype(),
            DType::kFloat16);
  EXPECT_EQ(run_op_tensor(
                "aten.where.self",
                {{"condition", c}, {"self", h}, {"other", make_tensor(DType::kFloat32, {}, {2})}})
                .dtype(),
            DType::kFloat16);
  EXPECT_EQ(run_op_tensor("aten.where.Scalar", {{"condition", c}, {"self", true}, {"other", false}})
                .dtype(),
            DType::kBool);
  // uint8 conditions are accepted (nonzero is true); other dtypes are not.
  ref::Tensor u8 = make_tensor(DType::kUInt8, {3}, {2, 0, 1});
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.where.Scalar", {{"condition", u8}, {"self", 1.0}, {"other", 0.0}}),
      make_tensor(DType::kFloat32, {3}, {1, 0, 1})));
  expect_error(
      [&] {
        run_op(
            "aten.where.Scalar",
            {{"condition", make_tensor(DType::kInt64, {1}, {1})}, {"self", 1.0}, {"other", 0.0}});
      },
      "where expected condition to be a boolean tensor, but got a tensor with dtype Long");
}

TEST(PointwiseCompare, MaskedFill) {
  std::mt19937 rng(47);
  const std::vector<std::vector<int64_t>> shapes[] = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1}, {3}}, {{}, {2, 2}}, {{1, 3}, {}}};
  for (const auto& s : shapes) {
    ref::Tensor x = random_tensor(DType::kFloat32, s[0], rng);
    ref::Tensor m = random_tensor(DType::kBool, s[1], rng);
    ref::Tensor v = make_tensor(DType::kFloat64, {}, {-7.25});
    auto fill = [](const V& e) { return e[1] != 0 ? e[2] : e[0]; };
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.masked_fill.Scalar", {{"self", x}, {"mask", m}, {"value", -7.25}}),
        expect_real(DType::kFloat32, {&x, &m, &v}, fill)));
    ref::Tensor vt = make_tensor(DType::kInt64, {}, {3});
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.masked_fill.Tensor", {{"self", x}, {"mask", m}, {"value", vt}}),
        expect_real(DType::kFloat32, {&x, &m, &vt}, fill)));
    // An int self keeps its dtype: the value truncates.
    ref::Tensor i = random_tensor(DType::kInt32, s[0], rng, -9, 9);
    ref::Tensor two = make_tensor(DType::kInt64, {}, {2});
    EXPECT_TRUE(same_values(
        run_op_tensor("aten.masked_fill.Scalar", {{"self", i}, {"mask", m}, {"value", 2.5}}),
        expect_real(DType::kInt32, {&i, &m, &two}, fill)));
  }
  ref::Tensor x = random_tensor(DType::kFloat16, {2, 3}, rng);
  ref::Tensor m = make_tensor(DType::kBool, {3}, {1, 0, 1});
  ref::Tensor v = make_tensor(DType::kFloat64, {}, {0.1});
  EXPECT_TRUE(same_values(
      run_op_tensor("aten.masked_fill_.Scalar", {{"self", x}, {"mask", m}, {"value", 0.1}}),
      expect_real(DType::kFloat16, {&x, &m, &v},
                  [](const V& e) { return e[1] != 0 ? e[2] : e[0]; })));
  EXPECT_EQ(ops::find_op("aten.masked_fill_.Scalar")->functional, "aten.masked_fill.Scalar");
  ref::Tensor u8 = make_tensor(DType::kUInt8, {2}, {1, 2});
  ref::Tensor m2 = make_tensor(DType::kBool, {2}, {1, 0});
  EXPECT_TRUE(same_values(run_op_tensor("aten.masked_fill.Scalar",
                                        {{"self", u8}, {"mask", m2}, {"value", int64_t{-200}}}),
                          make_tensor(DType::kUInt8, {2}, {56, 2})));
  ref::Tensor i8 = make_tensor(DType::kInt8, {2}, {1, 2});
  expect_error(
      [&] {
        run_op("aten.masked_fill.Scalar", {{"self", i8}, {"mask", m2}, {"value", int64_t{300}}});
      },
      "value cannot be converted to type int8_t without overflow");
  expect_error(
      [&] {
        run_op("aten.masked_fill.Scalar", {{"self", i8}, {"mask", m2}, {"value", NAN}});
      },
      "without overflow");
  ref::Tensor h = make_tensor(DType::kFloat16, {2}, {1, 2});
  expect_error(
      [&] {
        run_op("aten.masked_fill.Scalar", {{"self", h}, {"mask", m2}, {"value", 1e6}});
      },
      "c10::Half");
  EXPECT_EQ(
      run_op_tensor("aten.masked_fill.Scalar", {{"self", h}, {"mask", m2}, {"value", INFINITY}})
          .get(0),
      INFINITY);
  expect_error(
      [&] {
        run_op("aten.masked_fill.Scalar", {{"self", h}, {"mask", u8}, {"value", 1.0}});
      },
      "masked_fill_ only supports boolean masks, but got mask with dtype Byte");
  expect_error(
      [&] {
        run_op("aten.masked_fill.Tensor",
               {{"self", h}, {"mask", m2}, {"value", make_tensor(DType::kFloat32, {1}, {1})}});
      },
      "only supports a 0-dimensional value tensor, but got tensor with 1 dimension(s)");
  ref::Tensor col = random_tensor(DType::kFloat32, {2, 1}, rng);
  expect_error(
      [&] {
        run_op("aten.masked_fill_.Scalar", {{"self", col}, {"mask", m}, {"value", 1.0}});
      },
      "output with shape [2, 1] doesn't match the broadcast shape [2, 3]");
}

}  // namespace
}  // namespace kiln::testing
