// ctorch.h — the thin C interface between Swift and libtorch.
//
// Rules every entry point follows (see docs/engine.md):
//  * Tensors cross the boundary as opaque heap handles (`mt_tensor`) owned by the caller; free them
//    with mt_free. Swift wraps each handle in a final class whose deinit frees it.
//  * No C++ exception ever escapes: a failing call returns NULL (or a non-zero status) and leaves
//    a message readable with mt_last_error() on the same thread.
//  * Op families are selected by small integer codes (MT_UNARY_*, MT_BINARY_*, ...) so that the
//    shim stays short; the Swift side gives them names.
#ifndef CTORCH_H
#define CTORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_tensor_s *mt_tensor;
typedef struct mt_generator_s *mt_generator;

// dtypes (values shared with the Swift `DType` enum)
enum { MT_F32 = 0, MT_F16 = 1, MT_BF16 = 2, MT_I64 = 3, MT_BOOL = 4, MT_F64 = 5, MT_U8 = 6, MT_I32 = 7 };
// devices
enum { MT_CPU = 0, MT_CUDA = 1 };

// --- errors, library facts -------------------------------------------------------------------
const char *mt_last_error(void);
const char *mt_version(void);           // libtorch version string, e.g. "1.13.1"
bool mt_cuda_available(void);
int mt_cuda_device_count(void);
int mt_get_num_threads(void);
void mt_set_num_threads(int n);
bool mt_grad_enabled(void);
void mt_set_grad_enabled(bool enabled);
const char *mt_blas_info(void);        // build configuration (names the BLAS in use)

// --- lifetime and facts ------------------------------------------------------------------------
void mt_free(mt_tensor t);
int mt_dim(mt_tensor t);
int64_t mt_size(mt_tensor t, int dim);
int64_t mt_numel(mt_tensor t);
int mt_dtype(mt_tensor t);
int mt_device(mt_tensor t);
int mt_device_index(mt_tensor t);
bool mt_is_contiguous(mt_tensor t);
bool mt_requires_grad(mt_tensor t);
bool mt_is_leaf(mt_tensor t);
bool mt_same_storage(mt_tensor a, mt_tensor b);

// --- creation ------------------------------------------------------------------------------------
enum { MT_FILL_EMPTY = 0, MT_FILL_ZEROS = 1, MT_FILL_ONES = 2 };
mt_tensor mt_new(int fill, const int64_t *shape, int ndim, int dtype, int device);
mt_tensor mt_full(const int64_t *shape, int ndim, double value, int dtype, int device);
mt_tensor mt_arange(double start, double end, double step, int dtype, int device);
mt_tensor mt_linspace(double start, double end, int64_t steps, int dtype, int device);
// Copies `nbytes` from `data` (C order, `dtype`) into a new CPU tensor.
mt_tensor mt_from_data(const void *data, const int64_t *shape, int ndim, int dtype);
// Wraps `data` without a copy; `deleter(context)` runs when libtorch drops the storage.
mt_tensor mt_from_blob(void *data, const int64_t *shape, int ndim, int dtype, void *context,
                       void (*deleter)(void *context));
// Copies the tensor's elements (converted to `dtype`, made contiguous, moved to CPU) into `out`,
// which must hold numel × itemsize(dtype) bytes.
int mt_copy_out(mt_tensor t, int dtype, void *out, size_t nbytes);
int mt_item(mt_tensor t, double *out);
char *mt_to_string(mt_tensor t);        // caller frees with mt_free_string
void mt_free_string(char *s);

// --- random numbers -----------------------------------------------------------------------------
mt_generator mt_generator_new(uint64_t seed);
void mt_generator_free(mt_generator g);
int mt_generator_set_seed(mt_generator g, uint64_t seed);
uint64_t mt_generator_initial_seed(mt_generator g);
mt_tensor mt_generator_get_state(mt_generator g);   // uint8 tensor, as torch.Generator.get_state()
int mt_generator_set_state(mt_generator g, mt_tensor state);
void mt_manual_seed(uint64_t seed);                  // libtorch's default generator
enum { MT_RAND_NORMAL = 0, MT_RAND_UNIFORM = 1 };
// `g` may be NULL (the default generator). Drawn on CPU, then moved to `device`.
mt_tensor mt_random(int kind, const int64_t *shape, int ndim, int dtype, int device, mt_generator g);
mt_tensor mt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int device, mt_generator g);
mt_tensor mt_randperm(int64_t n, mt_generator g);
mt_tensor mt_bernoulli(mt_tensor probs, mt_generator g);

// --- conversion, copies ---------------------------------------------------------------------------
mt_tensor mt_to(mt_tensor t, int dtype, int device, int device_index);
mt_tensor mt_contiguous(mt_tensor t);
mt_tensor mt_clone(mt_tensor t);
mt_tensor mt_detach(mt_tensor t);
mt_tensor mt_shallow_copy(mt_tensor t);   // a second handle to the same tensor

// --- shape ------------------------------------------------------------------------------------------
mt_tensor mt_reshape(mt_tensor t, const int64_t *shape, int ndim);
mt_tensor mt_permute(mt_tensor t, const int64_t *dims, int ndim);
mt_tensor mt_transpose(mt_tensor t, int64_t d0, int64_t d1);
mt_tensor mt_expand(mt_tensor t, const int64_t *shape, int ndim);
mt_tensor mt_squeeze(mt_tensor t, int64_t dim);
mt_tensor mt_unsqueeze(mt_tensor t, int64_t dim);
mt_tensor mt_flatten(mt_tensor t, int64_t start, int64_t end);
mt_tensor mt_slice(mt_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step);
mt_tensor mt_select(mt_tensor t, int64_t dim, int64_t index);
mt_tensor mt_index_select(mt_tensor t, int64_t dim, mt_tensor index);
mt_tensor mt_gather(mt_tensor t, int64_t dim, mt_tensor index);
mt_tensor mt_masked_fill(mt_tensor t, mt_tensor mask, double value);
mt_tensor mt_where(mt_tensor cond, mt_tensor a, mt_tensor b);
mt_tensor mt_cat(const mt_tensor *ts, int n, int64_t dim);
mt_tensor mt_stack(const mt_tensor *ts, int n, int64_t dim);
// Splits into pieces of the given sizes along dim; writes `n` handles to `out`.
int mt_split_sizes(mt_tensor t, const int64_t *sizes, int n, int64_t dim, mt_tensor *out);
mt_tensor mt_pad(mt_tensor t, const int64_t *pad, int npad, double value);
mt_tensor mt_repeat(mt_tensor t, const int64_t *repeats, int n);
mt_tensor mt_tril(mt_tensor t, int64_t diagonal);

// --- elementwise -----------------------------------------------------------------------------------
enum {
  MT_UNARY_NEG = 0, MT_UNARY_EXP, MT_UNARY_LOG, MT_UNARY_SQRT, MT_UNARY_RSQRT, MT_UNARY_ABS,
  MT_UNARY_SIN, MT_UNARY_COS, MT_UNARY_TANH, MT_UNARY_SIGMOID, MT_UNARY_SILU, MT_UNARY_GELU,
  MT_UNARY_GELU_TANH, MT_UNARY_RELU, MT_UNARY_SQUARE, MT_UNARY_RECIPROCAL, MT_UNARY_SIGN,
  MT_UNARY_FLOOR, MT_UNARY_CEIL, MT_UNARY_ROUND, MT_UNARY_LOGICAL_NOT, MT_UNARY_ISNAN,
  MT_UNARY_ISFINITE, MT_UNARY_ERF, MT_UNARY_LOG1P, MT_UNARY_EXPM1, MT_UNARY_SOFTPLUS
};
mt_tensor mt_unary(int op, mt_tensor t);
enum {
  MT_BINARY_ADD = 0, MT_BINARY_SUB, MT_BINARY_MUL, MT_BINARY_DIV, MT_BINARY_POW, MT_BINARY_MAXIMUM,
  MT_BINARY_MINIMUM, MT_BINARY_EQ, MT_BINARY_NE, MT_BINARY_LT, MT_BINARY_LE, MT_BINARY_GT,
  MT_BINARY_GE, MT_BINARY_AND, MT_BINARY_OR, MT_BINARY_ATAN2, MT_BINARY_FMOD
};
mt_tensor mt_binary(int op, mt_tensor a, mt_tensor b);
// Tensor ∘ scalar (reverse = scalar ∘ tensor, for the non-commutative ones).
mt_tensor mt_binary_scalar(int op, mt_tensor a, double s, bool reverse);
mt_tensor mt_clamp(mt_tensor t, double lo, double hi, bool has_lo, bool has_hi);
mt_tensor mt_lerp(mt_tensor a, mt_tensor b, double weight);

// --- reductions ----------------------------------------------------------------------------------
enum {
  MT_REDUCE_SUM = 0, MT_REDUCE_MEAN, MT_REDUCE_AMAX, MT_REDUCE_AMIN, MT_REDUCE_VAR, MT_REDUCE_STD,
  MT_REDUCE_NORM, MT_REDUCE_ARGMAX, MT_REDUCE_ARGMIN, MT_REDUCE_LOGSUMEXP, MT_REDUCE_PROD,
  MT_REDUCE_ANY, MT_REDUCE_ALL
};
// ndims == 0 reduces over everything. `unbiased` applies to var/std.
mt_tensor mt_reduce(int op, mt_tensor t, const int64_t *dims, int ndims, bool keepdim, bool unbiased);
mt_tensor mt_cumsum(mt_tensor t, int64_t dim);
// Values and indices of the k largest entries along dim.
int mt_topk(mt_tensor t, int64_t k, int64_t dim, bool largest, mt_tensor *values, mt_tensor *indices);
mt_tensor mt_sort(mt_tensor t, int64_t dim, bool descending, mt_tensor *indices);

// --- linear algebra and neural-network kernels ----------------------------------------------------------
mt_tensor mt_matmul(mt_tensor a, mt_tensor b);
mt_tensor mt_linear(mt_tensor x, mt_tensor w, mt_tensor b /* nullable */);
mt_tensor mt_softmax(mt_tensor t, int64_t dim);
mt_tensor mt_log_softmax(mt_tensor t, int64_t dim);
mt_tensor mt_layer_norm(mt_tensor x, const int64_t *shape, int ndim, mt_tensor w, mt_tensor b, double eps);
mt_tensor mt_group_norm(mt_tensor x, int64_t groups, mt_tensor w, mt_tensor b, double eps);
mt_tensor mt_conv2d(mt_tensor x, mt_tensor w, mt_tensor b, int64_t stride_h, int64_t stride_w,
                    int64_t pad_h, int64_t pad_w, int64_t dil_h, int64_t dil_w, int64_t groups);
enum { MT_INTERP_NEAREST = 0, MT_INTERP_BILINEAR = 1, MT_INTERP_BICUBIC = 2, MT_INTERP_AREA = 3 };
mt_tensor mt_interpolate(mt_tensor x, int64_t out_h, int64_t out_w, int mode, bool align_corners);
// q (B,H,Lq,E), k (B,H,Lk,E), v (B,H,Lk,Ev); mask nullable, bool, broadcastable to (B,H,Lq,Lk),
// True = attend. scale <= 0 means 1/sqrt(E).
mt_tensor mt_attention(mt_tensor q, mt_tensor k, mt_tensor v, mt_tensor mask, double scale, bool causal);
mt_tensor mt_embedding(mt_tensor weight, mt_tensor indices);
mt_tensor mt_dropout(mt_tensor x, double p, bool train);

// --- autograd ---------------------------------------------------------------------------------------------
int mt_set_requires_grad(mt_tensor t, bool flag);
mt_tensor mt_grad(mt_tensor t);                      // NULL with empty error when there is no gradient
int mt_zero_grad(mt_tensor t);                       // drops the gradient (set to undefined)
int mt_set_grad(mt_tensor t, mt_tensor g);
int mt_backward(mt_tensor t, mt_tensor grad /* nullable */, bool retain_graph);

// --- in place (used by optimizers under no-grad; they keep parameter identity) ----------------------------------------
int mt_copy_(mt_tensor dst, mt_tensor src);
int mt_zero_(mt_tensor t);
int mt_fill_(mt_tensor t, double value);
int mt_add_(mt_tensor t, mt_tensor other, double alpha);
int mt_add_scalar_(mt_tensor t, double s);
int mt_mul_(mt_tensor t, mt_tensor other);
int mt_mul_scalar_(mt_tensor t, double s);
int mt_div_(mt_tensor t, mt_tensor other);
int mt_addcmul_(mt_tensor t, mt_tensor a, mt_tensor b, double value);
int mt_addcdiv_(mt_tensor t, mt_tensor a, mt_tensor b, double value);
int mt_lerp_(mt_tensor t, mt_tensor end, double weight);
int mt_clamp_(mt_tensor t, double lo, double hi);
int mt_uniform_(mt_tensor t, double lo, double hi, mt_generator g);
int mt_normal_(mt_tensor t, double mean, double std, mt_generator g);
int mt_trunc_normal_(mt_tensor t, double mean, double std, double lo, double hi, mt_generator g);

#ifdef __cplusplus
}
#endif
#endif
