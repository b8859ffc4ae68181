#include "container.h"

#include <sched.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <new>
#include <thread>

#include "checks.h"
#include "cpu_features.h"
#include "extern_dnnl.h"
#include "small_buffer.h"

using kiln::rt::ErrorSink;
using kiln::rt::fail;
using kiln::rt::SmallBuffer;

namespace {

// Cores this process may run on (its affinity mask, which follows taskset and cgroups).
int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

const char* plural(int64_t n) {
  return n == 1 ? "" : "s";
}

// Frees the outputs kiln allocated in a run that then failed.
struct OutputGuard {
  DLManagedTensor** items = nullptr;
  size_t count = 0;
  bool committed = false;
  ~OutputGuard() {
    if (committed || items == nullptr) return;
    for (size_t j = 0; j < count; ++j) {
      if (items[j] != nullptr && items[j]->deleter != nullptr) items[j]->deleter(items[j]);
      items[j] = nullptr;
    }
  }
};

void delete_output(DLManagedTensor* self) {
  if (self == nullptr) return;
  std::free(self->dl_tensor.data);
  std::free(self);  // the shape array lives in the same block
}

// One block for the DLManagedTensor and its shape, and a 64-byte aligned block for the data.
DLManagedTensor* allocate_output(const kiln::rt::TensorInfo& info, const int64_t* shape,
                                 int32_t index, ErrorSink* err) {
  int64_t numel = 0;
  uint64_t nbytes = 0;
  if (!kiln::rt::checked_numel(shape, info.ndim, &numel) ||
      __builtin_mul_overflow(static_cast<uint64_t>(numel), kiln::rt::element_bytes(info.dtype),
                             &nbytes)) {
    return fail(err, KILN_ERROR_RUNTIME, "output '%s' (#%d) is too large to allocate", info.name,
                static_cast<int>(index)),
           nullptr;
  }
  const size_t header = sizeof(DLManagedTensor) + sizeof(int64_t) * static_cast<size_t>(info.ndim);
  auto* managed = static_cast<DLManagedTensor*>(std::malloc(header));
  uint8_t* data = kiln::rt::aligned_alloc_bytes(nbytes);
  if (managed == nullptr || data == nullptr) {
    std::free(managed);
    std::free(data);
    return fail(err, KILN_ERROR_RUNTIME,
                "out of memory allocating output '%s' (#%d) of %" PRIu64 " bytes", info.name,
                static_cast<int>(index), nbytes),
           nullptr;
  }
  auto* dims =
      reinterpret_cast<int64_t*>(reinterpret_cast<uint8_t*>(managed) + sizeof(DLManagedTensor));
  std::memcpy(dims, shape, sizeof(int64_t) * static_cast<size_t>(info.ndim));
  managed->dl_tensor.data = data;
  managed->dl_tensor.device = DLDevice{kDLCPU, 0};
  managed->dl_tensor.ndim = info.ndim;
  managed->dl_tensor.dtype = info.dtype;
  managed->dl_tensor.shape = dims;
  managed->dl_tensor.strides = nullptr;
  managed->dl_tensor.byte_offset = 0;
  managed->manager_ctx = nullptr;
  managed->deleter = delete_output;
  return managed;
}

}  // namespace

KilnContainer* KilnContainer::create(const kiln::rt::ModelDesc* desc, const KilnOptions& options,
                                     ErrorSink* err) {
  if (options.num_runners < 1) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                "kiln_container_create: num_runners is %d, must be at least 1",
                static_cast<int>(options.num_runners)),
           nullptr;
  }
  if (options.num_threads < 0) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                "kiln_container_create: num_threads is %d, must be 0 (all cores) or more",
                static_cast<int>(options.num_threads)),
           nullptr;
  }
  if (options.device != nullptr && std::strcmp(options.device, "cpu") != 0) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                "kiln_container_create: device '%s' is not available; this model was compiled "
                "for the CPU (device \"cpu\")",
                options.device),
           nullptr;
  }
  if (desc == nullptr) {
    return fail(err, KILN_ERROR_LOAD, "the library holds no model description"), nullptr;
  }
  if (desc->interface_version != kiln::rt::kModelInterfaceVersion) {
    return fail(err, KILN_ERROR_LOAD,
                "model '%s' was generated for runtime interface version %u, but this runtime "
                "implements version %u; recompile the model with this kiln",
                desc->model_name ? desc->model_name : "?",
                static_cast<unsigned>(desc->interface_version),
                static_cast<unsigned>(kiln::rt::kModelInterfaceVersion)),
           nullptr;
  }
  if (!kiln::rt::check_target_cpu(desc->target_cpu, err)) return nullptr;

  std::unique_ptr<KilnContainer> c(new KilnContainer(desc));
  if (!c->weights_.load(*desc, options.weights_path, err)) return nullptr;
  if (!c->load_constants(err)) return nullptr;
  c->total_threads_ = options.num_threads > 0 ? options.num_threads : available_cores();
  c->extern_state_.reset(kiln::rt::extern_state_create());
  if (!c->extern_state_) {
    return fail(err, KILN_ERROR_LOAD, "out of memory creating the container"), nullptr;
  }
  c->size_arenas(options.num_runners);
  return c.release();
}

KilnContainer::~KilnContainer() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return busy_ == 0 && !updating_; });
}

void KilnContainer::ExternStateDeleter::operator()(kiln::rt::ExternState* s) const {
  kiln::rt::extern_state_destroy(s);
}

bool KilnContainer::load_constants(ErrorSink* err) {
  const auto n = static_cast<size_t>(std::max(desc_->num_constants, 0));
  constant_ptrs_.assign(n, nullptr);
  owned_.resize(n);
  constant_dims_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const kiln::rt::ConstantInfo& c = desc_->constants[i];
    const char* name = c.name != nullptr ? c.name : "?";
    if (c.ndim < 0 || (c.ndim > 0 && c.shape == nullptr)) {
      return fail(err, KILN_ERROR_LOAD, "constant '%s' has no valid shape in the model", name);
    }
    int64_t numel = 0;
    uint64_t expected = 0;
    if (!kiln::rt::checked_numel(c.shape, c.ndim, &numel) ||
        __builtin_mul_overflow(static_cast<uint64_t>(numel), kiln::rt::element_bytes(c.dtype),
                               &expected) ||
        expected != c.nbytes) {
      return fail(err, KILN_ERROR_LOAD,
                  "constant '%s' records %" PRIu64
                  " bytes, which does not match its dtype and "
                  "shape",
                  name, c.nbytes);
    }
    if (c.offset > weights_.size() || c.nbytes > weights_.size() - c.offset) {
      return fail(err, KILN_ERROR_LOAD,
                  "constant '%s' (%" PRIu64 " bytes at offset %" PRIu64
                  ") lies outside the weights (%" PRIu64 " bytes)",
                  name, c.nbytes, c.offset, weights_.size());
    }
    const uint8_t* p = c.nbytes > 0 ? weights_.data() + c.offset : nullptr;
    if (p == nullptr || reinterpret_cast<uintptr_t>(p) % kiln::rt::kAlignment != 0) {
      // Kernels may assume aligned constants; a misplaced one is copied once.
      owned_[i] = kiln::rt::make_aligned(c.nbytes);
      if (!owned_[i]) {
        return fail(err, KILN_ERROR_LOAD, "out of memory copying constant '%s'", name);
      }
      if (c.nbytes > 0) std::memcpy(owned_[i].get(), p, c.nbytes);
      constant_ptrs_[i] = owned_[i].get();
    } else {
      constant_ptrs_[i] = const_cast<uint8_t*>(p);  // read through RunContext only
    }
    ConstantDims& dims = constant_dims_[i];
    for (int32_t d = 0; d < c.ndim; ++d)
      dims.text.push_back(std::to_string(c.shape[d]));
    for (const std::string& t : dims.text)
      dims.text_ptrs.push_back(t.c_str());
    if (!constant_index_.emplace(name, static_cast<int32_t>(i)).second) {
      return fail(err, KILN_ERROR_LOAD, "the model names two constants '%s'", name);
    }
  }
  return true;
}

void KilnContainer::size_arenas(int32_t num_runners) {
  runners_.resize(static_cast<size_t>(num_runners));
  for (int i = num_runners - 1; i >= 0; --i)
    free_.push_back(i);
  // With every symbol bounded, the arena at the symbols' maxima covers every legal run, so a
  // run never allocates. With an unbounded symbol, start at the smallest sizes and grow.
  const auto ns = static_cast<size_t>(std::max(desc_->num_symbols, 0));
  SmallBuffer<int64_t, 32> symbols(std::max<size_t>(ns, 1));
  for (size_t s = 0; s < ns; ++s) {
    const kiln::rt::SymbolInfo& info = desc_->symbols[s];
    symbols[s] = info.max >= 0 ? info.max : info.min;
  }
  const uint64_t bytes = desc_->arena_bytes(symbols.data());
  for (Runner& r : runners_) {
    r.arena = kiln::rt::make_aligned(bytes);
    // Too large to reserve up front (huge ranges): runs grow the arena to what they need.
    r.arena_size = r.arena ? bytes : 0;
  }
}

std::vector<uint64_t> KilnContainer::arena_sizes() const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> sizes;
  for (const Runner& r : runners_)
    sizes.push_back(r.arena_size);
  return sizes;
}

int KilnContainer::acquire(int* busy) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !updating_ && !free_.empty(); });
  const int r = free_.back();
  free_.pop_back();
  *busy = ++busy_;
  return r;
}

void KilnContainer::release(int runner) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(runner);
    --busy_;
  }
  cv_.notify_all();
}

bool KilnContainer::grow_arena(Runner& runner, uint64_t needed, ErrorSink* err) {
  // Grow by half again at least, so a slowly rising size does not reallocate every run.
  uint64_t target = std::max(needed, runner.arena_size + runner.arena_size / 2);
  kiln::rt::AlignedBuffer arena = kiln::rt::make_aligned(target);
  if (!arena && target != needed) {
    target = needed;
    arena = kiln::rt::make_aligned(target);
  }
  if (!arena) {
    return fail(err, KILN_ERROR_RUNTIME,
                "out of memory: this run needs a scratch arena of %" PRIu64 " bytes", needed);
  }
  runner.arena = std::move(arena);
  runner.arena_size = target;
  return true;
}

bool KilnContainer::run(const DLTensor* const* inputs, size_t num_inputs, DLTensor* const* outputs,
                        DLManagedTensor** managed, size_t num_outputs, void* stream,
                        ErrorSink* err) {
  const kiln::rt::ModelDesc& d = *desc_;
  const auto n_in = static_cast<size_t>(d.num_inputs);
  const auto n_out = static_cast<size_t>(d.num_outputs);
  if (inputs == nullptr && n_in > 0) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_run: inputs is NULL");
  }
  if (num_inputs != n_in) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_run: expected %zu input%s, got %zu", n_in,
                plural(static_cast<int64_t>(n_in)), num_inputs);
  }
  if (num_outputs != n_out) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_run: expected %zu output%s, got %zu", n_out,
                plural(static_cast<int64_t>(n_out)), num_outputs);
  }
  if (outputs != nullptr && managed != nullptr) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                "kiln_run: pass either outputs (caller-provided) or managed_outputs (allocated "
                "by kiln), not both");
  }
  if (outputs == nullptr && managed == nullptr && n_out > 0) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                "kiln_run: outputs and managed_outputs are both NULL; pass one of them");
  }
  if (managed != nullptr) std::fill(managed, managed + n_out, nullptr);
  if (stream != nullptr) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_run: stream must be NULL for a CPU model");
  }

  const auto ns = static_cast<size_t>(std::max(d.num_symbols, 0));
  SmallBuffer<int64_t, 32> symbols(std::max<size_t>(ns, 1));
  std::fill(symbols.data(), symbols.data() + symbols.size(), INT64_MIN);
  for (size_t i = 0; i < n_in; ++i) {
    // Caught here too, so a null tensor never reaches generated code.
    if (inputs[i] == nullptr) {
      return kiln::rt::check_tensor(nullptr, static_cast<int32_t>(i), d.inputs[i], err);
    }
  }
  if (!d.bind_inputs(inputs, symbols.data(), err)) {
    if (err->status == 0) err->status = KILN_ERROR_BAD_INPUT;
    return false;
  }
  for (size_t s = 0; s < ns; ++s) {
    if (symbols[s] == INT64_MIN) {
      return fail(err, KILN_ERROR_RUNTIME, "the model left symbol %s unbound by its inputs",
                  d.symbols[s].name);
    }
  }

  // Output shapes, in one table.
  size_t total_dims = 0;
  for (size_t j = 0; j < n_out; ++j)
    total_dims += static_cast<size_t>(d.outputs[j].ndim);
  SmallBuffer<int64_t, 64> dims(std::max<size_t>(total_dims, 1));
  SmallBuffer<int64_t*, 16> shapes(std::max<size_t>(n_out, 1));
  for (size_t j = 0, at = 0; j < n_out; at += static_cast<size_t>(d.outputs[j].ndim), ++j) {
    shapes[j] = dims.data() + at;
  }
  if (n_out > 0) d.output_shapes(symbols.data(), shapes.data());

  SmallBuffer<void*, 16> out_ptrs(std::max<size_t>(n_out, 1));
  OutputGuard guard;
  if (outputs != nullptr) {
    for (size_t j = 0; j < n_out; ++j) {
      const kiln::rt::TensorInfo& info = d.outputs[j];
      const kiln::rt::Subject subject{"output", info.name, static_cast<int32_t>(j)};
      const DLTensor* t = outputs[j];
      if (!kiln::rt::check_tensor_as(t, subject, info.dtype, info.ndim, KILN_ERROR_BAD_INPUT,
                                     err)) {
        return false;
      }
      for (int32_t k = 0; k < info.ndim; ++k) {
        const char* text = info.dims != nullptr ? info.dims[k] : nullptr;
        if (!kiln::rt::check_dim_as(subject, k, t->shape[k], shapes[j][k], text,
                                    KILN_ERROR_BAD_INPUT, err)) {
          return false;
        }
      }
      out_ptrs[j] = static_cast<uint8_t*>(t->data) + t->byte_offset;
    }
  } else {
    guard.items = managed;
    guard.count = n_out;
    for (size_t j = 0; j < n_out; ++j) {
      managed[j] = allocate_output(d.outputs[j], shapes[j], static_cast<int32_t>(j), err);
      if (managed[j] == nullptr) return false;
      out_ptrs[j] = managed[j]->dl_tensor.data;
    }
  }

  SmallBuffer<void*, 16> in_ptrs(std::max<size_t>(n_in, 1));
  for (size_t i = 0; i < n_in; ++i) {
    // Inputs are only read; RunContext shares one pointer type for inputs and outputs.
    in_ptrs[i] = static_cast<uint8_t*>(inputs[i]->data) + inputs[i]->byte_offset;
  }

  int busy = 0;
  const int index = acquire(&busy);
  struct Lease {
    KilnContainer* self;
    int index;
    ~Lease() { self->release(index); }
  } lease{this, index};
  Runner& runner = runners_[static_cast<size_t>(index)];
  const uint64_t needed = d.arena_bytes(symbols.data());
  if (needed > runner.arena_size && !grow_arena(runner, needed, err)) return false;

  const kiln::rt::RunContext ctx{in_ptrs.data(),
                                 out_ptrs.data(),
                                 constant_ptrs_.data(),
                                 runner.arena.get(),
                                 symbols.data(),
                                 std::max(1, total_threads_ / busy),
                                 err,
                                 extern_state_.get()};
  if (!d.run(ctx)) {
    if (err->status == 0) err->status = KILN_ERROR_RUNTIME;
    return false;
  }
  guard.committed = true;
  return true;
}

bool KilnContainer::output_shapes(const int64_t* const* input_shapes, size_t num_inputs,
                                  int64_t* const* output_shapes, size_t num_outputs,
                                  ErrorSink* err) const {
  const kiln::rt::ModelDesc& d = *desc_;
  const auto n_in = static_cast<size_t>(d.num_inputs);
  const auto n_out = static_cast<size_t>(d.num_outputs);
  if (input_shapes == nullptr && n_in > 0) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_output_shapes: input_shapes is NULL");
  }
  if (output_shapes == nullptr && n_out > 0) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_output_shapes: output_shapes is NULL");
  }
  if (num_inputs != n_in) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                "kiln_output_shapes: expected %zu input%s, got %zu", n_in,
                plural(static_cast<int64_t>(n_in)), num_inputs);
  }
  if (num_outputs != n_out) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                "kiln_output_shapes: expected %zu output%s, got %zu", n_out,
                plural(static_cast<int64_t>(n_out)), num_outputs);
  }
  for (size_t i = 0; i < n_in; ++i) {
    const kiln::rt::TensorInfo& info = d.inputs[i];
    if (info.ndim > 0 && input_shapes[i] == nullptr) {
      return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_output_shapes: input_shapes[%zu] (input '%s') is NULL", i, info.name);
    }
    for (int32_t k = 0; k < info.ndim; ++k) {
      if (input_shapes[i][k] < 0) {
        return fail(err, KILN_ERROR_BAD_INPUT, "input '%s' (#%zu): dim %d is %" PRId64 ", negative",
                    info.name, i, static_cast<int>(k), input_shapes[i][k]);
      }
    }
  }
  for (size_t j = 0; j < n_out; ++j) {
    if (d.outputs[j].ndim > 0 && output_shapes[j] == nullptr) {
      return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_output_shapes: output_shapes[%zu] (output '%s') is NULL", j,
                  d.outputs[j].name);
    }
  }
  const auto ns = static_cast<size_t>(std::max(d.num_symbols, 0));
  SmallBuffer<int64_t, 32> symbols(std::max<size_t>(ns, 1));
  std::fill(symbols.data(), symbols.data() + symbols.size(), INT64_MIN);
  if (!d.bind_shapes(input_shapes, symbols.data(), err)) {
    if (err->status == 0) err->status = KILN_ERROR_BAD_INPUT;
    return false;
  }
  if (n_out > 0) d.output_shapes(symbols.data(), output_shapes);
  return true;
}

bool KilnContainer::update_constants(const char* const* names, const DLTensor* const* values,
                                     size_t count, ErrorSink* err) {
  if (count == 0) return true;
  if (names == nullptr) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_update_constants: names is NULL");
  }
  if (values == nullptr) {
    return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_update_constants: values is NULL");
  }
  // One update at a time: the checks below read owned_, which only updates write.
  std::lock_guard update_lock(update_mu_);
  // Check everything and allocate every new buffer first: from then on nothing can fail, so
  // either all updates apply or none.
  std::vector<int32_t> targets(count);
  std::vector<kiln::rt::AlignedBuffer> fresh(count);
  std::vector<bool> seen(constant_ptrs_.size(), false);
  for (size_t k = 0; k < count; ++k) {
    if (names[k] == nullptr) {
      return fail(err, KILN_ERROR_INVALID_ARGUMENT, "kiln_update_constants: names[%zu] is NULL", k);
    }
    const auto it = constant_index_.find(names[k]);
    if (it == constant_index_.end()) {
      return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_update_constants: the model has no constant '%s'", names[k]);
    }
    const int32_t i = it->second;
    if (seen[static_cast<size_t>(i)]) {
      return fail(err, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_update_constants: constant '%s' is given twice", names[k]);
    }
    seen[static_cast<size_t>(i)] = true;
    const kiln::rt::ConstantInfo& c = desc_->constants[i];
    const kiln::rt::Subject subject{"constant", c.name, -1};
    const DLTensor* t = values[k];
    if (!kiln::rt::check_tensor_as(t, subject, c.dtype, c.ndim, KILN_ERROR_BAD_INPUT, err)) {
      return false;
    }
    for (int32_t dim = 0; dim < c.ndim; ++dim) {
      if (!kiln::rt::check_dim_as(subject, dim, t->shape[dim], c.shape[dim], nullptr,
                                  KILN_ERROR_BAD_INPUT, err)) {
        return false;
      }
    }
    targets[k] = i;
    if (!owned_[static_cast<size_t>(i)]) {
      fresh[k] = kiln::rt::make_aligned(c.nbytes);
      if (!fresh[k]) {
        return fail(err, KILN_ERROR_RUNTIME, "out of memory replacing constant '%s'", c.name);
      }
    }
  }

  std::unique_lock lock(mu_);
  updating_ = true;  // new runs wait from here on, so the update cannot starve
  cv_.wait(lock, [&] { return busy_ == 0; });
  lock.unlock();
  for (size_t k = 0; k < count; ++k) {
    const auto i = static_cast<size_t>(targets[k]);
    if (fresh[k]) owned_[i] = std::move(fresh[k]);
    const DLTensor* t = values[k];
    const uint64_t nbytes = desc_->constants[i].nbytes;
    if (nbytes > 0) {
      // memmove: the caller may pass the constant's current storage back in.
      std::memmove(owned_[i].get(), static_cast<const uint8_t*>(t->data) + t->byte_offset, nbytes);
    }
    constant_ptrs_[i] = owned_[i].get();
  }
  // Packed copies of the old weights are stale now (a replaced constant may keep its address).
  kiln::rt::extern_state_constants_changed(extern_state_.get());
  lock.lock();
  updating_ = false;
  lock.unlock();
  cv_.notify_all();
  return true;
}

void KilnContainer::constant_info(size_t index, KilnTensorInfo* info) const {
  const kiln::rt::ConstantInfo& c = desc_->constants[index];
  info->name = c.name;
  info->dtype = c.dtype;
  info->ndim = c.ndim;
  info->dims = constant_dims_[index].text_ptrs.data();
  info->dim_min = c.shape;
  info->dim_max = c.shape;
}
