// multi.cpp — whole optimizer-side updates in one call: the NaN guard with gradient clipping, a LAMB step over a
// parameter group, and the EMA update. Each runs exactly the per-tensor ATen operations the Swift code ran before,
// without one Swift → C crossing and one Swift object per tensor and operation: for MIRO's ~100–500 parameter tensors
// that was thousands of crossings per step. The tensors are shared out between libtorch's threads, each tensor's
// operations running single-threaded (ctorch::for_each_in_parallel): the same bits as that Swift loop on one thread,
// and every core busy where the tensors are too small for ATen to split.
#include "support.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <vector>

namespace {

std::vector<at::Tensor> tensors(const mt_tensor *hs, int n) {
  if (n < 0 || (n > 0 && hs == nullptr)) throw Failure(MT_ERR_INTERNAL, "invalid tensor list");
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(T(hs[i]));
  return out;
}

// The defined gradients of `params`, in order.
std::vector<at::Tensor> grads_of(const std::vector<at::Tensor> &params) {
  std::vector<at::Tensor> grads;
  grads.reserve(params.size());
  for (const auto &p : params) {
    const at::Tensor &g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  return grads;
}

// torch.stack([g.norm() for g in grads]).norm(), the per-tensor norms computed on all threads at once
at::Tensor total_norm(const std::vector<at::Tensor> &grads) {
  std::vector<at::Tensor> norms(grads.size());
  ctorch::for_each_in_parallel(static_cast<int>(grads.size()), [&](int i) {
    norms[static_cast<size_t>(i)] = at::norm(grads[static_cast<size_t>(i)]);
  });
  return at::norm(at::stack(norms));
}

}  // namespace

extern "C" {

mt_status mt_guard_and_clip_grads(const mt_tensor *params, int n, double max_norm, double *norm_out,
                                  bool *had_nonfinite) noexcept {
  GUARD_I({
    at::NoGradGuard ng;
    auto grads = grads_of(tensors(params, n));
    *out_param(had_nonfinite) = false;
    *out_param(norm_out) = 0;
    if (grads.empty()) return MT_OK;
    at::Tensor total = total_norm(grads);
    // A finite norm means every entry is finite, so the per-tensor NaN guard runs only when the norm is not.
    if (!std::isfinite(total.item<double>())) {
      for (auto &g : grads) {
        at::Tensor bad = g.isfinite().logical_not();
        if (bad.any().item<bool>()) {
          g.copy_(g.masked_fill(bad, 0));
          *had_nonfinite = true;
        }
      }
      if (*had_nonfinite) total = total_norm(grads);
    }
    // clip_coef = max_norm / (total + 1e-6), clamped to 1, as Swift's Gradients.clipNorm
    at::Tensor clamped = at::clamp_max(at::reciprocal(total + 1e-6) * max_norm, 1);
    ctorch::for_each_in_parallel(static_cast<int>(grads.size()), [&](int i) {
      at::Tensor &g = grads[static_cast<size_t>(i)];
      g.mul_(clamped.to(g.scalar_type()));
    });
    *norm_out = total.item<double>();
  })
}

mt_status mt_lamb_step(const mt_tensor *params, const mt_tensor *exp_avg, const mt_tensor *exp_avg_sq,
                       const int64_t *steps, int n, double lr, double beta1, double beta2, double eps,
                       double weight_decay, bool adapt, bool decouple) noexcept {
  GUARD_I({
    at::NoGradGuard ng;
    auto ps = tensors(params, n), ms = tensors(exp_avg, n), vs = tensors(exp_avg_sq, n);
    if (n > 0 && steps == nullptr) throw Failure(MT_ERR_INTERNAL, "null step list");
    // Each parameter's update is its own (LAMB's trust ratio is per tensor), so the tensors are shared out between
    // the threads, each updating its tensors single-threaded: a small model's tensors are mostly too small for
    // ATen to split, and this keeps every core busy.
    ctorch::for_each_in_parallel(n, [&](int i) {
      at::Tensor &p = ps[i];
      const at::Tensor &g = p.grad();
      if (!g.defined()) return;
      if (ctorch::lamb_step_fused(p, g, ms[i], vs[i], steps[i], lr, beta1, beta2, eps, weight_decay, adapt, decouple)) {
        return;
      }
      ms[i].mul_(beta1);
      ms[i].add_(g, 1 - beta1);
      vs[i].mul_(beta2);
      vs[i].addcmul_(g, g, 1 - beta2);
      double bc1 = 1 - std::pow(beta1, static_cast<double>(steps[i]));
      double bc2 = 1 - std::pow(beta2, static_cast<double>(steps[i]));
      at::Tensor update = at::div(at::div(ms[i], bc1), at::add(at::sqrt(at::div(vs[i], bc2)), eps));
      if (weight_decay != 0 && !decouple) update.add_(p, weight_decay);
      double alpha = -lr;
      if (adapt) {
        // trust = where(|w| != 0, where(|u| != 0, |w|/|u|, 1), 1), in the parameter's dtype (as in Python)
        at::Tensor w_norm = at::norm(p), u_norm = at::norm(update);
        at::Tensor one = at::ones({}, w_norm.options());
        at::Tensor ratio = at::where(w_norm.ne(0), at::where(u_norm.ne(0), w_norm / u_norm, one), one);
        alpha = (ratio * -lr).item<double>();
      }
      p.add_(update, alpha);
      if (weight_decay != 0 && decouple) p.mul_(1 - weight_decay);
    });
  })
}

mt_status mt_ema_update(const mt_tensor *shadow, const mt_tensor *params, int n, double decay) noexcept {
  GUARD_I({
    at::NoGradGuard ng;
    auto ss = tensors(shadow, n), ps = tensors(params, n);
    ctorch::for_each_in_parallel(n, [&](int i) {
      ss[i].mul_(decay);
      ss[i].add_(ps[i], 1 - decay);
    });
  })
}

}  // extern "C"
