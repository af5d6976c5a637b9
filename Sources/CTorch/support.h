// support.h — what the shim's translation units share: the handle structs, argument helpers that
// turn bad handles and codes into categorised failures, and the GUARD macros every entry point
// runs its body in. Private to CTorch (not part of ctorch.h).
#ifndef CTORCH_SUPPORT_H
#define CTORCH_SUPPORT_H

#include "ctorch.h"
#include "errors.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <functional>
#include <string>
#include <utility>

struct mt_tensor_s {
  at::Tensor t;
};
struct mt_generator_s {
  at::Generator g;
};

namespace ctorch {

inline int dtype_code(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return MT_F32;
    case at::kHalf: return MT_F16;
    case at::kBFloat16: return MT_BF16;
    case at::kLong: return MT_I64;
    case at::kBool: return MT_BOOL;
    case at::kDouble: return MT_F64;
    case at::kByte: return MT_U8;
    case at::kInt: return MT_I32;
    default: throw Failure(MT_ERR_DTYPE, std::string("dtype ") + c10::toString(s) + " has no engine code");
  }
}

// Every tensor handed to Swift has a dtype Swift can name, so `Tensor.dtype` never meets an
// unknown code.
inline mt_tensor wrap(at::Tensor t) {
  (void)dtype_code(t.scalar_type());
  return new mt_tensor_s{std::move(t)};
}

inline at::ScalarType scalar_type(int dtype) {
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

inline at::Device device_of(int device, int index = -1) {
  switch (device) {
    case MT_CPU: return at::Device(at::kCPU);
    case MT_CUDA: return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw Failure(MT_ERR_DEVICE, "unknown device code " + std::to_string(device));
}

inline at::TensorOptions options(int dtype, int device) {
  return at::TensorOptions().dtype(scalar_type(dtype)).device(device_of(device));
}

inline at::IntArrayRef dims(const int64_t *p, int n) {
  if (n < 0 || (n > 0 && p == nullptr)) throw Failure(MT_ERR_SHAPE, "invalid size list (" + std::to_string(n) + " entries)");
  return at::IntArrayRef(p, static_cast<size_t>(n));
}

inline c10::optional<at::Generator> gen(mt_generator g) {
  if (g == nullptr) return c10::nullopt;
  return g->g;
}

inline at::Generator &G(mt_generator g) {
  if (g == nullptr) throw Failure(MT_ERR_INTERNAL, "null generator handle");
  return g->g;
}

inline const at::Tensor &T(mt_tensor h) {
  if (h == nullptr) throw Failure(MT_ERR_INTERNAL, "null tensor handle");
  return h->t;
}

inline c10::optional<at::Tensor> opt(mt_tensor h) {
  if (h == nullptr) return c10::nullopt;
  return h->t;
}

template <class P>
inline P *out_param(P *p) {
  if (p == nullptr) throw Failure(MT_ERR_INTERNAL, "null out-parameter");
  return p;
}

// fn(i) for i in [0, n) on up to n of libtorch's intra-op threads at once, each index's ATen work single-threaded
// (parallel.cpp); in turn on this thread without OpenMP or with one thread. The first exception by index is rethrown
// once all have run. Every thread runs fn in the caller's grad mode; other thread-local state is its own.
void for_each_in_parallel(int n, const std::function<void(int)> &fn);

// One LAMB step on one float32 CPU parameter in two fused passes (fused.cpp); false, touching nothing, when the
// tensors are not all dense float32 on the CPU or the CPU lacks AVX2 and FMA: the caller then runs ATen operators.
bool lamb_step_fused(at::Tensor &p, const at::Tensor &g, at::Tensor &m, at::Tensor &v, int64_t step, double lr,
                     double beta1, double beta2, double eps, double weight_decay, bool adapt, bool decouple);

}  // namespace ctorch

using ctorch::Failure;
using ctorch::record_current_exception;
using ctorch::T;
using ctorch::G;
using ctorch::dims;
using ctorch::gen;
using ctorch::opt;
using ctorch::options;
using ctorch::out_param;
using ctorch::scalar_type;
using ctorch::device_of;
using ctorch::wrap;
using ctorch::dtype_code;

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

#endif
