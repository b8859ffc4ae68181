// The zip container alone: open the archive, then read and CRC-check every entry and touch
// every byte the reader hands out, so an out-of-bounds span shows up under ASan.

#include <cstdint>

#include "frontend/zip_archive.h"
#include "fuzz_support.h"
#include "util/error.h"
#include "zip_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::MemFile file(data, size);
  try {
    kiln::frontend::ZipArchive zip(file.path());
    for (const kiln::frontend::ZipEntry& e : zip.entries()) {
      if (zip.find(e.name) == nullptr) kiln::fuzz::fail("entry not found by its own name", e.name);
      try {
        auto bytes = zip.read(e);
        if (bytes.size() != e.size) kiln::fuzz::fail("read() size != entry size", e.name);
        // Spans must lie inside the mapping; the checksum reads every byte.
        (void)kiln::frontend::crc32(bytes);
        zip.verify_crc(e);
        (void)zip.read_text(e.name);
      } catch (const kiln::Error&) {
        // compressed, encrypted or corrupt entries are refused one by one
      }
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return kiln::fuzz::mutate_zip(data, size, max_size, seed, /*raw_percent=*/60);
}
