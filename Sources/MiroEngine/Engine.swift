import CTorch
import Foundation

/// Process-wide facts and switches of the engine.
public enum Engine {
    /// libtorch's version, e.g. "1.13.1".
    public static var torchVersion: String { String(cString: mt_version()) }

    /// False also when probing the CUDA driver fails.
    public static var cudaAvailable: Bool { mt_cuda_available() }

    /// 0 without CUDA, and when the driver cannot be asked.
    public static var cudaDeviceCount: Int {
        var n: Int32 = 0
        return Int(mt_cuda_device_count(&n)) == MT_OK ? Int(n) : 0
    }

    /// libtorch's intra-op thread count (OpenBLAS keeps its own pool). Values below 1 become 1.
    public static var threads: Int {
        get {
            var n: Int32 = 0
            expectSuccess(mt_get_num_threads(&n), "get_num_threads")
            return Int(n)
        }
        set { expectSuccess(mt_set_num_threads(Int32(clamping: max(1, newValue))), "set_num_threads") }
    }

    /// The intra-op thread count `useDefaultThreads()` picks: `OMP_NUM_THREADS` when set; else every core when the
    /// matrix products share libtorch's OpenMP pool (MKL, as in PyTorch's own builds), half of them when they run on
    /// OpenBLAS's separate pool (Debian's libtorch 1.13).
    ///
    /// Half for OpenBLAS on purpose: the process as a whole still uses every core, and libtorch's OpenMP threads on
    /// top of OpenBLAS's threads on every core spin against that pool, which halved the speed of a training step on
    /// a busy 2-core machine (docs/benchmarks.md, "Threads"). With MKL one pool does everything, so one thread per
    /// core is PyTorch's own default and the fastest (docs/benchmarks.md).
    public static var defaultThreads: Int {
        if let text = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"], let n = Int(text), n > 0 { return n }
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return blasHasOwnPool ? max(1, cores / 2) : cores
    }

    /// Whether matrix products run on a BLAS thread pool of their own (OpenBLAS) rather than libtorch's OpenMP pool.
    public static var blasHasOwnPool: Bool { buildConfiguration.contains("BLAS_INFO=open") }

    /// Sets libtorch's intra-op thread count to `defaultThreads`.
    public static func useDefaultThreads() { threads = defaultThreads }

    /// Makes glibc keep freed blocks up to `bytes` in the heap instead of returning them to the system, so that a
    /// training step's activation buffers reuse pages instead of faulting in fresh ones every step (+14 % steps/s at
    /// `tiny` measured on libtorch 1.13; docs/benchmarks.md). For executables: it changes the whole process.
    public static func keepFreedMemory(upTo bytes: Int = 1 << 30) {
        expectSuccess(mt_keep_freed_memory(max(0, bytes)), "keep_freed_memory")
    }

    /// libtorch's build configuration (names the BLAS it was built against).
    public static var buildConfiguration: String {
        guard let info = mt_blas_info() else { return "unknown (\(String(cString: mt_last_error())))" }
        return String(cString: info)
    }

    /// Whether MKL runs the kernels this CPU's features allow although it is not an Intel CPU (the shim answers
    /// MKL's vendor check; `MIRO_MKL_VENDOR_CHECK=1` turns that off). False on Intel CPUs, where MKL does so anyway.
    public static var mklFeatureDispatch: Bool { mt_mkl_feature_dispatch() == 1 }

    /// "MKL feature dispatch" when `mklFeatureDispatch`, else nil: the label logs and benchmark headers print.
    public static var kernelNote: String? { mklFeatureDispatch ? "MKL feature dispatch" : nil }

    /// One line for logs: libtorch version, threads, and the MKL path on non-Intel CPUs.
    public static var summary: String {
        "libtorch \(torchVersion), \(threads) threads" + (kernelNote.map { ", \($0)" } ?? "")
    }

    /// Seeds libtorch's default CPU generator (used when no `Generator` is passed).
    public static func manualSeed(_ seed: UInt64) { expectSuccess(mt_manual_seed(seed), "manual_seed") }
}
