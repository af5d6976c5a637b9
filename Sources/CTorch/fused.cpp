// fused.cpp — kernels libtorch has no single operator for, each with its own backward.
//
// SwiGLU's gate, out = a · silu(b) with (a, b) = h.chunk(2, -1) (miro/models/networks/rin.py's SwiGLU, method §5.3):
// as ATen operators it is a chunk, a silu and a mul forward, and in backward two muls, a silu_backward and the
// chunk's backward, a cat that copies both halves again. At the Shapes demo's size these passes over memory, and the
// operators' dispatch and autograd nodes, are a tenth of a training step. Here it is one pass forward and one pass
// backward, with the same formulas as ATen's silu kernels (x / (1 + e^−x); dy·σ·(1 + x·(1 − σ))) and the same
// vectorised exponential (SLEEF's expf8_u10, which ATen's AVX2 kernels call), so values agree with the ATen path to
// within a rounding step. Everything else — other dtypes, other devices, CPUs without AVX2 and FMA, libtorch builds
// without SLEEF — runs the ATen operators.
#include "support.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

at::Tensor swiglu_aten(const at::Tensor &h) {
  auto parts = h.chunk(2, -1);
  return parts[0] * at::silu(parts[1]);
}

#if defined(__x86_64__)
using ExpF8 = __m256 (*)(__m256);

// Whether this CPU runs the AVX2 + FMA kernels below.
bool has_avx2_fma() {
  static const bool found = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return found;
}

// SLEEF's 8-wide expf, 1-ulp accuracy, from the libtorch that is loaded (PyTorch's builds export it); null when
// absent or when this CPU lacks AVX2 and FMA.
ExpF8 exp_f8() {
  static const ExpF8 found = []() -> ExpF8 {
    if (!has_avx2_fma()) return nullptr;
    return reinterpret_cast<ExpF8>(dlsym(RTLD_DEFAULT, "Sleef_expf8_u10"));
  }();
  return found;
}

// Rows [r0, r1) of width 2H in h → rows of width H in out.
__attribute__((target("avx2,fma"))) void swiglu_rows(const float *h, float *out, int64_t r0, int64_t r1, int64_t H,
                                                      ExpF8 expf8) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  // silu(b) = b / (1 + exp(-b)); then a * silu(b)
  auto gate = [&](__m256 va, __m256 vb) __attribute__((target("avx2,fma"))) {
    return _mm256_mul_ps(va, _mm256_div_ps(vb, _mm256_add_ps(one, expf8(_mm256_xor_ps(vb, sign)))));
  };
  for (int64_t r = r0; r < r1; ++r) {
    const float *a = h + r * 2 * H, *b = a + H;
    float *o = out + r * H;
    int64_t j = 0;
    for (; j + 8 <= H; j += 8) _mm256_storeu_ps(o + j, gate(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j)));
    if (j < H) {  // the last H mod 8 columns, through a zero-padded vector
      const size_t n = static_cast<size_t>(H - j) * sizeof(float);
      alignas(32) float ta[8] = {0}, tb[8] = {0}, to[8];
      std::memcpy(ta, a + j, n);
      std::memcpy(tb, b + j, n);
      _mm256_store_ps(to, gate(_mm256_load_ps(ta), _mm256_load_ps(tb)));
      std::memcpy(o + j, to, n);
    }
  }
}

// Rows of dh = [g · silu(b), (g · a) · σ(b) · (1 + b · (1 − σ(b)))]: the mul's two gradients, then silu_backward.
__attribute__((target("avx2,fma"))) void swiglu_backward_rows(const float *h, const float *g, float *dh, int64_t r0,
                                                               int64_t r1, int64_t H, ExpF8 expf8) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  auto grads = [&](__m256 va, __m256 vb, __m256 vg, __m256 &da, __m256 &db) __attribute__((target("avx2,fma"))) {
    const __m256 denom = _mm256_add_ps(one, expf8(_mm256_xor_ps(vb, sign)));
    const __m256 silu = _mm256_div_ps(vb, denom), sigmoid = _mm256_div_ps(one, denom);
    da = _mm256_mul_ps(vg, silu);
    const __m256 slope = _mm256_add_ps(one, _mm256_mul_ps(vb, _mm256_sub_ps(one, sigmoid)));
    db = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(vg, va), sigmoid), slope);
  };
  for (int64_t r = r0; r < r1; ++r) {
    const float *a = h + r * 2 * H, *b = a + H, *gr = g + r * H;
    float *da = dh + r * 2 * H, *db = da + H;
    int64_t j = 0;
    __m256 va, vb;
    for (; j + 8 <= H; j += 8) {
      grads(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), _mm256_loadu_ps(gr + j), va, vb);
      _mm256_storeu_ps(da + j, va);
      _mm256_storeu_ps(db + j, vb);
    }
    if (j < H) {  // the last H mod 8 columns, through zero-padded vectors
      const size_t n = static_cast<size_t>(H - j) * sizeof(float);
      alignas(32) float ta[8] = {0}, tb[8] = {0}, tg[8] = {0};
      std::memcpy(ta, a + j, n);
      std::memcpy(tb, b + j, n);
      std::memcpy(tg, gr + j, n);
      grads(_mm256_load_ps(ta), _mm256_load_ps(tb), _mm256_load_ps(tg), va, vb);
      _mm256_store_ps(ta, va);
      _mm256_store_ps(tb, vb);
      std::memcpy(da + j, ta, n);
      std::memcpy(db + j, tb, n);
    }
  }
}

// fn(r0, r1) over [0, rows): on the calling thread for small tensors or inside a parallel region (a batch split),
// else in as many row blocks as libtorch has threads.
template <class F>
void over_rows(int64_t rows, int64_t elements, const F &fn) {
  const int threads = at::in_parallel_region() || elements < at::internal::GRAIN_SIZE
                          ? 1 : static_cast<int>(std::min<int64_t>(at::get_num_threads(), rows));
  if (threads <= 1) {
    fn(int64_t{0}, rows);
    return;
  }
  ctorch::for_each_in_parallel(threads, [&](int i) { fn(rows * i / threads, rows * (i + 1) / threads); });
}
#endif

bool fused_applies(const at::Tensor &h) {
#if defined(__x86_64__)
  return exp_f8() != nullptr && h.device().is_cpu() && h.scalar_type() == at::kFloat && h.dim() >= 1 &&
         h.size(-1) % 2 == 0 && h.size(-1) > 0 && h.numel() > 0;
#else
  (void)h;
  return false;
#endif
}

struct SwiGLU : public torch::autograd::Function<SwiGLU> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &packed) {
    at::Tensor h = packed.contiguous();
    ctx->save_for_backward({h});
    auto sizes = h.sizes().vec();
    const int64_t H = sizes.back() / 2;
    sizes.back() = H;
    at::Tensor out = at::empty(sizes, h.options());
#if defined(__x86_64__)
    const float *hp = h.data_ptr<float>();
    float *op = out.data_ptr<float>();
    const ExpF8 e = exp_f8();
    over_rows(h.numel() / (2 * H), h.numel(), [&](int64_t r0, int64_t r1) { swiglu_rows(hp, op, r0, r1, H, e); });
#endif
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor h = ctx->get_saved_variables()[0];
    const at::Tensor g = grads[0].contiguous();
    at::Tensor dh = at::empty_like(h);
#if defined(__x86_64__)
    const int64_t H = h.size(-1) / 2;
    const float *hp = h.data_ptr<float>(), *gp = g.data_ptr<float>();
    float *dp = dh.data_ptr<float>();
    const ExpF8 e = exp_f8();
    over_rows(h.numel() / (2 * H), h.numel(),
              [&](int64_t r0, int64_t r1) { swiglu_backward_rows(hp, gp, dp, r0, r1, H, e); });
#endif
    return {dh};
  }
};

}  // namespace

extern "C" {

mt_tensor mt_swiglu(mt_tensor packed) noexcept {
  GUARD_T({
    const at::Tensor &h = T(packed);
    if (h.dim() < 1 || h.size(-1) % 2 != 0) {
      throw Failure(MT_ERR_SHAPE, "swiglu: the last dimension must be even, got shape " + c10::str(h.sizes()));
    }
    return wrap(fused_applies(h) ? SwiGLU::apply(h) : swiglu_aten(h));
  })
}

mt_tensor mt_swiglu_aten(mt_tensor packed) noexcept { GUARD_T({ return wrap(swiglu_aten(T(packed))); }) }

bool mt_swiglu_is_fused(mt_tensor packed) noexcept {
  try {
    return fused_applies(T(packed));
  } catch (...) {
    return false;
  }
}

}  // extern "C"

// --- LAMB, one parameter tensor in two passes ---------------------------------------------------------------------
// The per-tensor ATen operations of multi.cpp's LAMB step (moments, bias-corrected update, weight decay, trust ratio,
// parameter update) read and write the parameter's four tensors a dozen times. Here pass 1 updates both moments and
// sums ‖w‖² and ‖u‖²; pass 2 recomputes u from the new moments (the same operations, so the same values) and applies
// it. The elementwise formulas are ATen's: moments as mul_ then add_/addcmul_, u = (m/bc1) / (√(v/bc2) + ε).
namespace {
#if defined(__x86_64__)
struct LambScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, bc1, bc2, eps, weight_decay;
  bool coupled_decay;
};

__attribute__((target("avx2,fma"))) inline __m256 lamb_update(__m256 m, __m256 v, __m256 p, const LambScalars &s) {
  __m256 u = _mm256_div_ps(_mm256_div_ps(m, _mm256_set1_ps(s.bc1)),
                           _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(v, _mm256_set1_ps(s.bc2))), _mm256_set1_ps(s.eps)));
  if (s.coupled_decay) u = _mm256_fmadd_ps(p, _mm256_set1_ps(s.weight_decay), u);
  return u;
}

// Pass 1 over n elements (n a multiple of 8 here; the tail goes through padded copies): new moments, and the
// squared norms of w and u accumulated per lane.
__attribute__((target("avx2,fma"))) void lamb_moments(float *p, const float *g, float *m, float *v, int64_t n,
                                                      const LambScalars &s, double &w2, double &u2) {
  __m256 wacc = _mm256_setzero_ps(), uacc = _mm256_setzero_ps();
  const __m256 b1 = _mm256_set1_ps(s.beta1), c1 = _mm256_set1_ps(s.one_minus_beta1);
  const __m256 b2 = _mm256_set1_ps(s.beta2), c2 = _mm256_set1_ps(s.one_minus_beta2);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 vg = _mm256_loadu_ps(g + i), vp = _mm256_loadu_ps(p + i);
    const __m256 vm = _mm256_fmadd_ps(vg, c1, _mm256_mul_ps(_mm256_loadu_ps(m + i), b1));
    const __m256 vv = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2), _mm256_mul_ps(_mm256_mul_ps(c2, vg), vg));
    _mm256_storeu_ps(m + i, vm);
    _mm256_storeu_ps(v + i, vv);
    const __m256 u = lamb_update(vm, vv, vp, s);
    wacc = _mm256_fmadd_ps(vp, vp, wacc);
    uacc = _mm256_fmadd_ps(u, u, uacc);
  }
  alignas(32) float wl[8], ul[8];
  _mm256_store_ps(wl, wacc);
  _mm256_store_ps(ul, uacc);
  for (int k = 0; k < 8; ++k) {
    w2 += wl[k];
    u2 += ul[k];
  }
}

// Pass 2: p += alpha · u, then p *= (1 − wd) with decoupled decay.
__attribute__((target("avx2,fma"))) void lamb_apply(float *p, const float *m, const float *v, int64_t n,
                                                    const LambScalars &s, float alpha, bool decoupled, float keep) {
  const __m256 a = _mm256_set1_ps(alpha), k = _mm256_set1_ps(keep);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 vp = _mm256_loadu_ps(p + i);
    __m256 np = _mm256_fmadd_ps(lamb_update(_mm256_loadu_ps(m + i), _mm256_loadu_ps(v + i), vp, s), a, vp);
    if (decoupled) np = _mm256_mul_ps(np, k);
    _mm256_storeu_ps(p + i, np);
  }
}
#endif

bool dense_float_cpu(const at::Tensor &t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
}
}  // namespace

bool ctorch::lamb_step_fused(at::Tensor &p, const at::Tensor &g, at::Tensor &m, at::Tensor &v, int64_t step, double lr,
                             double beta1, double beta2, double eps, double weight_decay, bool adapt, bool decouple) {
#if defined(__x86_64__)
  if (!has_avx2_fma() || !dense_float_cpu(p) || !dense_float_cpu(g) || !dense_float_cpu(m) || !dense_float_cpu(v) ||
      g.numel() != p.numel() || m.numel() != p.numel() || v.numel() != p.numel()) {
    return false;
  }
  LambScalars s{static_cast<float>(beta1), static_cast<float>(1 - beta1), static_cast<float>(beta2),
                static_cast<float>(1 - beta2), static_cast<float>(1 - std::pow(beta1, static_cast<double>(step))),
                static_cast<float>(1 - std::pow(beta2, static_cast<double>(step))), static_cast<float>(eps),
                static_cast<float>(weight_decay), weight_decay != 0 && !decouple};
  const int64_t n = p.numel(), body = n - n % 8;
  float *pp = p.data_ptr<float>(), *mp = m.data_ptr<float>(), *vp = v.data_ptr<float>();
  const float *gp = g.data_ptr<float>();
  double w2 = 0, u2 = 0;
  lamb_moments(pp, gp, mp, vp, body, s, w2, u2);
  // The tail: padded copies, zeros beyond n (they add nothing to either norm: u of zeros is 0 / (0 + ε) = 0)
  alignas(32) float tp[8] = {0}, tg[8] = {0}, tm[8] = {0}, tv[8] = {0};
  const size_t tail = static_cast<size_t>(n - body) * sizeof(float);
  if (tail > 0) {
    std::memcpy(tp, pp + body, tail);
    std::memcpy(tg, gp + body, tail);
    std::memcpy(tm, mp + body, tail);
    std::memcpy(tv, vp + body, tail);
    lamb_moments(tp, tg, tm, tv, 8, s, w2, u2);
    std::memcpy(mp + body, tm, tail);
    std::memcpy(vp + body, tv, tail);
  }
  float ratio = 1;
  if (adapt) {
    // trust = where(|w| != 0, where(|u| != 0, |w|/|u|, 1), 1), in float as the ATen path
    const float wn = static_cast<float>(std::sqrt(w2)), un = static_cast<float>(std::sqrt(u2));
    if (wn != 0 && un != 0) ratio = wn / un;
  }
  const float alpha = adapt ? ratio * static_cast<float>(-lr) : static_cast<float>(-lr);
  const bool decoupled = weight_decay != 0 && decouple;
  const float keep = static_cast<float>(1 - weight_decay);
  lamb_apply(pp, mp, vp, body, s, alpha, decoupled, keep);
  if (tail > 0) {
    lamb_apply(tp, tm, tv, 8, s, alpha, decoupled, keep);
    std::memcpy(pp + body, tp, tail);
  }
  return true;
#else
  (void)p; (void)g; (void)m; (void)v; (void)step; (void)lr; (void)beta1; (void)beta2; (void)eps; (void)weight_decay;
  (void)adapt; (void)decouple;
  return false;
#endif
}
