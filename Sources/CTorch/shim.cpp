// shim.cpp — implementation of ctorch.h over libtorch (ATen + autograd): library facts, handles,
// creation, random numbers, autograd and in-place updates. ops.cpp holds the tensor operations,
// errors.cpp the error channel, support.h what they share.
//
// Compiles against Debian's libtorch 1.13 (CPU) and PyTorch 2.x (CPU or CUDA): version differences
// sit behind `#if` on TORCH_VERSION_MAJOR. Only ATen and the autograd engine are included, never
// <torch/torch.h>, which costs ~20 s per translation unit.
#include "support.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/version.h>

#if defined(MT_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#endif

#include <malloc.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {

// --- errors, library facts -------------------------------------------------------------------

const char *mt_version(void) noexcept { return TORCH_VERSION; }

bool mt_cuda_available(void) noexcept {
#if defined(MT_WITH_CUDA)
  try {
    return at::cuda::is_available();
  } catch (...) {
    record_current_exception();
    return false;
  }
#else
  return false;
#endif
}

mt_status mt_cuda_device_count(int *out) noexcept {
  GUARD_I({
#if defined(MT_WITH_CUDA)
    *out_param(out) = static_cast<int>(at::cuda::device_count());
#else
    *out_param(out) = 0;
#endif
  })
}

mt_status mt_get_num_threads(int *out) noexcept { GUARD_I({ *out_param(out) = at::get_num_threads(); }) }
mt_status mt_set_num_threads(int n) noexcept { GUARD_I({ at::set_num_threads(n); }) }
// glibc serves allocations above M_MMAP_THRESHOLD (128 KiB, adapting up to 32 MiB) with fresh mmap()s and returns
// them at free(): a training step allocates and frees the same few hundred activation buffers (up to 64 MiB each)
// every step, and each one cost page faults on first touch again. Keeping them in the heap and not trimming it
// reuses the pages; the heap stays at the step's peak, which it reaches anyway.
mt_status mt_keep_freed_memory(size_t threshold) noexcept {
  GUARD_I({
    int bytes = threshold > static_cast<size_t>(INT32_MAX) ? INT32_MAX : static_cast<int>(threshold);
    if (mallopt(M_MMAP_THRESHOLD, bytes) != 1 || mallopt(M_TRIM_THRESHOLD, bytes) != 1) {
      throw Failure(MT_ERR_INTERNAL, "mallopt refused the thresholds");
    }
  })
}

bool mt_grad_enabled(void) noexcept { return at::GradMode::is_enabled(); }
void mt_set_grad_enabled(bool enabled) noexcept { at::GradMode::set_enabled(enabled); }

const char *mt_blas_info(void) noexcept {
  try {
    static const std::string info = at::show_config();
    return info.c_str();
  } catch (...) {
    record_current_exception();
    return nullptr;
  }
}

// --- lifetime and facts ------------------------------------------------------------------------

void mt_free(mt_tensor t) noexcept { delete t; }
mt_status mt_dim(mt_tensor h, int *out) noexcept { GUARD_I({ *out_param(out) = static_cast<int>(T(h).dim()); }) }
mt_status mt_size(mt_tensor h, int dim, int64_t *out) noexcept { GUARD_I({ *out_param(out) = T(h).size(dim); }) }
mt_status mt_numel(mt_tensor h, int64_t *out) noexcept { GUARD_I({ *out_param(out) = T(h).numel(); }) }
mt_status mt_dtype(mt_tensor h, int *out) noexcept { GUARD_I({ *out_param(out) = dtype_code(T(h).scalar_type()); }) }

mt_status mt_device(mt_tensor h, int *device, int *index) noexcept {
  GUARD_I({
    const at::Tensor &t = T(h);
    *out_param(device) = t.is_cuda() ? MT_CUDA : MT_CPU;
    *out_param(index) = t.is_cuda() ? t.device().index() : -1;
  })
}

mt_status mt_is_contiguous(mt_tensor h, bool *out) noexcept { GUARD_I({ *out_param(out) = T(h).is_contiguous(); }) }
mt_status mt_requires_grad(mt_tensor h, bool *out) noexcept { GUARD_I({ *out_param(out) = T(h).requires_grad(); }) }
mt_status mt_is_leaf(mt_tensor h, bool *out) noexcept { GUARD_I({ *out_param(out) = T(h).is_leaf(); }) }
mt_status mt_same_storage(mt_tensor a, mt_tensor b, bool *out) noexcept {
  GUARD_I({ *out_param(out) = T(a).is_same(T(b)); })
}

// --- creation ------------------------------------------------------------------------------------

mt_tensor mt_new(int fill, const int64_t *shape, int ndim, int dtype, int device) noexcept {
  GUARD_T({
    auto o = options(dtype, device);
    switch (fill) {
      case MT_FILL_ZEROS: return wrap(at::zeros(dims(shape, ndim), o));
      case MT_FILL_ONES: return wrap(at::ones(dims(shape, ndim), o));
      default: return wrap(at::empty(dims(shape, ndim), o));
    }
  })
}

mt_tensor mt_full(const int64_t *shape, int ndim, double value, int dtype, int device) noexcept {
  GUARD_T({ return wrap(at::full(dims(shape, ndim), value, options(dtype, device))); })
}

mt_tensor mt_arange(double start, double end, double step, int dtype, int device) noexcept {
  GUARD_T({ return wrap(at::arange(start, end, step, options(dtype, device))); })
}

mt_tensor mt_linspace(double start, double end, int64_t steps, int dtype, int device) noexcept {
  GUARD_T({ return wrap(at::linspace(start, end, steps, options(dtype, device))); })
}

mt_tensor mt_from_data(const void *data, const int64_t *shape, int ndim, int dtype) noexcept {
  GUARD_T({
    auto t = at::empty(dims(shape, ndim), options(dtype, MT_CPU));
    if (t.numel() > 0) std::memcpy(t.data_ptr(), data, t.nbytes());
    return wrap(t);
  })
}

mt_tensor mt_from_blob(void *data, const int64_t *shape, int ndim, int dtype, void *context,
                       void (*deleter)(void *context)) noexcept {
  GUARD_T({
    // The handle is allocated first: once the storage exists, its deleter owns `context`, and a
    // failure after that point would make Swift release it a second time.
    std::unique_ptr<mt_tensor_s> box(new mt_tensor_s{});
    box->t = at::from_blob(
        data, dims(shape, ndim), [context, deleter](void *) { if (deleter) deleter(context); },
        options(dtype, MT_CPU));
    return box.release();
  })
}

mt_status mt_copy_out(mt_tensor h, int dtype, void *out, size_t nbytes) noexcept {
  GUARD_I({
    at::NoGradGuard ng;
    auto t = T(h).detach().to(at::kCPU, scalar_type(dtype)).contiguous();
    if (t.nbytes() != nbytes)
      throw Failure(MT_ERR_SHAPE, "copy_out: buffer holds " + std::to_string(nbytes) + " bytes, tensor needs " +
                                  std::to_string(t.nbytes()));
    if (nbytes > 0) std::memcpy(out_param(out), t.data_ptr(), nbytes);
  })
}

mt_status mt_item(mt_tensor h, double *out) noexcept {
  GUARD_I({ *out_param(out) = T(h).item().toDouble(); })
}

char *mt_to_string(mt_tensor h) noexcept {
  try {
    std::ostringstream s;
    s << T(h);
    return strdup(s.str().c_str());
  } catch (...) {
    return strdup("<tensor>");
  }
}

void mt_free_string(char *s) noexcept { free(s); }

// --- random numbers -----------------------------------------------------------------------------

mt_generator mt_generator_new(uint64_t seed) noexcept {
  try {
    return new mt_generator_s{at::detail::createCPUGenerator(seed)};
  } catch (...) {
    record_current_exception();
    return nullptr;
  }
}

void mt_generator_free(mt_generator g) noexcept { delete g; }

mt_status mt_generator_set_seed(mt_generator g, uint64_t seed) noexcept {
  GUARD_I({
    std::lock_guard<std::mutex> lock(G(g).mutex());
    G(g).set_current_seed(seed);
  })
}

mt_status mt_generator_initial_seed(mt_generator g, uint64_t *out) noexcept {
  GUARD_I({ *out_param(out) = G(g).current_seed(); })
}

mt_tensor mt_generator_get_state(mt_generator g) noexcept {
  GUARD_T({
    std::lock_guard<std::mutex> lock(G(g).mutex());
    return wrap(G(g).get_state());
  })
}

mt_status mt_generator_set_state(mt_generator g, mt_tensor state) noexcept {
  GUARD_I({
    std::lock_guard<std::mutex> lock(G(g).mutex());
    G(g).set_state(T(state));
  })
}

mt_status mt_manual_seed(uint64_t seed) noexcept {
  GUARD_I({
    auto g = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(seed);
  })
}

mt_tensor mt_random(int kind, const int64_t *shape, int ndim, int dtype, int device, mt_generator g) noexcept {
  GUARD_T({
    // Noise is always drawn on CPU so that a seed means the same numbers on every device.
    auto o = options(dtype, MT_CPU);
    if (kind != MT_RAND_NORMAL && kind != MT_RAND_UNIFORM)
      throw Failure(MT_ERR_INTERNAL, "unknown random kind " + std::to_string(kind));
    at::Tensor t = kind == MT_RAND_NORMAL ? at::randn(dims(shape, ndim), gen(g), o)
                                          : at::rand(dims(shape, ndim), gen(g), o);
    if (device != MT_CPU) t = t.to(device_of(device));
    return wrap(t);
  })
}

mt_tensor mt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int device, mt_generator g) noexcept {
  GUARD_T({
    auto t = at::randint(low, high, dims(shape, ndim), gen(g), at::TensorOptions().dtype(at::kLong));
    if (device != MT_CPU) t = t.to(device_of(device));
    return wrap(t);
  })
}

mt_tensor mt_randperm(int64_t n, mt_generator g) noexcept {
  GUARD_T({ return wrap(at::randperm(n, gen(g), at::TensorOptions().dtype(at::kLong))); })
}

mt_tensor mt_bernoulli(mt_tensor probs, mt_generator g) noexcept {
  GUARD_T({ return wrap(at::bernoulli(T(probs), gen(g))); })
}

// --- conversion, copies ---------------------------------------------------------------------------

mt_tensor mt_to(mt_tensor h, int dtype, int device, int device_index) noexcept {
  GUARD_T({ return wrap(T(h).to(device_of(device, device_index), scalar_type(dtype))); })
}
mt_tensor mt_contiguous(mt_tensor h) noexcept { GUARD_T({ return wrap(T(h).contiguous()); }) }
mt_tensor mt_clone(mt_tensor h) noexcept { GUARD_T({ return wrap(T(h).clone()); }) }
mt_tensor mt_detach(mt_tensor h) noexcept { GUARD_T({ return wrap(T(h).detach()); }) }
mt_tensor mt_shallow_copy(mt_tensor h) noexcept { GUARD_T({ return wrap(T(h)); }) }

// --- autograd ---------------------------------------------------------------------------------------------

mt_status mt_set_requires_grad(mt_tensor h, bool flag) noexcept { GUARD_I({ T(h).set_requires_grad(flag); }) }

mt_status mt_grad(mt_tensor h, mt_tensor *out) noexcept {
  GUARD_I({
    *out_param(out) = nullptr;
    const at::Tensor &g = T(h).grad();
    if (g.defined()) *out = wrap(g);
  })
}

mt_status mt_zero_grad(mt_tensor h) noexcept { GUARD_I({ T(h).mutable_grad() = at::Tensor(); }) }
mt_status mt_set_grad(mt_tensor h, mt_tensor g) noexcept { GUARD_I({ T(h).mutable_grad() = T(g); }) }

mt_status mt_backward(mt_tensor h, mt_tensor grad, bool retain_graph) noexcept {
  GUARD_I({
    std::vector<at::Tensor> grads;
    if (grad != nullptr) grads.push_back(T(grad));
    torch::autograd::backward({T(h)}, grads, retain_graph, false);
  })
}

// --- in place -------------------------------------------------------------------------------------------------

mt_status mt_copy_(mt_tensor d, mt_tensor s) noexcept { GUARD_I({ T(d).copy_(T(s)); }) }
mt_status mt_zero_(mt_tensor t) noexcept { GUARD_I({ T(t).zero_(); }) }
mt_status mt_fill_(mt_tensor t, double v) noexcept { GUARD_I({ T(t).fill_(v); }) }
mt_status mt_add_(mt_tensor t, mt_tensor o, double alpha) noexcept { GUARD_I({ T(t).add_(T(o), alpha); }) }
mt_status mt_add_scalar_(mt_tensor t, double s) noexcept { GUARD_I({ T(t).add_(s); }) }
mt_status mt_mul_(mt_tensor t, mt_tensor o) noexcept { GUARD_I({ T(t).mul_(T(o)); }) }
mt_status mt_mul_scalar_(mt_tensor t, double s) noexcept { GUARD_I({ T(t).mul_(s); }) }
mt_status mt_div_(mt_tensor t, mt_tensor o) noexcept { GUARD_I({ T(t).div_(T(o)); }) }
mt_status mt_addcmul_(mt_tensor t, mt_tensor a, mt_tensor b, double v) noexcept { GUARD_I({ T(t).addcmul_(T(a), T(b), v); }) }
mt_status mt_addcdiv_(mt_tensor t, mt_tensor a, mt_tensor b, double v) noexcept { GUARD_I({ T(t).addcdiv_(T(a), T(b), v); }) }
mt_status mt_lerp_(mt_tensor t, mt_tensor e, double w) noexcept { GUARD_I({ T(t).lerp_(T(e), w); }) }
mt_status mt_clamp_(mt_tensor t, double lo, double hi) noexcept { GUARD_I({ T(t).clamp_(lo, hi); }) }
mt_status mt_uniform_(mt_tensor t, double lo, double hi, mt_generator g) noexcept { GUARD_I({ T(t).uniform_(lo, hi, gen(g)); }) }
mt_status mt_normal_(mt_tensor t, double mean, double std, mt_generator g) noexcept { GUARD_I({ T(t).normal_(mean, std, gen(g)); }) }

mt_status mt_trunc_normal_(mt_tensor t, double mean, double std, double lo, double hi, mt_generator g) noexcept {
  GUARD_I({
    // Same algorithm as torch.nn.init.trunc_normal_ (inverse CDF of a uniform draw).
    auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
    double l = cdf((lo - mean) / std), u = cdf((hi - mean) / std);
    at::NoGradGuard ng;
    T(t).uniform_(2 * l - 1, 2 * u - 1, gen(g));
    T(t).erfinv_();
    T(t).mul_(std * std::sqrt(2.0));
    T(t).add_(mean);
    T(t).clamp_(lo, hi);
  })
}

}  // extern "C"
