import MiroEngine

/// Port of `FusedMLP` in miro/models/networks/transformers.py: Linear → GELU → Linear with a
/// hidden width of `multiplier × dim`. Keys `linear_1`, `linear_2`.
public final class GELUMLP: Module {
    @Child(key: "linear_1") public var linear1: Linear
    @Child(key: "linear_2") public var linear2: Linear

    public init(_ dim: Int, multiplier: Int = 4, bias: Bool = true) throws {
        super.init()
        self.linear1 = try Linear(dim, dim * multiplier, bias: bias)
        self.linear2 = try Linear(dim * multiplier, dim, bias: bias)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try linear2(linear1(x).gelu())
    }
}

/// Port of `SwiGLU` in miro/models/networks/transformers.py: one packed projection split into
/// (a, b), output = W_out · (a ⊙ SiLU(b)). Keys `linear_packed`, `linear_out`.
public final class SwiGLU: Module {
    @Child(key: "linear_packed") public var packed: Linear
    @Child(key: "linear_out") public var out: Linear
    public let hidden: Int

    /// int(multiplier·dim·2/3) rounded up to a multiple of 256: 2816 for 1024, 1536 for 512.
    public static func hiddenWidth(_ dim: Int, multiplier: Int = 4) -> Int {
        let h = Int(Double(multiplier * dim) * 2.0 / 3.0)
        return h % 256 == 0 ? h : h + 256 - h % 256
    }

    public init(_ dim: Int, multiplier: Int = 4, bias: Bool = true) throws {
        hidden = SwiGLU.hiddenWidth(dim, multiplier: multiplier)
        super.init()
        self.packed = try Linear(dim, 2 * hidden, bias: bias)
        self.out = try Linear(hidden, dim, bias: bias)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        // x1, x2 = self.linear_packed(x).chunk(2, dim=-1); x = x1 * silu(x2)
        try out(packed(x).swiGLU())
    }
}
