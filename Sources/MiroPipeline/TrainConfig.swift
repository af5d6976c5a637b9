import Foundation
import MiroModels

/// Hyper-parameters of one training run (method §6). Codable, stored in every checkpoint, so a
/// resumed run continues with exactly the settings it started with.
public struct TrainConfig: Codable, Sendable, Equatable {
    /// Model preset name (`tiny`, `small`, `miro`) or "custom" when `network` is given in full.
    public var preset = "tiny"
    /// Official `network` keys replacing the preset's (JSON object text), e.g. `{"data_dim": 128}`.
    public var networkOverride: String? = nil
    public var steps = 2000
    public var batchSize = 32
    /// "lamb" (the official optimizer, method §6.2: lr 1e-3, betas (0.9, 0.999), eps 1e-8, coupled
    /// weight decay 0.01) or "adamw". LAMB scales each update by ‖w‖, so small-norm tables (position
    /// embeddings start at std 0.02) move slowly: fine over 500k steps, slow for a CPU demo.
    public var optimizer = OptimizerKind.lamb
    public var learningRate = 1e-3
    public var weightDecay = 0.01
    public var warmupSteps = 100
    /// Steps of the cosine (the official run: 500k); defaults to `steps`.
    public var scheduleSteps: Int? = nil
    public var cosineRate = 0.8
    public var gradientClip = 2.0
    public var emaDecay = 0.999
    /// EMA decay warm-up min(decay, (1+n)/(10+n)); off in the official recipe, on for short runs.
    public var emaWarmup = true
    /// Probability of keeping the self-conditioning latents (method §6.1: 0.9).
    public var selfConditioningRate = 0.9
    /// Reward dropout (`coherence_dropout`, official release: 0) and strategy (none/binomial/uniform).
    public var rewardDropout = 0.0
    public var rewardDropoutStrategy = RewardDropoutStrategy.binomial
    /// Text dropout (`cond_drop_rate`, official: 0).
    public var textDropout = 0.0
    /// Train without reward conditioning (the baseline of the convergence experiment).
    public var unconditional = false
    public var seed: UInt64 = 3407
    public var logEvery = 10
    public var sampleEvery = 500
    public var saveEvery = 500
    public var keepLast = 3
    public var sampleSteps = 25
    public var guidance = 1.0
    /// Arithmetic of the forward passes (optional so that configurations written before it existed decode as fp32).
    public var precision: Precision? = nil

    public init() {}

    public var totalScheduleSteps: Int { scheduleSteps ?? steps }
    /// `precision`, fp32 when unset.
    public var effectivePrecision: Precision { precision ?? .fp32 }

    /// The largest step count accepted (2³⁰: far beyond any run, and safe in every step arithmetic).
    public static let maximumSteps = 1 << 30

    /// Checks the counts, rates and probabilities (`RunConfig.validate(source:)` runs this); throws an
    /// `InputError` naming `source` and the key (`train.batchSize`, ...).
    public func validate(source: String) throws {
        func fail(_ key: String, _ m: String) throws -> Never {
            throw InputError("\(source): run configuration key 'train.\(key)' \(m)")
        }
        let limit = Self.maximumSteps
        for (key, v, low) in [("steps", steps, 0), ("batchSize", batchSize, 1), ("warmupSteps", warmupSteps, 0),
                              ("scheduleSteps", scheduleSteps ?? 1, 1), ("logEvery", logEvery, 0), ("sampleEvery", sampleEvery, 0),
                              ("saveEvery", saveEvery, 0), ("keepLast", keepLast, 0), ("sampleSteps", sampleSteps, 1)]
            where !(low...limit).contains(v) {
            try fail(key, "must be in \(low)...\(limit), got \(v)")
        }
        if batchSize > 1 << 16 { try fail("batchSize", "must be at most \(1 << 16), got \(batchSize)") }
        if sampleSteps > MIROPipelineConfig.maximumSteps { try fail("sampleSteps", "must be at most \(MIROPipelineConfig.maximumSteps), got \(sampleSteps)") }
        for (key, v) in [("learningRate", learningRate), ("weightDecay", weightDecay), ("cosineRate", cosineRate),
                         ("gradientClip", gradientClip)] where !(v.isFinite && v >= 0) {
            try fail(key, "must be a finite number ≥ 0, got \(v)")
        }
        for (key, v) in [("emaDecay", emaDecay), ("selfConditioningRate", selfConditioningRate),
                         ("rewardDropout", rewardDropout), ("textDropout", textDropout)] where !(0...1).contains(v) {
            try fail(key, "must be in [0, 1], got \(v)")
        }
        if !(guidance.isFinite && (0...MIROPipelineConfig.maximumGuidance).contains(guidance)) {
            try fail("guidance", "must be in [0, \(Int(MIROPipelineConfig.maximumGuidance))], got \(guidance)")
        }
    }
}

/// The optimizers a run can train with; stored by name in `run.json` and checkpoints.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    /// The official optimizer (miro/utils/optimizers.py).
    case lamb
    case adamw
}

/// How a training step computes: stored by name in `run.json` and checkpoints.
public enum Precision: String, Codable, Sendable, CaseIterable {
    /// float32 throughout.
    case fp32
    /// Lightning's "bf16-mixed", what the official training runs as mixed precision: the forward passes under
    /// autocast in bfloat16 (matrix products and attention in bf16; norms, softmax and the loss in float32, by
    /// ATen's autocast lists), float32 master weights, gradients, optimizer and EMA.
    case bf16Mixed = "bf16-mixed"
}
