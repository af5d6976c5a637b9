// autocast.cpp — automatic mixed precision, as torch.autocast: while a region is open on a device, ATen's
// Autocast dispatch keys run the operations on its lower-precision list (matrix products, linear, attention, ...)
// in bf16/fp16 and those on its fp32 list in float32, the same lists Python's autocast uses, so Swift layers
// get exactly the casts the official modules get under Lightning's "bf16-mixed". Parameters stay float32.
// The state is thread-local, like grad mode: open and close a region on the thread that runs the operations.
#include "support.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace {

at::DeviceType autocast_device(int device) {
  switch (device) {
    case MT_CPU: return at::kCPU;
    case MT_CUDA: return at::kCUDA;
  }
  throw Failure(MT_ERR_DEVICE, "unknown device code " + std::to_string(device));
}

bool is_enabled(at::DeviceType d) {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

void set_enabled(at::DeviceType d, bool on) {
#if TORCH_VERSION_MAJOR >= 2
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == at::kCPU) at::autocast::set_cpu_enabled(on); else at::autocast::set_enabled(on);
#endif
}

void set_dtype(at::DeviceType d, at::ScalarType t) {
#if TORCH_VERSION_MAJOR >= 2
  at::autocast::set_autocast_dtype(d, t);
#else
  if (d == at::kCPU) at::autocast::set_autocast_cpu_dtype(t); else at::autocast::set_autocast_gpu_dtype(t);
#endif
}

at::ScalarType get_dtype(at::DeviceType d) {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::get_autocast_dtype(d);
#else
  return d == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

}  // namespace

extern "C" {

mt_status mt_autocast_enter(int device, int dtype, bool *was_enabled, int *previous_dtype) noexcept {
  GUARD_I({
    at::DeviceType d = autocast_device(device);
    at::ScalarType t = scalar_type(dtype);
    if (t != at::kBFloat16 && t != at::kHalf) throw Failure(MT_ERR_DTYPE, "autocast runs in bf16 or fp16");
    *out_param(was_enabled) = is_enabled(d);
    *out_param(previous_dtype) = dtype_code(get_dtype(d));
    set_dtype(d, t);
    set_enabled(d, true);
    at::autocast::increment_nesting();
  })
}

mt_status mt_autocast_exit(int device, bool was_enabled, int previous_dtype) noexcept {
  GUARD_I({
    at::DeviceType d = autocast_device(device);
    // The cast weights are cached for the region (each parameter is cast once per forward); leaving the
    // outermost region frees them, as torch.autocast.__exit__ does.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_enabled(d, was_enabled);
    set_dtype(d, scalar_type(previous_dtype));
  })
}

}  // extern "C"
