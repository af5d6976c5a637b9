// ctorch.h — the thin C interface between Swift and libtorch.
//
// Rules every entry point follows (see docs/engine.md):
//  * Tensors cross the boundary as opaque heap handles (`mt_tensor`) owned by the caller; free them
//    with mt_free. Swift wraps each handle in a final class whose deinit frees it.
//  * No C++ exception ever escapes. Every entry point that can fail reports the failure as an
//    `mt_status` category: functions returning `mt_status` return it (MT_OK = 0 on success),
//    functions returning a handle or pointer return NULL and leave the category in
//    mt_last_status(). In both cases mt_last_error() holds libtorch's message. Both are per thread
//    and are only meaningful right after a failed call on that thread.
//  * Facts that cannot fail on a valid handle (dim, sizes, dtype, ...) still return a status and
//    write their value through an out-parameter, so a bad argument (e.g. a dimension out of range)
//    is an error, not an abort.
//  * Op families are selected by small integer codes (MT_UNARY_*, MT_BINARY_*, ...) so that the
//    shim stays short; the Swift side imports these constants and gives them names.
//  * In C++ every declaration is `noexcept`: if a bug ever let an exception reach the boundary, the
//    process would stop at the throw site instead of unwinding through Swift frames.
#ifndef CTORCH_H
#define CTORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define MT_NOEXCEPT noexcept
extern "C" {
#else
#define MT_NOEXCEPT
#endif

typedef struct mt_tensor_s *mt_tensor;
typedef struct mt_generator_s *mt_generator;

// Status codes: what kind of failure a call met. The category comes from the C++ exception's type
// (c10::OutOfMemoryError, c10::IndexError, ...) and, for libtorch's many plain c10::Error checks,
// from its message (see classify() in shim.cpp).
typedef int mt_status;
enum {
  MT_OK = 0,
  MT_ERR_SHAPE = 1,          // shapes, sizes, dimensions, indices, other out-of-range values
  MT_ERR_DTYPE = 2,          // an element type that is unsupported here or does not match
  MT_ERR_OUT_OF_MEMORY = 3,  // host or device allocation failed
  MT_ERR_DEVICE = 4,         // CUDA errors, devices that do not exist, tensors on different devices
  MT_ERR_INTERNAL = 5        // anything else (autograd misuse, bad handles, unknown op codes, ...)
};

// dtypes
enum { MT_F32 = 0, MT_F16 = 1, MT_BF16 = 2, MT_I64 = 3, MT_BOOL = 4, MT_F64 = 5, MT_U8 = 6, MT_I32 = 7 };
// devices
enum { MT_CPU = 0, MT_CUDA = 1 };

// --- errors, library facts -------------------------------------------------------------------
mt_status mt_last_status(void) MT_NOEXCEPT;   // category of this thread's last failure
const char *mt_last_error(void) MT_NOEXCEPT;  // message of this thread's last failure
const char *mt_version(void) MT_NOEXCEPT;     // libtorch version string, e.g. "1.13.1"
bool mt_cuda_available(void) MT_NOEXCEPT;     // false also when probing the driver fails
mt_status mt_cuda_device_count(int *out) MT_NOEXCEPT;
mt_status mt_get_num_threads(int *out) MT_NOEXCEPT;
mt_status mt_set_num_threads(int n) MT_NOEXCEPT;
// glibc malloc: blocks up to `threshold` bytes come from the heap (not mmap), and the heap is not trimmed below it.
mt_status mt_keep_freed_memory(size_t threshold) MT_NOEXCEPT;
bool mt_grad_enabled(void) MT_NOEXCEPT;                 // a thread-local flag: cannot fail
void mt_set_grad_enabled(bool enabled) MT_NOEXCEPT;     // a thread-local flag: cannot fail
const char *mt_blas_info(void) MT_NOEXCEPT;  // build configuration (names the BLAS in use); NULL on failure
// 1 when MKL picks its kernels by CPU features on a non-Intel CPU (mkl_dispatch.cpp); 0 otherwise. Cannot fail.
int mt_mkl_feature_dispatch(void) MT_NOEXCEPT;
// Automatic mixed precision (torch.autocast) on `device` (MT_CPU/MT_CUDA) in `dtype` (MT_BF16/MT_F16), for this
// thread; enter reports the state to restore, exit restores it (and frees the region's cast cache).
mt_status mt_autocast_enter(int device, int dtype, bool *was_enabled, int *previous_dtype) MT_NOEXCEPT;
mt_status mt_autocast_exit(int device, bool was_enabled, int previous_dtype) MT_NOEXCEPT;

// --- lifetime and facts ------------------------------------------------------------------------
void mt_free(mt_tensor t) MT_NOEXCEPT;
mt_status mt_dim(mt_tensor t, int *out) MT_NOEXCEPT;
mt_status mt_size(mt_tensor t, int dim, int64_t *out) MT_NOEXCEPT;  // negative dims count from the end
mt_status mt_numel(mt_tensor t, int64_t *out) MT_NOEXCEPT;
// MT_ERR_DTYPE for an element type without an MT_* code (the shim never returns such a tensor).
mt_status mt_dtype(mt_tensor t, int *out) MT_NOEXCEPT;
// `device` is MT_CPU or MT_CUDA; `index` is the CUDA ordinal, -1 on the CPU.
mt_status mt_device(mt_tensor t, int *device, int *index) MT_NOEXCEPT;
mt_status mt_is_contiguous(mt_tensor t, bool *out) MT_NOEXCEPT;
mt_status mt_requires_grad(mt_tensor t, bool *out) MT_NOEXCEPT;
mt_status mt_is_leaf(mt_tensor t, bool *out) MT_NOEXCEPT;
mt_status mt_same_storage(mt_tensor a, mt_tensor b, bool *out) MT_NOEXCEPT;

// --- creation ------------------------------------------------------------------------------------
enum { MT_FILL_EMPTY = 0, MT_FILL_ZEROS = 1, MT_FILL_ONES = 2 };
mt_tensor mt_new(int fill, const int64_t *shape, int ndim, int dtype, int device) MT_NOEXCEPT;
mt_tensor mt_full(const int64_t *shape, int ndim, double value, int dtype, int device) MT_NOEXCEPT;
mt_tensor mt_arange(double start, double end, double step, int dtype, int device) MT_NOEXCEPT;
mt_tensor mt_linspace(double start, double end, int64_t steps, int dtype, int device) MT_NOEXCEPT;
// Copies `nbytes` from `data` (C order, `dtype`) into a new CPU tensor.
mt_tensor mt_from_data(const void *data, const int64_t *shape, int ndim, int dtype) MT_NOEXCEPT;
// Wraps `data` without a copy; `deleter(context)` runs when libtorch drops the storage.
mt_tensor mt_from_blob(void *data, const int64_t *shape, int ndim, int dtype, void *context,
                       void (*deleter)(void *context)) MT_NOEXCEPT;
// Copies the tensor's elements (converted to `dtype`, made contiguous, moved to CPU) into `out`,
// which must hold numel × itemsize(dtype) bytes.
mt_status mt_copy_out(mt_tensor t, int dtype, void *out, size_t nbytes) MT_NOEXCEPT;
mt_status mt_item(mt_tensor t, double *out) MT_NOEXCEPT;
char *mt_to_string(mt_tensor t) MT_NOEXCEPT;        // caller frees with mt_free_string; "<tensor>" on failure
void mt_free_string(char *s) MT_NOEXCEPT;

// --- random numbers -----------------------------------------------------------------------------
mt_generator mt_generator_new(uint64_t seed) MT_NOEXCEPT;   // NULL on failure
void mt_generator_free(mt_generator g) MT_NOEXCEPT;
mt_status mt_generator_set_seed(mt_generator g, uint64_t seed) MT_NOEXCEPT;
mt_status mt_generator_initial_seed(mt_generator g, uint64_t *out) MT_NOEXCEPT;
mt_tensor mt_generator_get_state(mt_generator g) MT_NOEXCEPT;   // uint8 tensor, as torch.Generator.get_state()
mt_status mt_generator_set_state(mt_generator g, mt_tensor state) MT_NOEXCEPT;
mt_status mt_manual_seed(uint64_t seed) MT_NOEXCEPT;                  // libtorch's default generator
enum { MT_RAND_NORMAL = 0, MT_RAND_UNIFORM = 1 };
// `g` may be NULL (the default generator). Drawn on CPU, then moved to `device`.
mt_tensor mt_random(int kind, const int64_t *shape, int ndim, int dtype, int device, mt_generator g) MT_NOEXCEPT;
mt_tensor mt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int device, mt_generator g) MT_NOEXCEPT;
mt_tensor mt_randperm(int64_t n, mt_generator g) MT_NOEXCEPT;
mt_tensor mt_bernoulli(mt_tensor probs, mt_generator g) MT_NOEXCEPT;

// --- conversion, copies ---------------------------------------------------------------------------
mt_tensor mt_to(mt_tensor t, int dtype, int device, int device_index) MT_NOEXCEPT;
mt_tensor mt_contiguous(mt_tensor t) MT_NOEXCEPT;
mt_tensor mt_clone(mt_tensor t) MT_NOEXCEPT;
mt_tensor mt_detach(mt_tensor t) MT_NOEXCEPT;
mt_tensor mt_shallow_copy(mt_tensor t) MT_NOEXCEPT;   // a second handle to the same tensor

// --- shape ------------------------------------------------------------------------------------------
mt_tensor mt_reshape(mt_tensor t, const int64_t *shape, int ndim) MT_NOEXCEPT;
mt_tensor mt_permute(mt_tensor t, const int64_t *dims, int ndim) MT_NOEXCEPT;
mt_tensor mt_transpose(mt_tensor t, int64_t d0, int64_t d1) MT_NOEXCEPT;
mt_tensor mt_expand(mt_tensor t, const int64_t *shape, int ndim) MT_NOEXCEPT;
mt_tensor mt_squeeze(mt_tensor t, int64_t dim) MT_NOEXCEPT;
mt_tensor mt_unsqueeze(mt_tensor t, int64_t dim) MT_NOEXCEPT;
mt_tensor mt_flatten(mt_tensor t, int64_t start, int64_t end) MT_NOEXCEPT;
mt_tensor mt_slice(mt_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step) MT_NOEXCEPT;
mt_tensor mt_select(mt_tensor t, int64_t dim, int64_t index) MT_NOEXCEPT;
mt_tensor mt_index_select(mt_tensor t, int64_t dim, mt_tensor index) MT_NOEXCEPT;
mt_tensor mt_gather(mt_tensor t, int64_t dim, mt_tensor index) MT_NOEXCEPT;
mt_tensor mt_masked_fill(mt_tensor t, mt_tensor mask, double value) MT_NOEXCEPT;
mt_tensor mt_where(mt_tensor cond, mt_tensor a, mt_tensor b) MT_NOEXCEPT;
mt_tensor mt_cat(const mt_tensor *ts, int n, int64_t dim) MT_NOEXCEPT;
mt_tensor mt_stack(const mt_tensor *ts, int n, int64_t dim) MT_NOEXCEPT;
// Splits into pieces of the given sizes along dim; writes `n` handles to `out`.
mt_status mt_split_sizes(mt_tensor t, const int64_t *sizes, int n, int64_t dim, mt_tensor *out) MT_NOEXCEPT;
mt_tensor mt_pad(mt_tensor t, const int64_t *pad, int npad, double value) MT_NOEXCEPT;
mt_tensor mt_repeat(mt_tensor t, const int64_t *repeats, int n) MT_NOEXCEPT;
mt_tensor mt_tril(mt_tensor t, int64_t diagonal) MT_NOEXCEPT;

// --- elementwise -----------------------------------------------------------------------------------
enum {
  MT_UNARY_NEG = 0, MT_UNARY_EXP, MT_UNARY_LOG, MT_UNARY_SQRT, MT_UNARY_RSQRT, MT_UNARY_ABS,
  MT_UNARY_SIN, MT_UNARY_COS, MT_UNARY_TANH, MT_UNARY_SIGMOID, MT_UNARY_SILU, MT_UNARY_GELU,
  MT_UNARY_GELU_TANH, MT_UNARY_RELU, MT_UNARY_SQUARE, MT_UNARY_RECIPROCAL, MT_UNARY_SIGN,
  MT_UNARY_FLOOR, MT_UNARY_CEIL, MT_UNARY_ROUND, MT_UNARY_LOGICAL_NOT, MT_UNARY_ISNAN,
  MT_UNARY_ISFINITE, MT_UNARY_ERF, MT_UNARY_LOG1P, MT_UNARY_EXPM1, MT_UNARY_SOFTPLUS
};
mt_tensor mt_unary(int op, mt_tensor t) MT_NOEXCEPT;
enum {
  MT_BINARY_ADD = 0, MT_BINARY_SUB, MT_BINARY_MUL, MT_BINARY_DIV, MT_BINARY_POW, MT_BINARY_MAXIMUM,
  MT_BINARY_MINIMUM, MT_BINARY_EQ, MT_BINARY_NE, MT_BINARY_LT, MT_BINARY_LE, MT_BINARY_GT,
  MT_BINARY_GE, MT_BINARY_AND, MT_BINARY_OR, MT_BINARY_ATAN2, MT_BINARY_FMOD
};
mt_tensor mt_binary(int op, mt_tensor a, mt_tensor b) MT_NOEXCEPT;
// Tensor ∘ scalar (reverse = scalar ∘ tensor, for the non-commutative ones).
mt_tensor mt_binary_scalar(int op, mt_tensor a, double s, bool reverse) MT_NOEXCEPT;
mt_tensor mt_clamp(mt_tensor t, double lo, double hi, bool has_lo, bool has_hi) MT_NOEXCEPT;
mt_tensor mt_lerp(mt_tensor a, mt_tensor b, double weight) MT_NOEXCEPT;

// --- reductions ----------------------------------------------------------------------------------
enum {
  MT_REDUCE_SUM = 0, MT_REDUCE_MEAN, MT_REDUCE_AMAX, MT_REDUCE_AMIN, MT_REDUCE_VAR, MT_REDUCE_STD,
  MT_REDUCE_NORM, MT_REDUCE_ARGMAX, MT_REDUCE_ARGMIN, MT_REDUCE_LOGSUMEXP, MT_REDUCE_PROD,
  MT_REDUCE_ANY, MT_REDUCE_ALL
};
// ndims == 0 reduces over everything. `unbiased` applies to var/std.
mt_tensor mt_reduce(int op, mt_tensor t, const int64_t *dims, int ndims, bool keepdim, bool unbiased) MT_NOEXCEPT;
mt_tensor mt_cumsum(mt_tensor t, int64_t dim) MT_NOEXCEPT;
// Values and indices of the k largest entries along dim.
mt_status mt_topk(mt_tensor t, int64_t k, int64_t dim, bool largest, mt_tensor *values, mt_tensor *indices) MT_NOEXCEPT;
mt_tensor mt_sort(mt_tensor t, int64_t dim, bool descending, mt_tensor *indices) MT_NOEXCEPT;

// --- linear algebra and neural-network kernels ----------------------------------------------------------
mt_tensor mt_matmul(mt_tensor a, mt_tensor b) MT_NOEXCEPT;
mt_tensor mt_linear(mt_tensor x, mt_tensor w, mt_tensor b /* nullable */) MT_NOEXCEPT;
mt_tensor mt_softmax(mt_tensor t, int64_t dim) MT_NOEXCEPT;
mt_tensor mt_log_softmax(mt_tensor t, int64_t dim) MT_NOEXCEPT;
mt_tensor mt_layer_norm(mt_tensor x, const int64_t *shape, int ndim, mt_tensor w, mt_tensor b, double eps) MT_NOEXCEPT;
mt_tensor mt_group_norm(mt_tensor x, int64_t groups, mt_tensor w, mt_tensor b, double eps) MT_NOEXCEPT;
mt_tensor mt_conv2d(mt_tensor x, mt_tensor w, mt_tensor b, int64_t stride_h, int64_t stride_w,
                    int64_t pad_h, int64_t pad_w, int64_t dil_h, int64_t dil_w, int64_t groups) MT_NOEXCEPT;
enum { MT_INTERP_NEAREST = 0, MT_INTERP_BILINEAR = 1, MT_INTERP_BICUBIC = 2, MT_INTERP_AREA = 3 };
mt_tensor mt_interpolate(mt_tensor x, int64_t out_h, int64_t out_w, int mode, bool align_corners) MT_NOEXCEPT;
// q (B,H,Lq,E), k (B,H,Lk,E), v (B,H,Lk,Ev); mask nullable, bool, broadcastable to (B,H,Lq,Lk),
// True = attend. scale <= 0 means 1/sqrt(E).
mt_tensor mt_attention(mt_tensor q, mt_tensor k, mt_tensor v, mt_tensor mask, double scale, bool causal) MT_NOEXCEPT;
mt_tensor mt_embedding(mt_tensor weight, mt_tensor indices) MT_NOEXCEPT;
mt_tensor mt_dropout(mt_tensor x, double p, bool train) MT_NOEXCEPT;

// --- autograd ---------------------------------------------------------------------------------------------
mt_status mt_set_requires_grad(mt_tensor t, bool flag) MT_NOEXCEPT;
// MT_OK with *out == NULL when there is no gradient; a failure is a non-zero status.
mt_status mt_grad(mt_tensor t, mt_tensor *out) MT_NOEXCEPT;
mt_status mt_zero_grad(mt_tensor t) MT_NOEXCEPT;                       // drops the gradient (set to undefined)
mt_status mt_set_grad(mt_tensor t, mt_tensor g) MT_NOEXCEPT;
mt_status mt_backward(mt_tensor t, mt_tensor grad /* nullable */, bool retain_graph) MT_NOEXCEPT;
// torch.autograd.grad(output, inputs, allow_unused=True): outs[i] is NULL where inputs[i] is not reached.
mt_status mt_autograd_grad(mt_tensor output, const mt_tensor *inputs, int n, mt_tensor *outs) MT_NOEXCEPT;
// For each part k in order, params[i].grad += grads[k * n + i] (set when it has none); NULL entries are skipped.
mt_status mt_accumulate_grads(const mt_tensor *params, const mt_tensor *grads, int n, int parts) MT_NOEXCEPT;

// --- data parallelism inside the process (parallel.cpp) -------------------------------------------------------------
// body(ctx, i) for i in [0, n) on libtorch's intra-op threads, each index's libtorch work single-threaded.
mt_status mt_parallel_for_each(int n, void (*body)(void *ctx, int index), void *ctx) MT_NOEXCEPT;

// --- in place (used by optimizers under no-grad; they keep parameter identity) ----------------------------------------
mt_status mt_copy_(mt_tensor dst, mt_tensor src) MT_NOEXCEPT;
mt_status mt_zero_(mt_tensor t) MT_NOEXCEPT;
mt_status mt_fill_(mt_tensor t, double value) MT_NOEXCEPT;
mt_status mt_add_(mt_tensor t, mt_tensor other, double alpha) MT_NOEXCEPT;
mt_status mt_add_scalar_(mt_tensor t, double s) MT_NOEXCEPT;
mt_status mt_mul_(mt_tensor t, mt_tensor other) MT_NOEXCEPT;
mt_status mt_mul_scalar_(mt_tensor t, double s) MT_NOEXCEPT;
mt_status mt_div_(mt_tensor t, mt_tensor other) MT_NOEXCEPT;
mt_status mt_addcmul_(mt_tensor t, mt_tensor a, mt_tensor b, double value) MT_NOEXCEPT;
mt_status mt_addcdiv_(mt_tensor t, mt_tensor a, mt_tensor b, double value) MT_NOEXCEPT;
mt_status mt_lerp_(mt_tensor t, mt_tensor end, double weight) MT_NOEXCEPT;
mt_status mt_clamp_(mt_tensor t, double lo, double hi) MT_NOEXCEPT;
mt_status mt_uniform_(mt_tensor t, double lo, double hi, mt_generator g) MT_NOEXCEPT;
mt_status mt_normal_(mt_tensor t, double mean, double std, mt_generator g) MT_NOEXCEPT;
mt_status mt_trunc_normal_(mt_tensor t, double mean, double std, double lo, double hi, mt_generator g) MT_NOEXCEPT;

// --- multi-tensor updates (multi.cpp): one call per step instead of one per tensor and operation --------------------
// The NaN guard and gradient clipping over the defined gradients of `params`: when their global 2-norm is not finite,
// non-finite entries are zeroed (*had_nonfinite = true) and the norm recomputed; then every gradient is scaled by
// min(1, max_norm / (norm + 1e-6)). *norm_out is the norm before clipping.
mt_status mt_guard_and_clip_grads(const mt_tensor *params, int n, double max_norm, double *norm_out,
                                  bool *had_nonfinite) MT_NOEXCEPT;
// One LAMB step (miro/utils/optimizers.py) over n parameters with their moments; steps[i] is parameter i's step
// count including this one. Parameters without a gradient are skipped.
mt_status mt_lamb_step(const mt_tensor *params, const mt_tensor *exp_avg, const mt_tensor *exp_avg_sq,
                       const int64_t *steps, int n, double lr, double beta1, double beta2, double eps,
                       double weight_decay, bool adapt, bool decouple) MT_NOEXCEPT;
// shadow[i] = decay * shadow[i] + (1 - decay) * params[i]
mt_status mt_ema_update(const mt_tensor *shadow, const mt_tensor *params, int n, double decay) MT_NOEXCEPT;

// --- fused kernels (fused.cpp) ---------------------------------------------------------------------------------------
// SwiGLU's gate: (a, b) = packed.chunk(2, -1); a * silu(b), in one pass forward and one backward for contiguous-able
// float32 CPU tensors on CPUs with AVX2 and FMA, as ATen operators otherwise. mt_swiglu_aten always takes the ATen
// operators; mt_swiglu_is_fused says which path mt_swiglu takes for this tensor.
mt_tensor mt_swiglu(mt_tensor packed) MT_NOEXCEPT;
mt_tensor mt_swiglu_aten(mt_tensor packed) MT_NOEXCEPT;
bool mt_swiglu_is_fused(mt_tensor packed) MT_NOEXCEPT;

// --- operator profiles (profiler.cpp; libtorch 2 only) ---------------------------------------------------------------
// Starts libtorch's profiler (CPU operators of this thread and of the autograd work it runs); with record_shapes, each
// operator's rows are split by their inputs' sizes.
mt_status mt_profiler_start(bool record_shapes) MT_NOEXCEPT;
// Stops it; writes a Chrome trace to trace_path unless it is NULL or empty, and returns one line per operator name,
// "name\tcount\tself_ns\ttotal_ns\n", in *table_out (free with mt_free_string).
mt_status mt_profiler_stop(const char *trace_path, char **table_out) MT_NOEXCEPT;

#ifdef __cplusplus
}
#endif
#endif
