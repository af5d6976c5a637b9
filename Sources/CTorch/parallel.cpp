// parallel.cpp — a batch split across libtorch's intra-op threads (data parallelism inside one process), and
// the autograd pieces it needs: gradients returned instead of accumulated, then summed in a fixed order.
//
// Why: at the Shapes demo's size (2M parameters, batch 32) most operations are too small for libtorch to
// split across threads, so with intra-op threading alone the second core idles while the first runs them, and
// every split it does make costs an OpenMP fork and join. Giving each thread its own rows of the batch keeps
// every core busy for the whole forward and backward pass.
#include "support.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <dlfcn.h>

#include <algorithm>
#include <exception>
#include <vector>

namespace {

// libgomp's entry points, found at run time in the OpenMP runtime libtorch loaded (PyTorch's wheels ship their own
// copy). The shim is not compiled with -fopenmp: clang would link LLVM's runtime, a second OpenMP pool beside
// libtorch's. GOMP_parallel is what GCC emits for `#pragma omp parallel`, so libtorch's own parallel regions run the
// same way. Null when libtorch was built without OpenMP.
using GompParallel = void (*)(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
using OmpInt = int (*)();

struct OpenMP {
  GompParallel parallel = nullptr;
  OmpInt thread_num = nullptr;
  OmpInt num_threads = nullptr;
};

const OpenMP &openmp() {
  static const OpenMP found = [] {
    OpenMP o;
    o.parallel = reinterpret_cast<GompParallel>(dlsym(RTLD_DEFAULT, "GOMP_parallel"));
    o.thread_num = reinterpret_cast<OmpInt>(dlsym(RTLD_DEFAULT, "omp_get_thread_num"));
    o.num_threads = reinterpret_cast<OmpInt>(dlsym(RTLD_DEFAULT, "omp_get_num_threads"));
    if (!o.parallel || !o.thread_num || !o.num_threads) o = OpenMP{};
    return o;
  }();
  return found;
}

struct Region {
  void (*body)(void *ctx, int index);
  void *ctx;
  int n;
  const OpenMP *omp;
};

void run_region(void *data) {
  const auto *r = static_cast<const Region *>(data);
  const int tid = r->omp->thread_num(), team = std::max(1, r->omp->num_threads());
  at::internal::ThreadIdGuard tid_guard(tid);
  for (int i = tid; i < r->n; i += team) r->body(r->ctx, i);
}

}  // namespace

void ctorch::for_each_in_parallel(int n, const std::function<void(int)> &fn) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(std::max(0, n)));
  struct Context {
    const std::function<void(int)> *fn;
    std::vector<std::exception_ptr> *errors;
    bool grad_enabled;
  } context{&fn, &errors, at::GradMode::is_enabled()};
  mt_status status = mt_parallel_for_each(n, [](void *ctx, int i) {
    auto *c = static_cast<Context *>(ctx);
    try {
      at::AutoGradMode grad_mode(c->grad_enabled);  // the caller's, on every thread
      (*c->fn)(i);
    } catch (...) {
      (*c->errors)[static_cast<size_t>(i)] = std::current_exception();
    }
  }, &context);
  if (status != MT_OK) throw Failure(MT_ERR_INTERNAL, "parallel region failed");
  for (auto &e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Runs body(ctx, i) for i in [0, n) in one OpenMP parallel region of min(n, intra-op threads) threads, index i on
// thread i mod team. Inside, ATen sees it is in a parallel region (omp_in_parallel) and runs every operation on the
// calling thread, and MKL does the same, so the threads do not fork again. Thread-local state (grad mode, autocast) is
// each thread's own: `body` sets what it needs. Without OpenMP, or with one thread, the indices run in turn here.
// `body` must not throw; it reports failures through `ctx`.
mt_status mt_parallel_for_each(int n, void (*body)(void *ctx, int index), void *ctx) noexcept {
  GUARD_I({
    if (n < 0 || body == nullptr) throw Failure(MT_ERR_INTERNAL, "parallel_for_each: invalid arguments");
    const OpenMP &omp = openmp();
    const int team = std::min(n, at::get_num_threads());
    if (omp.parallel == nullptr || team < 2 || at::in_parallel_region()) {
      for (int i = 0; i < n; ++i) body(ctx, i);
      return MT_OK;
    }
    Region region{body, ctx, n, &omp};
    omp.parallel(run_region, &region, static_cast<unsigned>(team), 0);
  })
}

// torch.autograd.grad(output, inputs, allow_unused=True): d output / d inputs[i] into outs[i] (NULL where the
// input is not reached), without touching any `.grad`. Two threads may run this at once on graphs that share
// leaf tensors: neither writes to them.
mt_status mt_autograd_grad(mt_tensor output, const mt_tensor *inputs, int n, mt_tensor *outs) noexcept {
  GUARD_I({
    if (n < 0 || (n > 0 && (inputs == nullptr || outs == nullptr))) {
      throw Failure(MT_ERR_INTERNAL, "autograd_grad: invalid tensor list");
    }
    std::vector<at::Tensor> xs;
    xs.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      xs.push_back(T(inputs[i]));
      outs[i] = nullptr;
    }
    auto grads = torch::autograd::grad({T(output)}, xs, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    for (int i = 0; i < n; ++i) {
      if (grads[static_cast<size_t>(i)].defined()) outs[i] = wrap(std::move(grads[static_cast<size_t>(i)]));
    }
  })
}

// params[i].grad += grads[k·n + i] for each part k in turn (set when undefined), skipping NULL entries: the parts'
// gradients summed in part order, whatever order their threads finished in. The parameters are shared out between
// libtorch's threads, each parameter's sum on one thread.
mt_status mt_accumulate_grads(const mt_tensor *params, const mt_tensor *grads, int n, int parts) noexcept {
  GUARD_I({
    if (n < 0 || parts < 0 || (n > 0 && parts > 0 && (params == nullptr || grads == nullptr))) {
      throw Failure(MT_ERR_INTERNAL, "accumulate_grads: invalid tensor list");
    }
    at::NoGradGuard ng;
    ctorch::for_each_in_parallel(n, [&](int i) {
      const at::Tensor &p = T(params[i]);
      for (int k = 0; k < parts; ++k) {
        const mt_tensor h = grads[static_cast<size_t>(k) * static_cast<size_t>(n) + static_cast<size_t>(i)];
        if (h == nullptr) continue;
        if (p.grad().defined()) {
          p.mutable_grad().add_(T(h));
        } else {
          p.mutable_grad() = T(h);
        }
      }
    });
  })
}
