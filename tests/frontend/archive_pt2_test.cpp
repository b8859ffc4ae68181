#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "archive_test_support.h"
#include "frontend/pt2_archive.h"

namespace kiln {
namespace {

using frontend::Pt2Archive;
using testing::fresh_temp_dir;
using testing::Pt2Builder;
using testing::raw;
using testing::read_bytes;
using testing::rebuild;
using testing::sample_path;
using testing::TinyZip;
using testing::write_bytes;

const char* const kFixture = "export_fixture_torch211.pt2";
const char* const kTiny = "tiny_conv_bn_ln_sdpa_torch211.pt2";

TEST(ArchivePt2, SamplesOpen) {
  for (const auto& [file, root] :
       {std::pair{kFixture, "export_fixture"}, std::pair{kTiny, "tiny_ep"}}) {
    SCOPED_TRACE(file);
    Pt2Archive a(sample_path(file));
    EXPECT_EQ(a.root(), root);
    ASSERT_EQ(a.model_names(), std::vector<std::string>{"model"});
    EXPECT_TRUE(a.has_model("model"));
    auto j = nlohmann::json::parse(a.model_json("model"));
    EXPECT_EQ(j["schema_version"]["major"], 8);
    EXPECT_TRUE(j.contains("graph_module"));
    EXPECT_TRUE(a.extra_files().empty());
  }
}

TEST(ArchivePt2, UnknownModelListsKnownOnes) {
  Pt2Archive a(sample_path(kFixture));
  EXPECT_KILN_ERROR(a.model_json("other"), "no model 'other'", "model");
  EXPECT_KILN_ERROR(a.weights("other"), "no model 'other'");
}

TEST(ArchivePt2, RootIsReadNotAssumed) {
  auto dir = fresh_temp_dir("pt2");
  Pt2Archive a(Pt2Builder().root("my_model").write(dir / "x.pt2"));
  EXPECT_EQ(a.root(), "my_model");
  EXPECT_EQ(a.model_json("model"), "{}");
}

TEST(ArchivePt2, MultipleModelsAndExtraFiles) {
  auto dir = fresh_temp_dir("pt2");
  auto path = Pt2Builder()
                  .file("models/zeta.json", "{\"z\": 1}")
                  .file("data/weights/weight_0", raw<float>({1, 2}))
                  .weights({{"p", "weight_0", {2}, {1}}}, "zeta")
                  .file("extra/module_info.json", "{\"info\": true}")
                  .file("extra/notes.txt", "hello")
                  .file("models/nested/skip.json", "{}")
                  .write(dir / "multi.pt2");
  Pt2Archive a(path);
  EXPECT_EQ(a.model_names(), (std::vector<std::string>{"model", "zeta"}));
  EXPECT_EQ(a.model_json("zeta"), "{\"z\": 1}");
  EXPECT_TRUE(a.weights("model").empty());
  ASSERT_EQ(a.weights("zeta").size(), 1u);
  EXPECT_NE(a.find_tensor("zeta", "p"), nullptr);
  EXPECT_EQ(a.find_tensor("model", "p"), nullptr);
  ASSERT_EQ(a.extra_files().size(), 2u);
  EXPECT_EQ(a.extra_files().at("module_info.json"), "{\"info\": true}");
  EXPECT_EQ(a.extra_files().at("notes.txt"), "hello");
}

TEST(ArchivePt2, OptionalRecordsDefault) {
  auto dir = fresh_temp_dir("pt2");
  // Missing archive_version means 0, missing byteorder means little; configs may be absent.
  Pt2Archive a(Pt2Builder()
                   .remove("archive_version")
                   .remove("byteorder")
                   .remove("data/weights/model_weights_config.json")
                   .remove("data/constants/model_constants_config.json")
                   .write(dir / "minimal.pt2"));
  EXPECT_TRUE(a.weights("model").empty());
  EXPECT_TRUE(a.constants("model").empty());
  // Trailing newlines in the records are tolerated.
  EXPECT_NO_THROW(Pt2Archive(Pt2Builder().file("archive_version", "0\n").write(dir / "nl.pt2")));
}

TEST(ArchivePt2, WrongArchiveFormat) {
  auto dir = fresh_temp_dir("pt2");
  auto p = Pt2Builder().file("archive_format", "pt3").write(dir / "fmt.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "archive/archive_format", "'pt3'", "'pt2'");
  auto q = Pt2Builder().remove("archive_format").write(dir / "nofmt.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{q}, q.string(), "archive/archive_format", "not a PT2 archive");
}

TEST(ArchivePt2, ArchiveVersionOne) {
  auto dir = fresh_temp_dir("pt2");
  auto p = Pt2Builder().file("archive_version", "1").write(dir / "v1.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "archive/archive_version", "'1'", "version 0");
}

TEST(ArchivePt2, BigEndian) {
  auto dir = fresh_temp_dir("pt2");
  auto p = Pt2Builder().file("byteorder", "big").write(dir / "big.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "archive/byteorder", "'big'", "little-endian");
}

TEST(ArchivePt2, RootPrefixMismatch) {
  auto dir = fresh_temp_dir("pt2");
  auto p = write_bytes(dir / "mixed.pt2",
                       rebuild(sample_path(kFixture), [](std::string& name, std::string&) {
                         if (name == "export_fixture/byteorder") name = "other/byteorder";
                         return true;
                       }));
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "other/byteorder", "export_fixture/");
  auto q =
      write_bytes(dir / "flat.pt2", TinyZip().add("archive_format", "pt2").add("x/y", "").bytes());
  EXPECT_KILN_ERROR(Pt2Archive{q}, q.string(), "'archive_format'", "root folder");
}

TEST(ArchivePt2, NoModels) {
  auto dir = fresh_temp_dir("pt2");
  auto p = Pt2Builder().remove("models/model.json").write(dir / "nomodel.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "archive/models/", "no exported program");
}

TEST(ArchivePt2, EmptyAndEntrylessFiles) {
  auto dir = fresh_temp_dir("pt2");
  auto p = write_bytes(dir / "empty.pt2", "");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "empty");
  auto q = write_bytes(dir / "noentries.pt2", TinyZip().bytes());
  EXPECT_KILN_ERROR(Pt2Archive{q}, q.string(), "no entries");
  EXPECT_KILN_ERROR(Pt2Archive{dir / "missing.pt2"}, (dir / "missing.pt2").string(),
                    "no such file");
}

TEST(ArchivePt2, CompressedWeight) {
  auto dir = fresh_temp_dir("pt2");
  // Re-write the sample with weight_1 marked deflate (the bytes stay as they are).
  frontend::ZipArchive src(sample_path(kFixture));
  TinyZip z;
  for (const auto& e : src.entries()) {
    z.add(e.name, testing::as_string(src.read(e)),
          e.name == "export_fixture/data/weights/weight_1" ? 8 : 0);
  }
  auto p = write_bytes(dir / "deflated.pt2", z.bytes());
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "export_fixture/data/weights/weight_1", "compressed",
                    "deflate");
}

TEST(ArchivePt2, MissingWeightFileInSample) {
  auto dir = fresh_temp_dir("pt2");
  auto p = write_bytes(dir / "noweight.pt2",
                       rebuild(sample_path(kFixture), [](std::string& name, std::string&) {
                         return name != "export_fixture/data/weights/weight_2";
                       }));
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'buf'", "export_fixture/data/weights/weight_2",
                    "missing");
}

TEST(ArchivePt2, ShortWeightInSample) {
  auto dir = fresh_temp_dir("pt2");
  auto p = write_bytes(dir / "short.pt2",
                       rebuild(sample_path(kFixture), [](std::string& name, std::string& data) {
                         if (name == "export_fixture/data/weights/weight_0") data.resize(40);
                         return true;
                       }));
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "'lin.weight'",
                    "export_fixture/data/weights/weight_0", "holds 40 bytes", "needs 48 bytes");
}

TEST(ArchivePt2, CorruptModelJsonFailsCrc) {
  auto dir = fresh_temp_dir("pt2");
  auto z = read_bytes(sample_path(kFixture));
  const size_t at = z.find("\"graph_module\"");
  ASSERT_NE(at, std::string::npos);
  z[at + 1] = 'G';
  auto p = write_bytes(dir / "crc.pt2", z);
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "export_fixture/models/model.json", "CRC-32");
}

TEST(ArchivePt2, Torch26Or27Layout) {
  auto dir = fresh_temp_dir("pt2");
  auto p = write_bytes(dir / "old.pt2", TinyZip(TinyZip::Style::kPlain)
                                            .add("version", "8.1")
                                            .add("serialized_exported_program.json", "{}")
                                            .add("serialized_state_dict.pt", "PK")
                                            .add("serialized_constants.pt", "PK")
                                            .bytes());
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "torch 2.6 or 2.7",
                    "serialized_exported_program.json", "re-export", "torch >= 2.9");
}

TEST(ArchivePt2, Torch28Layout) {
  auto dir = fresh_temp_dir("pt2");
  auto p = Pt2Builder()
               .remove("data/weights/model_weights_config.json")
               .remove("data/constants/model_constants_config.json")
               .file("data/weights/model.pt", "PK-pickled")
               .file("data/constants/model.pt", "PK-pickled")
               .write(dir / "t28.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "torch 2.8", "archive/data/weights/model.pt",
                    "torch >= 2.9");
}

TEST(ArchivePt2, AotInductorPackage) {
  auto dir = fresh_temp_dir("pt2");
  auto p = Pt2Builder()
               .remove("models/model.json")
               .remove("data/weights/model_weights_config.json")
               .remove("data/constants/model_constants_config.json")
               .file("data/aotinductor/model/abc.wrapper.so",
                     "\x7f"
                     "ELF")
               .file("data/aotinductor/model/abc.wrapper_metadata.json", "{}")
               .write(dir / "aoti.pt2");
  EXPECT_KILN_ERROR(Pt2Archive{p}, p.string(), "AOTInductor package", "torch.export.save");
  // 2.6/2.7 packages: no root folder.
  auto q = write_bytes(dir / "aoti_old.pt2", TinyZip(TinyZip::Style::kPlain)
                                                 .add("archive_format", "pt2")
                                                 .add("version", "0")
                                                 .add("data/aotinductor/model/abc.so", "ELF")
                                                 .bytes());
  EXPECT_KILN_ERROR(Pt2Archive{q}, q.string(), "AOTInductor package");
}

// Every truncation of the real sample fails cleanly at the archive level too.
TEST(ArchivePt2, TruncatedSampleSweep) {
  auto dir = fresh_temp_dir("pt2");
  const auto z = read_bytes(sample_path(kTiny));
  const auto path = dir / "cut.pt2";
  for (size_t len = 0; len < z.size(); len += (len > z.size() - 300 ? 1 : 61)) {
    write_bytes(path, std::string_view(z).substr(0, len));
    const std::string msg = testing::error_of([&] { Pt2Archive a(path); });
    ASSERT_TRUE(testing::contains(msg, path.string())) << "length " << len << ": " << msg;
  }
}

// Random byte corruption anywhere in a real archive: it still opens (a weight's bytes changed),
// or a kiln::Error names the file. Nothing else escapes.
TEST(ArchivePt2, RandomCorruptionAnywhere) {
  auto dir = fresh_temp_dir("pt2");
  const auto z = read_bytes(sample_path(kFixture));
  const auto path = dir / "fuzz.pt2";
  std::mt19937 rng(99);
  int opened = 0;
  for (int iter = 0; iter < 800; ++iter) {
    auto m = z;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k)
      m[rng() % z.size()] = static_cast<char>(rng());
    write_bytes(path, m);
    try {
      Pt2Archive a(path);
      for (const auto& w : a.weights("model"))
        (void)frontend::weight_fnv1a64(w);
      ++opened;
    } catch (const Error& e) {
      ASSERT_TRUE(testing::contains(e.what(), path.string())) << e.what();
    }
  }
  EXPECT_GT(opened, 0);  // flips in padding and weight bytes are harmless
}

}  // namespace
}  // namespace kiln
