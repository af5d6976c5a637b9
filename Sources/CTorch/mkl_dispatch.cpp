// mkl_dispatch.cpp — let the MKL inside PyTorch's libtorch_cpu pick its kernels by CPU features, not by vendor.
//
// PyTorch's wheels link Intel MKL statically. MKL chooses its sgemm kernels by asking `mkl_serv_intel_cpu_true()`
// whether the CPU is an Intel one; on any other x86 (this project's AMD EPYC machines among them) it answers no and
// MKL runs its generic AVX2 path (`mkl_blas_def_sgemm_kernel_0_zen`), whatever the CPU supports. libtorch_cpu.so
// calls that function through its PLT, so a definition in the executable takes precedence over MKL's own. Ours
// answers yes where the CPU has the AVX2 + FMA that MKL's fast paths need; MKL then reads the feature bits itself
// (AVX-512 on Zen 4, AVX2 on Zen 2/3), as it does on Intel. On the 2-core AMD EPYC (AVX-512) the Shapes demo's
// training step went from ~135 to ~195 samples/s with the same losses (docs/benchmarks.md).
//
// MIRO_MKL_VENDOR_CHECK=1 restores MKL's own answer (the generic path off Intel). Builds against Debian's
// libtorch 1.13 (OpenBLAS, no MKL) and non-x86 machines never call it.
#include "ctorch.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <dlfcn.h>

namespace {

bool cpu_is_intel() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
  char vendor[13];
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  return std::strcmp(vendor, "GenuineIntel") == 0;
}

bool cpu_has_avx2_fma() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = (c & bit_FMA) != 0, osxsave = (c & bit_OSXSAVE) != 0, avx = (c & bit_AVX) != 0;
  if (!fma || !osxsave || !avx) return false;
  // The OS must save the YMM state (XCR0 bits 1 and 2), or AVX instructions fault.
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x6) != 0x6) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & bit_AVX2) != 0;
}

int decide() {
  if (cpu_is_intel()) return 1;
  const char *check = std::getenv("MIRO_MKL_VENDOR_CHECK");
  if (check != nullptr && std::strcmp(check, "1") == 0) return 0;
  return cpu_has_avx2_fma() ? 1 : 0;
}

}  // namespace

extern "C" {

// MKL's name and signature; called by MKL before each dispatch decision, so the answer is computed once.
__attribute__((visibility("default"), used)) int mkl_serv_intel_cpu_true(void) {
  static const int answer = decide();
  return answer;
}

// For `miro` to report which path MKL takes: 1 when the override is in effect on a non-Intel CPU. The dynamic
// linker's answer for the name is checked too: MKL's calls reach this definition only when the executable exports
// it (the linker does so because libtorch_cpu.so refers to it).
int mt_mkl_feature_dispatch(void) noexcept {
  if (cpu_is_intel() || mkl_serv_intel_cpu_true() != 1) return 0;
  void *bound = dlsym(RTLD_DEFAULT, "mkl_serv_intel_cpu_true");
  return bound == reinterpret_cast<void *>(&mkl_serv_intel_cpu_true) ? 1 : 0;
}

}  // extern "C"

#else

extern "C" int mt_mkl_feature_dispatch(void) noexcept { return 0; }

#endif
