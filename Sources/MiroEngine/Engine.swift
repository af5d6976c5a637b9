import CTorch
import Foundation

/// Process-wide facts and switches of the engine.
public enum Engine {
    /// libtorch's version, e.g. "1.13.1".
    public static var torchVersion: String { String(cString: mt_version()) }

    public static var cudaAvailable: Bool { mt_cuda_available() }
    public static var cudaDeviceCount: Int { Int(mt_cuda_device_count()) }

    /// libtorch's intra-op thread count (OpenBLAS keeps its own pool).
    public static var threads: Int {
        get { Int(mt_get_num_threads()) }
        set { mt_set_num_threads(Int32(max(1, newValue))) }
    }

    /// Picks libtorch's intra-op thread count: `OMP_NUM_THREADS` when set, else half the cores.
    /// OpenBLAS runs matrix products on its own pool of one thread per core; OpenMP threads on top
    /// of it on every core spin against it, which halved training speed on a busy 2-core machine
    /// (docs/benchmarks.md).
    public static func useAllCores() {
        if let text = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"], let n = Int(text), n > 0 {
            threads = n
        } else {
            threads = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
        }
    }

    /// libtorch's build configuration (names the BLAS it was built against).
    public static var buildConfiguration: String { String(cString: mt_blas_info()) }

    /// Seeds libtorch's default CPU generator (used when no `Generator` is passed).
    public static func manualSeed(_ seed: UInt64) { mt_manual_seed(seed) }
}
