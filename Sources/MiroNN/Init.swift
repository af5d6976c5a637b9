import MiroEngine

/// Weight initialisers of `torch.nn.init`, in place.
public enum Init {
    /// `nn.init.xavier_uniform_`: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ t: Tensor, gain: Double = 1, generator: Generator? = nil) throws {
        let s = t.shape
        guard s.count >= 2 else { throw ModuleError.invalidLayer(layer: "xavier_uniform", reason: "needs at least 2 dimensions, got \(s)") }
        let receptive = s.dropFirst(2).reduce(1, *)
        let fanIn = s[1] * receptive, fanOut = s[0] * receptive
        let a = gain * (6.0 / Double(fanIn + fanOut)).squareRoot()
        try withoutGrad { try t.uniform_(-a, a, generator: generator) }
    }

    /// `nn.init.trunc_normal_(t, std=std, a=lo, b=hi)`.
    public static func truncNormal(_ t: Tensor, std: Double, lo: Double, hi: Double, generator: Generator? = nil) throws {
        try withoutGrad { try t.truncNormal_(mean: 0, std: std, lo: lo, hi: hi, generator: generator) }
    }

    public static func zeros(_ t: Tensor) throws { try withoutGrad { try t.zero_() } }
    public static func constant(_ t: Tensor, _ value: Double) throws { try withoutGrad { try t.fill_(value) } }
}
