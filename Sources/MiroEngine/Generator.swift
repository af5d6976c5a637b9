import CTorch

/// A seeded random-number generator: libtorch's CPU Mersenne-Twister generator, so a seed gives
/// exactly the numbers of `torch.Generator().manual_seed(seed)` for the same calls, shapes and
/// dtypes. Noise is always drawn on the CPU and then moved, so a seed means the same image on
/// every device.
public final class Generator: @unchecked Sendable {
    /// Reached only through `withHandle` (Handles.swift), like `Tensor`'s.
    private let handle: OpaquePointer

    public init(seed: UInt64) throws {
        guard let h = mt_generator_new(seed) else { throw EngineError.last("Generator") }
        handle = h
    }

    deinit { mt_generator_free(handle) }

    func withHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(handle) }
    }

    /// The seed last set (`torch.Generator.initial_seed()`).
    public var seed: UInt64 {
        var value: UInt64 = 0
        expectSuccess(withHandle { mt_generator_initial_seed($0, &value) }, "initial_seed")
        return value
    }

    public func manualSeed(_ seed: UInt64) throws {
        try check(withHandle { mt_generator_set_seed($0, seed) }, "manual_seed")
    }

    /// The full generator state as bytes (`torch.Generator.get_state()`), for checkpoints.
    public func state() throws -> [UInt8] {
        try Tensor.wrap("get_state", withHandle { mt_generator_get_state($0) }).toArray(UInt8.self)
    }

    public func setState(_ bytes: [UInt8]) throws {
        let t = try Tensor(bytes, shape: [bytes.count])
        try check(withHandles(self, t) { mt_generator_set_state($0, $1) }, "set_state")
    }
}

extension Tensor {
    /// Standard normal noise (`torch.randn(shape, generator=g)`).
    public static func randn(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: Generator? = nil) throws -> Tensor {
        try random(MT_RAND_NORMAL, "randn", shape, dtype, device, generator)
    }

    /// Uniform noise on [0, 1) (`torch.rand`).
    public static func rand(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: Generator? = nil) throws -> Tensor {
        try random(MT_RAND_UNIFORM, "rand", shape, dtype, device, generator)
    }

    /// Integers in [low, high) (`torch.randint`), int64.
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], device: Device = .cpu, generator: Generator? = nil) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try wrap("randint", generator.withHandle {
            mt_randint(Int64(low), Int64(high), dims, Int32(dims.count), device.code, $0)
        })
    }

    /// A random permutation of 0..<n (`torch.randperm`), int64.
    public static func randperm(_ n: Int, generator: Generator? = nil) throws -> Tensor {
        try wrap("randperm", generator.withHandle { mt_randperm(Int64(n), $0) })
    }

    /// 0/1 draws with probabilities `self` (`torch.bernoulli`).
    public func bernoulli(generator: Generator? = nil) throws -> Tensor {
        try Tensor.wrap("bernoulli", withHandles(self, generator) { mt_bernoulli($0, $1) })
    }

    /// Fills in place from U(lo, hi) (`nn.init.uniform_`).
    public func uniform_(_ lo: Double, _ hi: Double, generator: Generator? = nil) throws {
        try check(withHandles(self, generator) { mt_uniform_($0, lo, hi, $1) }, "uniform_")
    }

    /// Fills in place from N(mean, std²) (`nn.init.normal_`).
    public func normal_(mean: Double = 0, std: Double = 1, generator: Generator? = nil) throws {
        try check(withHandles(self, generator) { mt_normal_($0, mean, std, $1) }, "normal_")
    }

    /// Fills in place from N(mean, std²) truncated to [lo, hi], with the algorithm of
    /// `nn.init.trunc_normal_`.
    public func truncNormal_(mean: Double = 0, std: Double = 1, lo: Double = -2, hi: Double = 2, generator: Generator? = nil) throws {
        try check(withHandles(self, generator) { mt_trunc_normal_($0, mean, std, lo, hi, $1) }, "trunc_normal_")
    }

    private static func random(_ kind: Int, _ operation: String, _ shape: [Int], _ dtype: DType, _ device: Device,
                               _ g: Generator?) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try wrap(operation, g.withHandle {
            mt_random(Int32(kind), dims, Int32(dims.count), dtype.code, device.code, $0)
        })
    }
}
