#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "archive_test_support.h"
#include "frontend/pt2_archive.h"
#include "frontend/weights.h"
#include "util/float_formats.h"

namespace kiln {
namespace {

using frontend::Pt2Archive;
using frontend::WeightTensor;
using ir::DType;
using testing::as_string;
using testing::FakeTensor;
using testing::fnv1a64;
using testing::fresh_temp_dir;
using testing::Pt2Builder;
using testing::raw;
using testing::sample_path;

// Expected values were computed from the archives' raw bytes (Python's zipfile + struct):
// FNV-1a 64 over the contiguous element bytes, and the float64 sum in row-major order.
struct Expected {
  const char* fqn;
  DType dtype;
  std::vector<int64_t> sizes;
  uint64_t fnv;
  double sum;
};

void check_weights(const Pt2Archive& a, const std::vector<Expected>& expected) {
  const auto& weights = a.weights("model");
  ASSERT_EQ(weights.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const WeightTensor& w = weights[i];
    const Expected& e = expected[i];
    SCOPED_TRACE(e.fqn);
    EXPECT_EQ(w.fqn, e.fqn);  // config (state_dict) order is kept
    EXPECT_EQ(w.dtype, e.dtype);
    EXPECT_EQ(w.sizes, e.sizes);
    EXPECT_TRUE(w.is_contiguous());
    EXPECT_FALSE(w.zero_filled);
    EXPECT_FALSE(w.is_constant);
    EXPECT_EQ(w.storage.size(), w.nbytes());
    EXPECT_EQ(frontend::weight_fnv1a64(w), e.fnv);
    EXPECT_DOUBLE_EQ(frontend::weight_sum(w), e.sum);
    EXPECT_EQ(a.find_tensor("model", e.fqn), &w);
  }
}

TEST(ArchiveWeights, ExportFixtureSample) {
  Pt2Archive a(sample_path("export_fixture_torch211.pt2"));
  check_weights(
      a, {
             {"lin.weight", DType::kFloat32, {3, 4}, 0x39ba5db8226e4f8full, -2.385175049304962},
             {"lin.bias", DType::kFloat32, {3}, 0xc0d2b43d025e01b7ull, -0.5821923613548279},
             {"buf", DType::kFloat32, {3}, 0xe15abad3be4cb208ull, 3.0},
             {"bfbuf", DType::kBFloat16, {2, 3}, 0x29867ddd47381e7dull, 3.0},
         });
  const auto& w = a.weights("model");
  EXPECT_TRUE(w[0].is_param);
  EXPECT_TRUE(w[0].requires_grad);
  EXPECT_FALSE(w[2].is_param);
  EXPECT_FALSE(w[3].requires_grad);
  EXPECT_EQ(w[0].strides, (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(w[0].device.type, "cuda");
  EXPECT_EQ(w[0].device.index, 0);
  EXPECT_EQ(w[0].file, "export_fixture/data/weights/weight_0");
  EXPECT_EQ(w[3].file, "export_fixture/data/weights/weight_3");
  // Four distinct storage files, four ids; no sharing in this sample.
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(w[i].storage_id, i);
  // The bytes are views into the mapping, and data is 64-byte aligned in the file.
  const std::byte* base = a.zip().file()->data().data();
  for (const auto& t : w)
    EXPECT_EQ((t.storage.data() - base) % 64, 0);
  // bf16 0.5 is 0x3F00.
  EXPECT_EQ(as_string(frontend::contiguous_bytes(w[3])),
            raw<uint16_t>({0x3F00, 0x3F00, 0x3F00, 0x3F00, 0x3F00, 0x3F00}));
  EXPECT_EQ(as_string(frontend::contiguous_bytes(w[2])), raw<float>({0, 1, 2}));
  EXPECT_TRUE(a.constants("model").empty());
}

TEST(ArchiveWeights, TinyConvSample) {
  Pt2Archive a(sample_path("tiny_conv_bn_ln_sdpa_torch211.pt2"));
  check_weights(
      a,
      {
          {"conv.weight", DType::kFloat32, {8, 3, 3, 3}, 0x344859f60ea85992ull, 1.3548513472778723},
          {"conv.bias", DType::kFloat32, {8}, 0x5c09d0929b83b402ull, -0.1022564135491848},
          {"bn.weight", DType::kFloat32, {8}, 0xeb87129436c8da65ull, 8.0},
          {"bn.bias", DType::kFloat32, {8}, 0x0c8210784d8af5a5ull, 0.0},
          {"lin.weight", DType::kFloat32, {16, 8}, 0x37da46f2e9746eebull, -3.6511625308194198},
          {"lin.bias", DType::kFloat32, {16}, 0x79192f821b581042ull, 0.635590860620141},
          {"ln.weight", DType::kFloat32, {16}, 0x4e927ff833e131a5ull, 16.0},
          {"ln.bias", DType::kFloat32, {16}, 0xb9b23f3a46fd0825ull, 0.0},
          {"scale", DType::kFloat32, {1}, 0x4d25477f9dcdc418ull, 0.5},
          {"bn.running_mean", DType::kFloat32, {8}, 0x0c8210784d8af5a5ull, 0.0},
          {"bn.running_var", DType::kFloat32, {8}, 0xeb87129436c8da65ull, 8.0},
          {"bn.num_batches_tracked", DType::kInt64, {}, 0xa8c7f832281a39c5ull, 0.0},
      });
  const WeightTensor* scalar = a.find_tensor("model", "bn.num_batches_tracked");
  ASSERT_NE(scalar, nullptr);
  EXPECT_EQ(scalar->numel(), 1);
  EXPECT_EQ(scalar->device.type, "cpu");
  EXPECT_EQ(scalar->device.index, -1);  // "index": null
  EXPECT_EQ(a.find_tensor("model", "no.such"), nullptr);
}

// The committed fixtures' manifests hold each weight's checksum and sum as torch computed them
// (tools/make_fixtures.py: FNV-1a 64 over t.contiguous() bytes, t.double().sum()).
TEST(ArchiveWeights, FixtureManifests) {
  int checked = 0;
  for (const auto& set : std::filesystem::directory_iterator(testing::fixture_dir())) {
    if (!set.is_directory() || !set.path().filename().string().starts_with("torch")) continue;
    for (const auto& fx : std::filesystem::directory_iterator(set.path())) {
      const auto manifest_path = fx.path() / "manifest.json";
      if (!std::filesystem::exists(manifest_path) ||
          !std::filesystem::exists(fx.path() / "model.pt2")) {
        continue;
      }
      SCOPED_TRACE(fx.path().string());
      const auto manifest = nlohmann::json::parse(testing::read_bytes(manifest_path));
      Pt2Archive a(fx.path() / "model.pt2");
      ASSERT_EQ(a.model_names().size(), 1u);
      const std::string& model = a.model_names()[0];
      if (!manifest.contains("weights")) continue;
      for (const auto& [fqn, want] : manifest["weights"].items()) {
        SCOPED_TRACE(fqn);
        const WeightTensor* w = a.find_tensor(model, fqn);
        ASSERT_NE(w, nullptr);
        EXPECT_EQ(w->is_constant, want["source"] == "constants");
        EXPECT_EQ(ir::dtype_name(w->dtype), want["dtype"].get<std::string>());
        EXPECT_EQ(w->sizes, want["shape"].get<std::vector<int64_t>>());
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx",
                      static_cast<unsigned long long>(frontend::weight_fnv1a64(*w)));
        EXPECT_EQ(std::string(hex), want["fnv1a64"].get<std::string>());
        const double sum = want["sum"].get<double>();
        EXPECT_NEAR(frontend::weight_sum(*w), sum, 1e-9 * (1 + std::fabs(sum)));
        ++checked;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no fixture manifests under " << testing::fixture_dir();
}

TEST(ArchiveWeights, TiedWeightsShareStorage) {
  auto dir = fresh_temp_dir("weights");
  auto path = Pt2Builder()
                  .file("data/weights/weight_0", raw<float>({1, 2, 3, 4, 5, 6}))
                  .file("data/weights/weight_1", raw<float>({7}))
                  .weights({{"emb.weight", "weight_0", {2, 3}, {3, 1}},
                            {"other", "weight_1", {1}, {1}},
                            {"head.weight", "weight_0", {2, 3}, {3, 1}}})
                  .write(dir / "tied.pt2");
  Pt2Archive a(path);
  const auto& w = a.weights("model");
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].storage_id, w[2].storage_id);
  EXPECT_NE(w[0].storage_id, w[1].storage_id);
  EXPECT_EQ(w[0].storage.data(), w[2].storage.data());
}

TEST(ArchiveWeights, StridedAndOffsetViews) {
  auto dir = fresh_temp_dir("weights");
  // A [3, 4] storage; "t" is its transpose, "row" is row 1, "col" is column 2, "e" is empty.
  auto path = Pt2Builder()
                  .file("data/weights/weight_0", raw<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}))
                  .weights({{"t", "weight_0", {4, 3}, {1, 4}},
                            {"row", "weight_0", {4}, {1}, 7, 4},
                            {"col", "weight_0", {3}, {4}, 7, 2},
                            {"bcast", "weight_0", {2, 3}, {0, 1}, 7, 9},
                            {"e", "weight_0", {0, 5}, {5, 1}, 7, 100}})
                  .write(dir / "views.pt2");
  Pt2Archive a(path);
  auto get = [&](const char* fqn) { return *a.find_tensor("model", fqn); };
  const WeightTensor t = get("t");
  EXPECT_FALSE(t.is_contiguous());
  const std::string t_bytes = raw<float>({0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  EXPECT_EQ(as_string(frontend::contiguous_bytes(t)), t_bytes);
  EXPECT_EQ(frontend::weight_fnv1a64(t), fnv1a64(t_bytes));
  EXPECT_DOUBLE_EQ(frontend::weight_sum(t), 66.0);

  const WeightTensor row = get("row");
  EXPECT_TRUE(row.is_contiguous());
  EXPECT_EQ(as_string(frontend::contiguous_bytes(row)), raw<float>({4, 5, 6, 7}));
  EXPECT_DOUBLE_EQ(frontend::weight_sum(row), 22.0);

  EXPECT_EQ(as_string(frontend::contiguous_bytes(get("col"))), raw<float>({2, 6, 10}));
  EXPECT_EQ(as_string(frontend::contiguous_bytes(get("bcast"))),
            raw<float>({9, 10, 11, 9, 10, 11}));

  const WeightTensor e = get("e");
  EXPECT_EQ(e.numel(), 0);
  EXPECT_FALSE(e.zero_filled);
  EXPECT_TRUE(frontend::contiguous_bytes(e).empty());
  EXPECT_EQ(frontend::weight_fnv1a64(e), fnv1a64(""));
  EXPECT_EQ(frontend::weight_sum(e), 0.0);
}

TEST(ArchiveWeights, EmptyFileMeansZeros) {
  auto dir = fresh_temp_dir("weights");
  auto path = Pt2Builder()
                  .file("data/weights/weight_0", "")
                  .file("data/constants/tensor_0", "")
                  .weights({{"fake", "weight_0", {2, 3}, {3, 1}}})
                  .constants({{"empty", "tensor_0", {0}, {1}, 7, 0, false}})
                  .write(dir / "zeros.pt2");
  Pt2Archive a(path);
  const WeightTensor& w = a.weights("model")[0];
  EXPECT_TRUE(w.zero_filled);
  EXPECT_TRUE(w.storage.empty());
  EXPECT_EQ(as_string(frontend::contiguous_bytes(w)), std::string(24, '\0'));
  EXPECT_EQ(frontend::weight_fnv1a64(w), fnv1a64(std::string(24, '\0')));
  EXPECT_EQ(frontend::weight_sum(w), 0.0);
  const WeightTensor& c = a.constants("model")[0];
  EXPECT_TRUE(c.is_constant);
  EXPECT_FALSE(c.is_param);
  EXPECT_FALSE(c.zero_filled);  // numel 0: nothing to fill
  EXPECT_EQ(c.file, "archive/data/constants/tensor_0");
  EXPECT_NE(c.storage_id, w.storage_id);
}

TEST(ArchiveWeights, DtypesAndSums) {
  auto dir = fresh_temp_dir("weights");
  FakeTensor half{"half", "w_f16", {3}, {1}, 6};
  FakeTensor bf{"bf", "w_bf16", {2}, {1}, 13};
  FakeTensor dbl{"dbl", "w_f64", {2}, {1}, 8};
  FakeTensor i8{"i8", "w_i8", {3}, {1}, 2};
  FakeTensor u8{"u8", "w_u8", {2}, {1}, 1};
  FakeTensor i16{"i16", "w_i16", {2}, {1}, 3};
  FakeTensor u16{"u16", "w_u16", {1}, {1}, 28};
  FakeTensor i32{"i32", "w_i32", {2}, {1}, 4};
  FakeTensor i64{"i64", "w_i64", {2}, {1}, 5};
  FakeTensor b{"b", "w_b", {3}, {1}, 12};
  FakeTensor f8{"f8", "w_f8", {3}, {1}, 29};
  auto path =
      Pt2Builder()
          .file("data/weights/w_f16", raw<uint16_t>({0x3C00, 0xC000, 0x0001}))  // 1,-2,2^-24
          .file("data/weights/w_bf16", raw<uint16_t>({0x3F80, 0xC0A0}))         // 1, -5
          .file("data/weights/w_f64", raw<double>({0.25, 1e10}))
          .file("data/weights/w_i8", raw<int8_t>({-128, 5, 127}))
          .file("data/weights/w_u8", raw<uint8_t>({255, 1}))
          .file("data/weights/w_i16", raw<int16_t>({-300, 7}))
          .file("data/weights/w_u16", raw<uint16_t>({65535}))
          .file("data/weights/w_i32", raw<int32_t>({-70000, 3}))
          .file("data/weights/w_i64", raw<int64_t>({-(int64_t{1} << 40), 1}))
          .file("data/weights/w_b", raw<uint8_t>({1, 0, 1}))
          .file("data/weights/w_f8", raw<uint8_t>({0x38, 0x7E, 0xB8}))  // 1, 448, -1
          .weights({half, bf, dbl, i8, u8, i16, u16, i32, i64, b, f8})
          .write(dir / "dtypes.pt2");
  Pt2Archive a(path);
  auto sum = [&](const char* fqn) { return frontend::weight_sum(*a.find_tensor("model", fqn)); };
  EXPECT_EQ(a.find_tensor("model", "half")->dtype, DType::kFloat16);
  EXPECT_DOUBLE_EQ(sum("half"), -1.0 + std::ldexp(1.0, -24));
  EXPECT_DOUBLE_EQ(sum("bf"), -4.0);
  EXPECT_DOUBLE_EQ(sum("dbl"), 1e10 + 0.25);
  EXPECT_DOUBLE_EQ(sum("i8"), 4.0);
  EXPECT_DOUBLE_EQ(sum("u8"), 256.0);
  EXPECT_DOUBLE_EQ(sum("i16"), -293.0);
  EXPECT_DOUBLE_EQ(sum("u16"), 65535.0);
  EXPECT_DOUBLE_EQ(sum("i32"), -69997.0);
  EXPECT_DOUBLE_EQ(sum("i64"), -1099511627775.0);
  EXPECT_DOUBLE_EQ(sum("b"), 2.0);
  EXPECT_DOUBLE_EQ(sum("f8"), 448.0);
  EXPECT_EQ(a.find_tensor("model", "f8")->dtype, DType::kFloat8E4M3FN);
}

TEST(ArchiveWeights, NarrowFloatDecoders) {
  EXPECT_EQ(util::half_bits_to_double(0x3C00), 1.0);
  EXPECT_EQ(util::half_bits_to_double(0x7BFF), 65504.0);
  EXPECT_EQ(util::half_bits_to_double(0x0001), std::ldexp(1.0, -24));
  EXPECT_EQ(util::half_bits_to_double(0x8000), 0.0);
  EXPECT_TRUE(std::signbit(util::half_bits_to_double(0x8000)));
  EXPECT_EQ(util::half_bits_to_double(0xFC00), -INFINITY);
  EXPECT_TRUE(std::isnan(util::half_bits_to_double(0x7E00)));
  EXPECT_EQ(util::bfloat16_bits_to_double(0x3F80), 1.0);
  EXPECT_EQ(util::bfloat16_bits_to_double(0xC2F7), -123.5);
  EXPECT_EQ(util::bfloat16_bits_to_double(0x7F80), INFINITY);

  const auto float8_to_double = util::float8_bits_to_double;
  EXPECT_EQ(float8_to_double(DType::kFloat8E4M3FN, 0x7E), 448.0);
  EXPECT_EQ(float8_to_double(DType::kFloat8E4M3FN, 0x78), 256.0);  // exponent all ones: finite
  EXPECT_TRUE(std::isnan(float8_to_double(DType::kFloat8E4M3FN, 0x7F)));
  EXPECT_EQ(float8_to_double(DType::kFloat8E4M3FN, 0x01), std::ldexp(1.0, -9));
  EXPECT_EQ(float8_to_double(DType::kFloat8E5M2, 0x7B), 57344.0);
  EXPECT_EQ(float8_to_double(DType::kFloat8E5M2, 0xFC), -INFINITY);
  EXPECT_TRUE(std::isnan(float8_to_double(DType::kFloat8E5M2, 0x7D)));
  EXPECT_EQ(float8_to_double(DType::kFloat8E5M2, 0x01), std::ldexp(1.0, -16));
  EXPECT_EQ(float8_to_double(DType::kFloat8E4M3FNUZ, 0x7F), 240.0);
  EXPECT_TRUE(std::isnan(float8_to_double(DType::kFloat8E4M3FNUZ, 0x80)));
  EXPECT_EQ(float8_to_double(DType::kFloat8E4M3FNUZ, 0x40), 1.0);
  EXPECT_EQ(float8_to_double(DType::kFloat8E5M2FNUZ, 0x7F), 57344.0);
  EXPECT_EQ(float8_to_double(DType::kFloat8E5M2FNUZ, 0x40), 1.0);
  EXPECT_TRUE(std::isnan(float8_to_double(DType::kFloat8E5M2FNUZ, 0x80)));
}

// ---- Bad weights: each error names the archive, the FQN and what is wrong. ----

class ArchiveBadWeights : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::vector<FakeTensor>& tensors,
                              const std::string& weight0 = raw<float>({1, 2, 3, 4, 5, 6})) {
    return Pt2Builder()
        .file("data/weights/weight_0", weight0)
        .weights(tensors)
        .write(fresh_temp_dir("badweights") / "bad.pt2");
  }
};

TEST_F(ArchiveBadWeights, MissingFile) {
  auto p = write({{"lin.weight", "weight_7", {2}, {1}}});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "lin.weight", "archive/data/weights/weight_7",
                    "missing");
}

TEST_F(ArchiveBadWeights, ShorterThanConfig) {
  auto p = write({{"lin.weight", "weight_0", {3, 4}, {4, 1}}});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "lin.weight", "archive/data/weights/weight_0",
                    "holds 24 bytes", "needs 48 bytes");
}

TEST_F(ArchiveBadWeights, OffsetPastEnd) {
  FakeTensor t{"v", "weight_0", {2}, {1}};
  t.storage_offset = 5;
  auto p = write({t});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'v'", "needs 28 bytes", "storage_offset 5");
}

TEST_F(ArchiveBadWeights, SizeNotMultipleOfElement) {
  auto p = write({{"w", "weight_0", {1}, {1}}}, "abcdef");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'w'", "6 bytes", "not a multiple");
}

TEST_F(ArchiveBadWeights, PickledPayload) {
  FakeTensor t{"q.weight", "weight_0", {2}, {1}};
  t.use_pickle = true;
  auto p = write({t});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "q.weight", "pickled", "tensor subclass", "custom");
}

TEST_F(ArchiveBadWeights, UnknownDtype) {
  FakeTensor t{"w", "weight_0", {1}, {1}, 99};
  auto p = write({t});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'w'", "unknown dtype code 99");
}

TEST_F(ArchiveBadWeights, ComplexDtype) {
  FakeTensor t{"z", "weight_0", {1}, {1}, 10};
  auto p = write({t});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'z'", "not supported");
}

TEST_F(ArchiveBadWeights, NegativeStride) {
  auto p = write({{"w", "weight_0", {2}, {-1}}});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'w'", "negative stride");
}

TEST_F(ArchiveBadWeights, OverflowingGeometry) {
  auto p = write({{"w", "weight_0", {int64_t{1} << 40, int64_t{1} << 40}, {1, 1}}});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'w'", "overflow");
}

TEST_F(ArchiveBadWeights, RankMismatch) {
  auto p = write({{"w", "weight_0", {2, 3}, {1}}});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'w'", "differ in length");
}

TEST_F(ArchiveBadWeights, SparseLayout) {
  FakeTensor t{"sp", "weight_0", {2}, {1}};
  t.layout = 1;
  auto p = write({t});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'sp'", "not strided");
}

TEST_F(ArchiveBadWeights, SymbolicSize) {
  auto dir = fresh_temp_dir("badweights");
  auto p = Pt2Builder()
               .file("data/weights/weight_0", raw<float>({1}))
               .file("data/weights/model_weights_config.json",
                     R"({"config": {"w": {"path_name": "weight_0", "is_param": true,
                        "use_pickle": false, "tensor_meta": {"dtype": 7,
                        "sizes": [{"as_expr": {"expr_str": "s0"}}], "strides": [{"as_int": 1}],
                        "storage_offset": {"as_int": 0}, "layout": 7}}}})")
               .write(dir / "sym.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'w'", "symbolic");
}

TEST_F(ArchiveBadWeights, MalformedConfig) {
  auto dir = fresh_temp_dir("badweights");
  auto p1 =
      Pt2Builder().file("data/weights/model_weights_config.json", "{not json").write(dir / "a.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p1}, p1.string(), "model_weights_config.json", "not valid JSON");
  auto p2 = Pt2Builder().file("data/weights/model_weights_config.json", "[]").write(dir / "b.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p2}, p2.string(), "model_weights_config.json", "\"config\"");
  auto p3 = Pt2Builder()
                .file("data/weights/model_weights_config.json",
                      R"({"config": {"w": {"path_name": 3, "tensor_meta": {}}}})")
                .write(dir / "c.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p3}, p3.string(), "'w'", "path_name");
  auto p4 = Pt2Builder()
                .file("data/weights/weight_0", raw<float>({1}))
                .file("data/weights/model_weights_config.json",
                      R"({"config": {"w": {"path_name": "weight_0", "tensor_meta":
                         {"dtype": 7, "sizes": [{"as_int": "one"}], "strides": [{"as_int": 1}]}}}})")
                .write(dir / "d.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p4}, p4.string(), "'w'", "sizes is not an integer");
}

// The furthest element's index plus one overflowed for a storage_offset of INT64_MAX (found
// while fuzzing the archive reader).
TEST_F(ArchiveBadWeights, OffsetAtInt64Max) {
  FakeTensor t{"v", "weight_0", {}, {}};
  t.storage_offset = std::numeric_limits<int64_t>::max();
  auto p = write({t});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'v'", "too large",
                    "storage_offset 9223372036854775807");
  t.sizes = {3};
  t.strides = {2};
  t.storage_offset = std::numeric_limits<int64_t>::max() - 4;
  p = write({t});
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'v'", "too large");
}

// Printing a config value in an error message recursed once per nesting level (found while
// fuzzing the archive reader); nesting is refused before parsing.
TEST_F(ArchiveBadWeights, DeeplyNestedConfig) {
  auto dir = fresh_temp_dir("badweights");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto p = Pt2Builder()
               .file("data/weights/weight_0", raw<float>({1}))
               .file("data/weights/model_weights_config.json",
                     R"({"config": {"w": {"path_name": "weight_0", "tensor_meta": {"dtype": 7,
                        "sizes": [{"as_int": )" +
                         deep + R"(}], "strides": [{"as_int": 1}]}}}})")
               .write(dir / "deep.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "model_weights_config.json",
                    "nests deeper than 512 levels");
}

}  // namespace
}  // namespace kiln
