import Foundation

/// Port of `WarmupCosineDecayLR` in miro/utils/lr_scheduler.py (miro-t2i 0.1.4): linear warm-up to
/// the base rate, then a cosine that covers only `rate` of its half period, so it ends at
/// ½(1 + cos(rate·π)) of the base (0.0955× for MIRO's rate 0.8).
public struct WarmupCosineDecay: Sendable, Codable, Equatable {
    public var warmupSteps: Int
    public var totalSteps: Int
    public var rate: Double

    public init(warmupSteps: Int, totalSteps: Int, rate: Double = 1) {
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.rate = rate
    }

    /// `get_lr(base, step)`.
    public func learningRate(base: Double, step: Int) -> Double {
        if step < warmupSteps {
            return base * min(Double(step) / Double(max(warmupSteps, 1)), 1)
        }
        let progress = Double(step - warmupSteps) / Double(totalSteps - warmupSteps)
        return 0.5 * base * (1 + cos(rate * Double.pi * progress))
    }

    /// The rate in force during optimizer step `k` (0-based) of the official training: Lightning
    /// calls `scheduler.step(global_step)` *after* each optimizer step, and nothing before the
    /// first, so step 0 runs at the base rate and step k ≥ 1 at `get_lr(base, k)`.
    public func learningRate(base: Double, optimizerStep k: Int) -> Double {
        k == 0 ? base : learningRate(base: base, step: k)
    }
}
