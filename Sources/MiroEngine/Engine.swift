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

    /// The intra-op thread count `useDefaultThreads()` picks: `OMP_NUM_THREADS` when set, else half the
    /// logical cores (at least one).
    ///
    /// Half, on purpose: the process as a whole still uses every core.
    /// Matrix products run on OpenBLAS's own pool, one thread per core; libtorch's OpenMP threads
    /// on top of it on every core spin against that pool, which halved the speed of a training
    /// step on a busy 2-core machine (docs/benchmarks.md, "Threads"). On a quiet machine 1 and 2
    /// OpenMP threads measured alike, so half costs nothing there.
    public static var defaultThreads: Int {
        if let text = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"], let n = Int(text), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
    }

    /// Sets libtorch's intra-op thread count to `defaultThreads` (see there for why that is half
    /// the cores: OpenBLAS uses the others).
    public static func useDefaultThreads() { threads = defaultThreads }

    /// libtorch's build configuration (names the BLAS it was built against).
    public static var buildConfiguration: String {
        guard let info = mt_blas_info() else { return "unknown (\(String(cString: mt_last_error())))" }
        return String(cString: info)
    }

    /// Seeds libtorch's default CPU generator (used when no `Generator` is passed).
    public static func manualSeed(_ seed: UInt64) { expectSuccess(mt_manual_seed(seed), "manual_seed") }
}
