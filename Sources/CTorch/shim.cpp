// shim.cpp — implementation of ctorch.h over libtorch (ATen + autograd).
//
// Compiles against Debian's libtorch 1.13 (CPU) and PyTorch 2.x (CPU or CUDA): version differences
// sit behind `#if` on TORCH_VERSION_MAJOR. Only ATen and the autograd engine are included, never
// <torch/torch.h>, which costs ~20 s per translation unit.
#include "ctorch.h"

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

#include <cctype>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

struct mt_tensor_s {
  at::Tensor t;
};
struct mt_generator_s {
  at::Generator g;
};

namespace {

// A failure the shim itself detects, with the category it belongs to.
struct Failure : std::runtime_error {
  mt_status status;
  Failure(mt_status s, const std::string &message) : std::runtime_error(message), status(s) {}
};

thread_local mt_status last_status = MT_OK;
thread_local std::string last_error;

bool mentions(const std::string &lower, std::initializer_list<const char *> phrases) {
  for (const char *p : phrases)
    if (lower.find(p) != std::string::npos) return true;
  return false;
}

// Most of libtorch's checks (TORCH_CHECK) throw a plain c10::Error, whatever went wrong: the only
// hint of the kind of failure is the message. The phrases below are the ones libtorch 1.13 and 2.x
// use; the order matters ("CUDA out of memory" is an allocation failure first).
mt_status classify(const std::string &message) {
  std::string m = message;
  for (auto &c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (mentions(m, {"out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory"}))
    return MT_ERR_OUT_OF_MEMORY;
  if (mentions(m, {"cuda", "cudnn", "cublas", "device"})) return MT_ERR_DEVICE;
  if (mentions(m, {"dtype", "scalar type", "result type", "floating point", "not implemented for '",
                   "can't be cast", "boolean tensor"}))
    return MT_ERR_DTYPE;
  if (mentions(m, {"shape", "size", "dimension", "dims", "index", "out of range", "must match", "channels",
                   "divisible", "elements", "broadcast", "stride", "scalar outputs"}))
    return MT_ERR_SHAPE;
  return MT_ERR_INTERNAL;
}

// Turns the exception in flight into this thread's (status, message). Called only from a catch
// block; typed exceptions decide the category before the message does.
mt_status record_current_exception() noexcept {
  mt_status status = MT_ERR_INTERNAL;
  std::string message;
  try {
    try {
      throw;
    } catch (const Failure &e) {
      status = e.status;
      message = e.what();
    } catch (const c10::OutOfMemoryError &e) {
      status = MT_ERR_OUT_OF_MEMORY;
      message = e.what_without_backtrace();
    } catch (const c10::IndexError &e) {
      status = MT_ERR_SHAPE;
      message = e.what_without_backtrace();
    } catch (const c10::ValueError &e) {
      status = MT_ERR_SHAPE;
      message = e.what_without_backtrace();
    } catch (const c10::TypeError &e) {
      status = MT_ERR_DTYPE;
      message = e.what_without_backtrace();
    } catch (const c10::Error &e) {
      message = e.what_without_backtrace();
      status = classify(message);
    } catch (const std::bad_alloc &) {
      status = MT_ERR_OUT_OF_MEMORY;
      message = "out of memory (std::bad_alloc)";
    } catch (const std::exception &e) {
      message = e.what();
      status = classify(message);
    } catch (...) {
      message = "unknown C++ exception";
    }
  } catch (...) {
    // Copying the message failed, which in practice means memory is exhausted.
    status = MT_ERR_OUT_OF_MEMORY;
    message.clear();
  }
  last_status = status;
  last_error.swap(message);
  return status;
}

std::string dtype_name(at::ScalarType s) {
  return c10::toString(s);
}

int dtype_code(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return MT_F32;
    case at::kHalf: return MT_F16;
    case at::kBFloat16: return MT_BF16;
    case at::kLong: return MT_I64;
    case at::kBool: return MT_BOOL;
    case at::kDouble: return MT_F64;
    case at::kByte: return MT_U8;
    case at::kInt: return MT_I32;
    default: throw Failure(MT_ERR_DTYPE, std::string("dtype ") + dtype_name(s) + " has no engine code");
  }
}

// Every tensor handed to Swift has a dtype Swift can name, so `Tensor.dtype` never meets an
// unknown code.
mt_tensor wrap(at::Tensor t) {
  (void)dtype_code(t.scalar_type());
  return new mt_tensor_s{std::move(t)};
}

at::ScalarType scalar_type(int dtype) {
  switch (dtype) {
    case MT_F32: return at::kFloat;
    case MT_F16: return at::kHalf;
    case MT_BF16: return at::kBFloat16;
    case MT_I64: return at::kLong;
    case MT_BOOL: return at::kBool;
    case MT_F64: return at::kDouble;
    case MT_U8: return at::kByte;
    case MT_I32: return at::kInt;
  }
  throw Failure(MT_ERR_DTYPE, "unknown dtype code " + std::to_string(dtype));
}

at::Device device_of(int device, int index = -1) {
  switch (device) {
    case MT_CPU: return at::Device(at::kCPU);
    case MT_CUDA: return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw Failure(MT_ERR_DEVICE, "unknown device code " + std::to_string(device));
}

at::TensorOptions options(int dtype, int device) {
  return at::TensorOptions().dtype(scalar_type(dtype)).device(device_of(device));
}

at::IntArrayRef dims(const int64_t *p, int n) {
  if (n < 0 || (n > 0 && p == nullptr)) throw Failure(MT_ERR_SHAPE, "invalid size list (" + std::to_string(n) + " entries)");
  return at::IntArrayRef(p, static_cast<size_t>(n));
}

c10::optional<at::Generator> gen(mt_generator g) {
  if (g == nullptr) return c10::nullopt;
  return g->g;
}

at::Generator &G(mt_generator g) {
  if (g == nullptr) throw Failure(MT_ERR_INTERNAL, "null generator handle");
  return g->g;
}

const at::Tensor &T(mt_tensor h) {
  if (h == nullptr) throw Failure(MT_ERR_INTERNAL, "null tensor handle");
  return h->t;
}

c10::optional<at::Tensor> opt(mt_tensor h) {
  if (h == nullptr) return c10::nullopt;
  return h->t;
}

template <class P>
P *out_param(P *p) {
  if (p == nullptr) throw Failure(MT_ERR_INTERNAL, "null out-parameter");
  return p;
}

}  // namespace

// Every entry point runs its body inside GUARD_*: a C++ exception becomes this thread's
// (status, message) plus a NULL / status return value, never a process abort.
#define GUARD_T(...)                 \
  try {                              \
    __VA_ARGS__                      \
  } catch (...) {                    \
    record_current_exception();      \
  }                                  \
  return nullptr;

#define GUARD_I(...)                      \
  try {                                   \
    __VA_ARGS__                           \
    return MT_OK;                         \
  } catch (...) {                         \
    return record_current_exception();   \
  }

extern "C" {

// --- errors, library facts -------------------------------------------------------------------

mt_status mt_last_status(void) noexcept { return last_status; }
const char *mt_last_error(void) noexcept { return last_error.c_str(); }
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

// --- shape ------------------------------------------------------------------------------------------

mt_tensor mt_reshape(mt_tensor h, const int64_t *shape, int ndim) noexcept {
  GUARD_T({ return wrap(T(h).reshape(dims(shape, ndim))); })
}
mt_tensor mt_permute(mt_tensor h, const int64_t *d, int ndim) noexcept { GUARD_T({ return wrap(T(h).permute(dims(d, ndim))); }) }
mt_tensor mt_transpose(mt_tensor h, int64_t d0, int64_t d1) noexcept { GUARD_T({ return wrap(T(h).transpose(d0, d1)); }) }
mt_tensor mt_expand(mt_tensor h, const int64_t *shape, int ndim) noexcept {
  GUARD_T({ return wrap(T(h).expand(dims(shape, ndim))); })
}
mt_tensor mt_squeeze(mt_tensor h, int64_t dim) noexcept { GUARD_T({ return wrap(T(h).squeeze(dim)); }) }
mt_tensor mt_unsqueeze(mt_tensor h, int64_t dim) noexcept { GUARD_T({ return wrap(T(h).unsqueeze(dim)); }) }
mt_tensor mt_flatten(mt_tensor h, int64_t s, int64_t e) noexcept { GUARD_T({ return wrap(T(h).flatten(s, e)); }) }
mt_tensor mt_slice(mt_tensor h, int64_t dim, int64_t start, int64_t end, int64_t step) noexcept {
  GUARD_T({ return wrap(T(h).slice(dim, start, end, step)); })
}
mt_tensor mt_select(mt_tensor h, int64_t dim, int64_t index) noexcept { GUARD_T({ return wrap(T(h).select(dim, index)); }) }
mt_tensor mt_index_select(mt_tensor h, int64_t dim, mt_tensor index) noexcept {
  GUARD_T({ return wrap(at::index_select(T(h), dim, T(index))); })
}
mt_tensor mt_gather(mt_tensor h, int64_t dim, mt_tensor index) noexcept { GUARD_T({ return wrap(at::gather(T(h), dim, T(index))); }) }
mt_tensor mt_masked_fill(mt_tensor h, mt_tensor mask, double value) noexcept {
  GUARD_T({ return wrap(T(h).masked_fill(T(mask), value)); })
}
mt_tensor mt_where(mt_tensor c, mt_tensor a, mt_tensor b) noexcept { GUARD_T({ return wrap(at::where(T(c), T(a), T(b))); }) }

static std::vector<at::Tensor> tensor_list(const mt_tensor *ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(T(ts[i]));
  return v;
}

mt_tensor mt_cat(const mt_tensor *ts, int n, int64_t dim) noexcept { GUARD_T({ return wrap(at::cat(tensor_list(ts, n), dim)); }) }
mt_tensor mt_stack(const mt_tensor *ts, int n, int64_t dim) noexcept { GUARD_T({ return wrap(at::stack(tensor_list(ts, n), dim)); }) }

mt_status mt_split_sizes(mt_tensor h, const int64_t *sizes, int n, int64_t dim, mt_tensor *out) noexcept {
  GUARD_I({
    auto parts = at::split_with_sizes(T(h), dims(sizes, n), dim);
    // All handles exist before any is handed out, so a failure leaks none.
    std::vector<std::unique_ptr<mt_tensor_s>> boxes;
    for (auto &p : parts) boxes.emplace_back(wrap(p));
    out_param(out);
    for (size_t i = 0; i < boxes.size(); ++i) out[i] = boxes[i].release();
  })
}

mt_tensor mt_pad(mt_tensor h, const int64_t *pad, int npad, double value) noexcept {
  GUARD_T({ return wrap(at::constant_pad_nd(T(h), dims(pad, npad), value)); })
}
mt_tensor mt_repeat(mt_tensor h, const int64_t *r, int n) noexcept { GUARD_T({ return wrap(T(h).repeat(dims(r, n))); }) }
mt_tensor mt_tril(mt_tensor h, int64_t diagonal) noexcept { GUARD_T({ return wrap(at::tril(T(h), diagonal)); }) }

// --- elementwise -----------------------------------------------------------------------------------

mt_tensor mt_unary(int op, mt_tensor h) noexcept {
  GUARD_T({
    const at::Tensor &t = T(h);
    switch (op) {
      case MT_UNARY_NEG: return wrap(at::neg(t));
      case MT_UNARY_EXP: return wrap(at::exp(t));
      case MT_UNARY_LOG: return wrap(at::log(t));
      case MT_UNARY_SQRT: return wrap(at::sqrt(t));
      case MT_UNARY_RSQRT: return wrap(at::rsqrt(t));
      case MT_UNARY_ABS: return wrap(at::abs(t));
      case MT_UNARY_SIN: return wrap(at::sin(t));
      case MT_UNARY_COS: return wrap(at::cos(t));
      case MT_UNARY_TANH: return wrap(at::tanh(t));
      case MT_UNARY_SIGMOID: return wrap(at::sigmoid(t));
      case MT_UNARY_SILU: return wrap(at::silu(t));
      case MT_UNARY_GELU: return wrap(at::gelu(t));
      case MT_UNARY_GELU_TANH: return wrap(at::gelu(t, "tanh"));
      case MT_UNARY_RELU: return wrap(at::relu(t));
      case MT_UNARY_SQUARE: return wrap(at::square(t));
      case MT_UNARY_RECIPROCAL: return wrap(at::reciprocal(t));
      case MT_UNARY_SIGN: return wrap(at::sign(t));
      case MT_UNARY_FLOOR: return wrap(at::floor(t));
      case MT_UNARY_CEIL: return wrap(at::ceil(t));
      case MT_UNARY_ROUND: return wrap(at::round(t));
      case MT_UNARY_LOGICAL_NOT: return wrap(at::logical_not(t));
      case MT_UNARY_ISNAN: return wrap(at::isnan(t));
      case MT_UNARY_ISFINITE: return wrap(at::isfinite(t));
      case MT_UNARY_ERF: return wrap(at::erf(t));
      case MT_UNARY_LOG1P: return wrap(at::log1p(t));
      case MT_UNARY_EXPM1: return wrap(at::expm1(t));
      case MT_UNARY_SOFTPLUS: return wrap(at::softplus(t));
    }
    throw Failure(MT_ERR_INTERNAL, "unknown unary op " + std::to_string(op));
  })
}

static at::Tensor binary(int op, const at::Tensor &a, const at::Tensor &b) {
  switch (op) {
    case MT_BINARY_ADD: return at::add(a, b);
    case MT_BINARY_SUB: return at::sub(a, b);
    case MT_BINARY_MUL: return at::mul(a, b);
    case MT_BINARY_DIV: return at::div(a, b);
    case MT_BINARY_POW: return at::pow(a, b);
    case MT_BINARY_MAXIMUM: return at::maximum(a, b);
    case MT_BINARY_MINIMUM: return at::minimum(a, b);
    case MT_BINARY_EQ: return at::eq(a, b);
    case MT_BINARY_NE: return at::ne(a, b);
    case MT_BINARY_LT: return at::lt(a, b);
    case MT_BINARY_LE: return at::le(a, b);
    case MT_BINARY_GT: return at::gt(a, b);
    case MT_BINARY_GE: return at::ge(a, b);
    case MT_BINARY_AND: return at::logical_and(a, b);
    case MT_BINARY_OR: return at::logical_or(a, b);
    case MT_BINARY_ATAN2: return at::atan2(a, b);
    case MT_BINARY_FMOD: return at::fmod(a, b);
  }
  throw Failure(MT_ERR_INTERNAL, "unknown binary op " + std::to_string(op));
}

mt_tensor mt_binary(int op, mt_tensor a, mt_tensor b) noexcept { GUARD_T({ return wrap(binary(op, T(a), T(b))); }) }

mt_tensor mt_binary_scalar(int op, mt_tensor a, double s, bool reverse) noexcept {
  GUARD_T({
    // A C double becomes a "wrapped number" Scalar: it promotes like a Python scalar (f32 stays f32).
    const at::Tensor &t = T(a);
    at::Scalar c(s);
    switch (op) {
      case MT_BINARY_ADD: return wrap(at::add(t, c));
      case MT_BINARY_MUL: return wrap(at::mul(t, c));
      case MT_BINARY_SUB: return wrap(reverse ? at::rsub(t, c) : at::sub(t, c));
      case MT_BINARY_DIV: return wrap(reverse ? at::mul(at::reciprocal(t), c) : at::div(t, c));
      case MT_BINARY_POW: return wrap(reverse ? at::pow(c, t) : at::pow(t, c));
      case MT_BINARY_MAXIMUM: return wrap(at::clamp_min(t, c));
      case MT_BINARY_MINIMUM: return wrap(at::clamp_max(t, c));
      case MT_BINARY_EQ: return wrap(at::eq(t, c));
      case MT_BINARY_NE: return wrap(at::ne(t, c));
      case MT_BINARY_LT: return wrap(reverse ? at::gt(t, c) : at::lt(t, c));
      case MT_BINARY_LE: return wrap(reverse ? at::ge(t, c) : at::le(t, c));
      case MT_BINARY_GT: return wrap(reverse ? at::lt(t, c) : at::gt(t, c));
      case MT_BINARY_GE: return wrap(reverse ? at::le(t, c) : at::ge(t, c));
      case MT_BINARY_FMOD: if (!reverse) return wrap(at::fmod(t, c)); break;
      default: break;
    }
    throw Failure(MT_ERR_INTERNAL, "binary op " + std::to_string(op) + " has no scalar form");
  })
}

mt_tensor mt_clamp(mt_tensor h, double lo, double hi, bool has_lo, bool has_hi) noexcept {
  GUARD_T({
    c10::optional<at::Scalar> l = has_lo ? c10::optional<at::Scalar>(lo) : c10::nullopt;
    c10::optional<at::Scalar> u = has_hi ? c10::optional<at::Scalar>(hi) : c10::nullopt;
    return wrap(at::clamp(T(h), l, u));
  })
}

mt_tensor mt_lerp(mt_tensor a, mt_tensor b, double w) noexcept { GUARD_T({ return wrap(at::lerp(T(a), T(b), w)); }) }

// --- reductions ----------------------------------------------------------------------------------

mt_tensor mt_reduce(int op, mt_tensor h, const int64_t *d, int nd, bool keepdim, bool unbiased) noexcept {
  GUARD_T({
    const at::Tensor &t = T(h);
    std::vector<int64_t> all;
    if (nd == 0) {
      for (int64_t i = 0; i < t.dim(); ++i) all.push_back(i);
    } else {
      all.assign(d, d + nd);
    }
    at::IntArrayRef r(all);
    switch (op) {
      case MT_REDUCE_SUM: return wrap(nd == 0 && !keepdim ? at::sum(t) : at::sum(t, r, keepdim));
      case MT_REDUCE_MEAN: return wrap(nd == 0 && !keepdim ? at::mean(t) : at::mean(t, r, keepdim));
      case MT_REDUCE_AMAX: return wrap(at::amax(t, r, keepdim));
      case MT_REDUCE_AMIN: return wrap(at::amin(t, r, keepdim));
      case MT_REDUCE_VAR: return wrap(at::var(t, r, unbiased, keepdim));
      case MT_REDUCE_STD: return wrap(at::std(t, r, unbiased, keepdim));
      case MT_REDUCE_NORM: return wrap(nd == 0 && !keepdim ? at::norm(t) : at::norm(t, 2, r, keepdim));
      case MT_REDUCE_LOGSUMEXP: return wrap(at::logsumexp(t, r, keepdim));
      case MT_REDUCE_ARGMAX:
      case MT_REDUCE_ARGMIN: {
        if (nd > 1) throw Failure(MT_ERR_SHAPE, "argmax/argmin take one dimension");
        c10::optional<int64_t> dim = nd == 1 ? c10::optional<int64_t>(d[0]) : c10::nullopt;
        return wrap(op == MT_REDUCE_ARGMAX ? at::argmax(t, dim, keepdim) : at::argmin(t, dim, keepdim));
      }
      case MT_REDUCE_PROD: {
        if (nd == 0) return wrap(keepdim ? at::prod(t).reshape(std::vector<int64_t>(t.dim(), 1)) : at::prod(t));
        if (nd > 1) throw Failure(MT_ERR_SHAPE, "prod takes one dimension");
        return wrap(at::prod(t, d[0], keepdim));
      }
      case MT_REDUCE_ANY:
      case MT_REDUCE_ALL: {
        if (nd == 0) {
          at::Tensor r = op == MT_REDUCE_ANY ? at::any(t) : at::all(t);
          return wrap(keepdim ? r.reshape(std::vector<int64_t>(t.dim(), 1)) : r);
        }
        if (nd > 1) throw Failure(MT_ERR_SHAPE, "any/all take one dimension");
        return wrap(op == MT_REDUCE_ANY ? at::any(t, d[0], keepdim) : at::all(t, d[0], keepdim));
      }
    }
    throw Failure(MT_ERR_INTERNAL, "unknown reduction " + std::to_string(op));
  })
}

mt_tensor mt_cumsum(mt_tensor h, int64_t dim) noexcept { GUARD_T({ return wrap(at::cumsum(T(h), dim)); }) }

mt_status mt_topk(mt_tensor h, int64_t k, int64_t dim, bool largest, mt_tensor *values, mt_tensor *indices) noexcept {
  GUARD_I({
    auto r = at::topk(T(h), k, dim, largest, true);
    std::unique_ptr<mt_tensor_s> v(wrap(std::get<0>(r))), i(wrap(std::get<1>(r)));
    *out_param(values) = v.release();
    *out_param(indices) = i.release();
  })
}

mt_tensor mt_sort(mt_tensor h, int64_t dim, bool descending, mt_tensor *indices) noexcept {
  GUARD_T({
    auto r = at::sort(T(h), dim, descending);
    std::unique_ptr<mt_tensor_s> v(wrap(std::get<0>(r)));
    if (indices) *indices = wrap(std::get<1>(r));
    return v.release();
  })
}

// --- linear algebra and neural-network kernels ----------------------------------------------------------

mt_tensor mt_matmul(mt_tensor a, mt_tensor b) noexcept { GUARD_T({ return wrap(at::matmul(T(a), T(b))); }) }
mt_tensor mt_linear(mt_tensor x, mt_tensor w, mt_tensor b) noexcept { GUARD_T({ return wrap(at::linear(T(x), T(w), opt(b))); }) }
mt_tensor mt_softmax(mt_tensor h, int64_t dim) noexcept { GUARD_T({ return wrap(at::softmax(T(h), dim)); }) }
mt_tensor mt_log_softmax(mt_tensor h, int64_t dim) noexcept { GUARD_T({ return wrap(at::log_softmax(T(h), dim)); }) }

mt_tensor mt_layer_norm(mt_tensor x, const int64_t *shape, int ndim, mt_tensor w, mt_tensor b, double eps) noexcept {
  GUARD_T({ return wrap(at::layer_norm(T(x), dims(shape, ndim), opt(w), opt(b), eps)); })
}

mt_tensor mt_group_norm(mt_tensor x, int64_t groups, mt_tensor w, mt_tensor b, double eps) noexcept {
  GUARD_T({ return wrap(at::group_norm(T(x), groups, opt(w), opt(b), eps)); })
}

mt_tensor mt_conv2d(mt_tensor x, mt_tensor w, mt_tensor b, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                    int64_t dh, int64_t dw, int64_t groups) noexcept {
  GUARD_T({
    int64_t s[2] = {sh, sw}, p[2] = {ph, pw}, dl[2] = {dh, dw};
    return wrap(at::conv2d(T(x), T(w), opt(b), at::IntArrayRef(s, 2), at::IntArrayRef(p, 2), at::IntArrayRef(dl, 2), groups));
  })
}

mt_tensor mt_interpolate(mt_tensor x, int64_t oh, int64_t ow, int mode, bool align_corners) noexcept {
  GUARD_T({
    int64_t size[2] = {oh, ow};
    at::IntArrayRef out(size, 2);
    switch (mode) {
      case MT_INTERP_NEAREST: return wrap(at::upsample_nearest2d(T(x), out));
      case MT_INTERP_BILINEAR: return wrap(at::upsample_bilinear2d(T(x), out, align_corners));
      case MT_INTERP_BICUBIC: return wrap(at::upsample_bicubic2d(T(x), out, align_corners));
      case MT_INTERP_AREA: return wrap(at::adaptive_avg_pool2d(T(x), out));
    }
    throw Failure(MT_ERR_INTERNAL, "unknown interpolation mode " + std::to_string(mode));
  })
}

mt_tensor mt_attention(mt_tensor q, mt_tensor k, mt_tensor v, mt_tensor mask, double scale, bool causal) noexcept {
  GUARD_T({
    const at::Tensor &Q = T(q), &K = T(k), &V = T(v);
    double s = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    // The public fused kernel (flash / memory-efficient on CUDA) takes the scale since 2.1.
    return wrap(at::scaled_dot_product_attention(Q, K, V, opt(mask), 0.0, causal, s));
#else
    // softmax(q·kᵀ·scale, masked where mask == false) · v, as F.scaled_dot_product_attention.
    // Scaling q (L×E) instead of the scores (L×S) saves a pass over the largest tensor.
    at::Tensor scores = at::matmul(Q * s, K.transpose(-2, -1));
    if (mask != nullptr) {
      scores = scores.masked_fill(T(mask).logical_not(), -std::numeric_limits<double>::infinity());
    }
    if (causal) {
      auto L = Q.size(-2), S = K.size(-2);
      auto keep = at::ones({L, S}, Q.options().dtype(at::kBool)).tril();
      scores = scores.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
    }
    at::Tensor probs = at::softmax(scores, -1);
    if (mask != nullptr) {
      // A query whose keys are all masked gets a zero output (PyTorch ≥ 2.5), not NaN.
      probs = probs.masked_fill(T(mask).any(-1, true).logical_not(), 0.0);
    }
    return wrap(at::matmul(probs, V));
#endif
  })
}

mt_tensor mt_embedding(mt_tensor weight, mt_tensor indices) noexcept { GUARD_T({ return wrap(at::embedding(T(weight), T(indices))); }) }
mt_tensor mt_dropout(mt_tensor x, double p, bool train) noexcept { GUARD_T({ return wrap(at::dropout(T(x), p, train)); }) }

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
