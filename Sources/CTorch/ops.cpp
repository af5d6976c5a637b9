// ops.cpp — the shim's tensor operations: shapes, elementwise math, reductions and the
// neural-network kernels (ctorch.h). Split from shim.cpp to keep files short; the entry points
// follow the same rules (support.h).
#include "support.h"

#include <torch/version.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

extern "C" {

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

}  // extern "C"
