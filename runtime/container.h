#pragma once

// A container: one loaded model with its weights and constants, and a pool of runners that
// each own a scratch arena. kiln_run borrows a free runner (blocking while all are busy);
// kiln_update_constants borrows all of them. The C entry points in kiln_api.cpp are thin
// wrappers over this class.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aligned.h"
#include "kiln/kiln.h"
#include "model_interface.h"
#include "weights.h"

struct KilnContainer {
 public:
  // Loads `desc` (interface version, CPU, weights, constants) and sizes the runners' arenas.
  // Returns null with `err` set (KILN_ERROR_INVALID_ARGUMENT for bad options, else
  // KILN_ERROR_LOAD).
  static KilnContainer* create(const kiln::rt::ModelDesc* desc, const KilnOptions& options,
                               kiln::rt::ErrorSink* err);

  KilnContainer(const KilnContainer&) = delete;
  KilnContainer& operator=(const KilnContainer&) = delete;
  // Waits for runs still in flight.
  ~KilnContainer();

  bool run(const DLTensor* const* inputs, size_t num_inputs, DLTensor* const* outputs,
           DLManagedTensor** managed_outputs, size_t num_outputs, void* stream,
           kiln::rt::ErrorSink* err);

  bool output_shapes(const int64_t* const* input_shapes, size_t num_inputs,
                     int64_t* const* output_shapes, size_t num_outputs,
                     kiln::rt::ErrorSink* err) const;

  bool update_constants(const char* const* names, const DLTensor* const* values, size_t count,
                        kiln::rt::ErrorSink* err);

  const kiln::rt::ModelDesc& desc() const { return *desc_; }
  void constant_info(size_t index, KilnTensorInfo* info) const;

  // For tests and diagnostics: the arena size of each runner, and the intra-op thread total.
  std::vector<uint64_t> arena_sizes() const;
  int total_threads() const { return total_threads_; }
  // The extern routines' cached primitives and packed weights (extern_dnnl.h).
  const kiln::rt::ExternState* extern_state() const { return extern_state_.get(); }

 private:
  struct Runner {
    kiln::rt::AlignedBuffer arena;
    uint64_t arena_size = 0;
  };
  struct ConstantDims {
    std::vector<std::string> text;
    std::vector<const char*> text_ptrs;
  };

  explicit KilnContainer(const kiln::rt::ModelDesc* desc) : desc_(desc) {}
  bool load_constants(kiln::rt::ErrorSink* err);
  void size_arenas(int32_t num_runners);

  // Blocks until a runner is free; `busy` receives the number of busy runners, this one
  // included.
  int acquire(int* busy);
  void release(int runner);
  bool grow_arena(Runner& runner, uint64_t needed, kiln::rt::ErrorSink* err);

  const kiln::rt::ModelDesc* desc_;
  kiln::rt::WeightsBlob weights_;
  // Where each constant's data lives now: in the weights blob, or in owned_[i] once replaced
  // (or when the blob's copy is not 64-byte aligned).
  std::vector<void*> constant_ptrs_;
  std::vector<kiln::rt::AlignedBuffer> owned_;
  std::vector<ConstantDims> constant_dims_;
  std::unordered_map<std::string_view, int32_t> constant_index_;
  int total_threads_ = 1;
  struct ExternStateDeleter {
    void operator()(kiln::rt::ExternState* s) const;
  };
  // Shared by the runners; update_constants drops its packed weights.
  std::unique_ptr<kiln::rt::ExternState, ExternStateDeleter> extern_state_;

  std::vector<Runner> runners_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> free_;  // indices of idle runners
  int busy_ = 0;
  bool updating_ = false;  // an update holds (or waits for) every runner
  std::mutex update_mu_;   // serializes kiln_update_constants calls
};
