import MiroEngine

/// `nn.Linear`: y = x·Wᵀ + b, weight (out, in). Keys `weight`, `bias`.
public final class Linear: Module {
    @Param(key: "weight") public var weight: Tensor
    @OptionalParam(key: "bias") public var bias: Tensor?

    public let inFeatures: Int
    public let outFeatures: Int

    /// Initialised like PyTorch: U(−1/√in, 1/√in) for weight and bias (kaiming_uniform with a=√5).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, dtype: DType = .float32,
                generator: Generator? = nil) throws {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        super.init()
        let bound = 1 / Double(inFeatures).squareRoot()
        let w = try Tensor.empty([outFeatures, inFeatures], dtype: dtype)
        try w.uniform_(-bound, bound, generator: generator)
        self.weight = w
        if bias {
            let b = try Tensor.empty([outFeatures], dtype: dtype)
            try b.uniform_(-bound, bound, generator: generator)
            self.bias = b
        }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.linear(weight, bias)
    }
}

/// A learned lookup table (`nn.Embedding`), key `weight` of shape (count, dim).
public final class Embedding: Module {
    @Param(key: "weight") public var weight: Tensor

    /// Initialised from N(0, 1) as PyTorch does.
    public init(_ count: Int, _ dim: Int, generator: Generator? = nil) throws {
        super.init()
        let w = try Tensor.empty([count, dim])
        try w.normal_(generator: generator)
        self.weight = w
    }

    /// Rows for int64 `indices` of any shape: output shape `indices.shape + [dim]`.
    public func callAsFunction(_ indices: Tensor) throws -> Tensor {
        try Tensor.embedding(weight, indices)
    }
}
