// profiler.cpp — where a step's time goes, operator by operator: libtorch's own profiler (Kineto, CPU activity)
// around a stretch of work on the calling thread, summarised as self and total time per operator name (and input
// sizes, when recorded).
//
// Why: a perf profile names kernels (sgemm, a vectorised mul loop) but not the operators or shapes that called them,
// and it cannot tell dispatch and autograd overhead per operator apart. The profiler's events nest (aten::linear
// holds aten::addmm), so self time is an event's duration less its direct children's, computed per thread.
#include "support.h"

#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/autograd/profiler_kineto.h>

namespace {
namespace prof = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

impl::ProfilerConfig cpu_config(bool record_shapes) {
  return impl::ProfilerConfig(impl::ProfilerState::KINETO, record_shapes, /*profile_memory=*/false);
}

// "aten::mm [512,128] [128,384]": the name, then each input's sizes where they were recorded ("[]" for scalars and
// other non-tensor arguments).
std::string row_name(const prof::KinetoEvent &e) {
  std::string key = e.name();
  if (!e.hasShapes()) return key;
  bool any = false;
  std::string dims;
  for (const auto &shape : e.shapes()) {
    dims += " [";
    for (size_t k = 0; k < shape.size(); ++k) dims += (k ? "," : "") + std::to_string(shape[k]);
    dims += "]";
    any = any || !shape.empty();
  }
  return any ? key + dims : key;
}

const std::set<impl::ActivityType> &cpu_only() {
  static const std::set<impl::ActivityType> a{impl::ActivityType::CPU};
  return a;
}

struct Totals {
  int64_t count = 0;
  uint64_t self_ns = 0;
  uint64_t total_ns = 0;
};
}  // namespace

mt_status mt_profiler_start(bool record_shapes) noexcept {
  GUARD_I({
    if (prof::isProfilerEnabledInMainThread()) throw Failure(MT_ERR_INTERNAL, "the profiler is already running");
    setenv("KINETO_LOG_LEVEL", "4", /*overwrite=*/0);  // Kineto's own start/stop and GPU-probe lines: errors only
    prof::prepareProfiler(cpu_config(record_shapes), cpu_only());
    prof::enableProfiler(cpu_config(record_shapes), cpu_only());
  })
}

mt_status mt_profiler_stop(const char *trace_path, char **table_out) noexcept {
  GUARD_I({
    out_param(table_out);
    *table_out = nullptr;
    if (!prof::isProfilerEnabledInMainThread()) throw Failure(MT_ERR_INTERNAL, "the profiler is not running");
    auto result = prof::disableProfiler();
    if (!result) throw Failure(MT_ERR_INTERNAL, "the profiler returned no result");
    if (trace_path != nullptr && *trace_path != 0) result->save(trace_path);

    // Per thread, in start order: an event's parent is the innermost open event that contains it.
    struct Span {
      std::string name;
      uint64_t start, end;
      uint64_t children = 0;
    };
    std::map<uint64_t, std::vector<Span>> threads;
    for (const auto &e : result->events()) {
      if (e.deviceType() != c10::DeviceType::CPU || e.endNs() < e.startNs()) continue;
      threads[e.startThreadId()].push_back({row_name(e), e.startNs(), e.endNs()});
    }
    std::map<std::string, Totals> by_name;
    for (auto &[tid, spans] : threads) {
      std::sort(spans.begin(), spans.end(), [](const Span &a, const Span &b) {
        return a.start != b.start ? a.start < b.start : a.end > b.end;
      });
      std::vector<size_t> open;
      for (size_t i = 0; i < spans.size(); ++i) {
        while (!open.empty() && spans[open.back()].end <= spans[i].start) open.pop_back();
        if (!open.empty()) spans[open.back()].children += std::min(spans[i].end, spans[open.back()].end) - spans[i].start;
        open.push_back(i);
      }
      for (const auto &s : spans) {
        auto &t = by_name[s.name];
        t.count += 1;
        t.total_ns += s.end - s.start;
        t.self_ns += (s.end - s.start) - std::min(s.children, s.end - s.start);
      }
    }
    std::ostringstream table;
    for (const auto &[name, t] : by_name) table << name << '\t' << t.count << '\t' << t.self_ns << '\t' << t.total_ns << '\n';
    *table_out = strdup(table.str().c_str());
    if (*table_out == nullptr) throw Failure(MT_ERR_INTERNAL, "out of memory for the profile table");
  })
}

#else

mt_status mt_profiler_start(bool) noexcept {
  GUARD_I({ throw Failure(MT_ERR_INTERNAL, "operator profiles need libtorch 2 (this build links " TORCH_VERSION ")"); })
}
mt_status mt_profiler_stop(const char *, char **table_out) noexcept {
  GUARD_I({
    out_param(table_out);
    *table_out = nullptr;
    throw Failure(MT_ERR_INTERNAL, "operator profiles need libtorch 2 (this build links " TORCH_VERSION ")");
  })
}

#endif
