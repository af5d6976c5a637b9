import CTorch

/// A seeded random-number generator: libtorch's CPU Mersenne-Twister generator, so a seed gives
/// exactly the numbers of `torch.Generator().manual_seed(seed)` for the same calls, shapes and
/// dtypes. Noise is always drawn on the CPU and then moved, so a seed means the same image on
/// every device.
public final class Generator: @unchecked Sendable {
    let handle: OpaquePointer

    public init(seed: UInt64) throws {
        guard let h = mt_generator_new(seed) else { throw EngineError.last("Generator") }
        handle = h
    }

    deinit { mt_generator_free(handle) }

    /// The seed last set (`torch.Generator.initial_seed()`).
    public var seed: UInt64 { mt_generator_initial_seed(handle) }

    public func manualSeed(_ seed: UInt64) throws { try check(mt_generator_set_seed(handle, seed), "manual_seed") }

    /// The full generator state as bytes (`torch.Generator.get_state()`), for checkpoints.
    public func state() throws -> [UInt8] {
        guard let h = mt_generator_get_state(handle) else { throw EngineError.last("get_state") }
        return try Tensor(owning: h).toArray(UInt8.self)
    }

    public func setState(_ bytes: [UInt8]) throws {
        let t = try Tensor(bytes, shape: [bytes.count])
        try withExtendedLifetime(t) { try check(mt_generator_set_state(handle, t.handle), "set_state") }
    }
}

extension Tensor {
    /// Standard normal noise (`torch.randn(shape, generator=g)`).
    public static func randn(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: Generator? = nil) throws -> Tensor {
        try random(0, shape, dtype, device, generator)
    }

    /// Uniform noise on [0, 1) (`torch.rand`).
    public static func rand(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: Generator? = nil) throws -> Tensor {
        try random(1, shape, dtype, device, generator)
    }

    /// Integers in [low, high) (`torch.randint`), int64.
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], device: Device = .cpu, generator: Generator? = nil) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try withExtendedLifetime(generator) {
            try wrap("randint", mt_randint(Int64(low), Int64(high), dims, Int32(dims.count), device.code, generator?.handle))
        }
    }

    /// A random permutation of 0..<n (`torch.randperm`), int64.
    public static func randperm(_ n: Int, generator: Generator? = nil) throws -> Tensor {
        try withExtendedLifetime(generator) { try wrap("randperm", mt_randperm(Int64(n), generator?.handle)) }
    }

    /// 0/1 draws with probabilities `self` (`torch.bernoulli`).
    public func bernoulli(generator: Generator? = nil) throws -> Tensor {
        try withExtendedLifetime(generator) { try Tensor.wrap("bernoulli", mt_bernoulli(handle, generator?.handle)) }
    }

    /// Fills in place from U(lo, hi) (`nn.init.uniform_`).
    public func uniform_(_ lo: Double, _ hi: Double, generator: Generator? = nil) throws {
        try withExtendedLifetime(generator) { try check(mt_uniform_(handle, lo, hi, generator?.handle), "uniform_") }
    }

    /// Fills in place from N(mean, std²) (`nn.init.normal_`).
    public func normal_(mean: Double = 0, std: Double = 1, generator: Generator? = nil) throws {
        try withExtendedLifetime(generator) { try check(mt_normal_(handle, mean, std, generator?.handle), "normal_") }
    }

    /// Fills in place from N(mean, std²) truncated to [lo, hi], with the algorithm of
    /// `nn.init.trunc_normal_`.
    public func truncNormal_(mean: Double = 0, std: Double = 1, lo: Double = -2, hi: Double = 2, generator: Generator? = nil) throws {
        try withExtendedLifetime(generator) { try check(mt_trunc_normal_(handle, mean, std, lo, hi, generator?.handle), "trunc_normal_") }
    }

    private static func random(_ kind: Int32, _ shape: [Int], _ dtype: DType, _ device: Device, _ g: Generator?) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try withExtendedLifetime(g) {
            try wrap(kind == 0 ? "randn" : "rand", mt_random(kind, dims, Int32(dims.count), dtype.rawValue, device.code, g?.handle))
        }
    }
}
