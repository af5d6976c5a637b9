// Port of miro/models/scheduler.py (miro-t2i 0.1.4): LinearScheduler (method §6.1, §7.1).

import MiroEngine

/// Port of `LinearScheduler` in miro/models/scheduler.py (miro-t2i 0.1.4), method §6.1:
/// maps the flow time t ∈ [0, 1] (0 = data, 1 = noise) to γ, the clean-signal fraction of
/// y = γ·x₀ + (1 − γ)·n.
///
///     γ = clamp((end − start)·t + start, min: clip_min)     (start 1, end 0: γ = max(1 − t, 1e-9))
///     with shift > 1 first: γ ← shift·γ / (1 + (shift − 1)·γ)
///
/// JSON keys as in `config.json`'s `scheduler` section (`start`, `end`, `clip_min`, optional `shift`).
public struct LinearScheduler: Codable, Sendable, Equatable {
    public var start: Double = 1
    public var end: Double = 0
    public var shift: Double = 1
    public var clipMin: Double = 1e-9

    public init(start: Double = 1, end: Double = 0, shift: Double = 1, clipMin: Double = 1e-9) {
        self.start = start
        self.end = end
        self.shift = shift
        self.clipMin = clipMin
    }

    enum CodingKeys: String, CodingKey {
        case start, end, shift, clipMin = "clip_min"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        start = try c.decodeIfPresent(Double.self, forKey: .start) ?? 1
        end = try c.decodeIfPresent(Double.self, forKey: .end) ?? 0
        shift = try c.decodeIfPresent(Double.self, forKey: .shift) ?? 1
        clipMin = try c.decodeIfPresent(Double.self, forKey: .clipMin) ?? 1e-9
    }

    /// γ for a tensor of times, in the tensor's dtype.
    public func callAsFunction(_ t: Tensor) throws -> Tensor {
        // output = (self.end - self.start) * t + self.start
        var output = try t * (end - start) + start
        if shift > 1 {
            // output = self.shift * output / (1 + (self.shift - 1) * output)
            output = try output * shift / (output * (shift - 1) + 1)
        }
        return try output.clamp(min: clipMin)
    }

    /// The sampler's grid: t_i = 1 − i/N for i = 0…N, computed in float32 exactly as
    /// `Sampler.sample` does (`1 - arange(N + 1, dtype=float32) / N`), mapped through γ(t).
    /// With the default settings γ_i = i/N, except γ₀ = 1e-9.
    public func samplingGrid(steps: Int) throws -> [Float] {
        guard steps >= 1 else { throw MIROModelError.invalidInput("the sampler needs at least one step, got \(steps)") }
        let t = try 1 - Tensor.arange(0, Double(steps + 1), dtype: .float32) / Double(steps)
        return try self(t).toArray(Float.self)
    }
}
