import Dispatch
import MiroEngine
import MiroModels
import MiroOptim

/// One MIRO optimizer step (method §6), the only copy of it: the trainer runs it on every batch and
/// `miro bench train` times it phase by phase, so the benchmark measures exactly what training runs.
///
///     loss (self-conditioning pass, no grad, then the main pass) → backward → NaN guard → clip → optimizer → EMA
///
/// A non-finite loss skips the update (no backward, no optimizer or EMA step), as the official
/// `training_step` does by returning no loss.
public final class TrainStep {
    public let model: MIROModel
    public let optimizer: any Optimizer
    public let ema: EMA
    public let loss: FlowMatchingLoss
    public let gradientClip: Double
    /// t, noise and self-conditioning keep draws; reward dropout. Their states go into checkpoints.
    public let drawGenerator: Generator
    public let dropoutGenerator: Generator
    /// Cut the text after the batch's longest caption before the loss (`MIROConditioning.trimmingPadding`: the same
    /// result up to float rounding, less work). Off only to time the official amount of work.
    public var trimsTextPadding = true
    /// Mixed precision (`TrainConfig.precision`): the loss's forward passes run under autocast in this dtype,
    /// the backward and every update in float32. Nil: float32 throughout.
    public var autocast: DType? = nil

    /// Seconds spent in each phase of one step.
    public struct Timing: Sendable {
        /// The loss: self-conditioning pass (no grad) + main pass, and reading the loss value.
        public var forward = 0.0
        public var backward = 0.0
        /// NaN guard + gradient clipping + optimizer.
        public var optimizer = 0.0
        public var ema = 0.0
        public var total: Double { forward + backward + optimizer + ema }
    }

    /// What one step did.
    public struct Outcome: Sendable {
        public var loss: Double
        /// The loss without the learned-uncertainty weighting.
        public var rawLoss: Double
        /// Mean predicted log-variance (0 when the preconditioner has none).
        public var logvar: Double
        /// Gradient norm before clipping (0 when skipped).
        public var gradNorm: Double
        /// The loss was not finite, so nothing was updated.
        public var skipped: Bool
        public var timing: Timing
    }

    public init(model: MIROModel, optimizer: any Optimizer, ema: EMA, loss: FlowMatchingLoss, gradientClip: Double,
                drawGenerator: Generator, dropoutGenerator: Generator) {
        self.model = model
        self.optimizer = optimizer
        self.ema = ema
        self.loss = loss
        self.gradientClip = gradientClip
        self.drawGenerator = drawGenerator
        self.dropoutGenerator = dropoutGenerator
    }

    /// One step on (x₀, conditioning) at learning rate `learningRate`.
    public func callAsFunction(x0: Tensor, conditioning: MIROConditioning, learningRate: Double) throws -> Outcome {
        var timing = Timing()
        optimizer.setLearningRate(learningRate)
        try optimizer.zeroGrad()
        var clock = DispatchTime.now().uptimeNanoseconds
        /// Seconds since the last lap.
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { clock = now }
            return Double(now - clock) / 1e9
        }
        let conditioning = trimsTextPadding ? try conditioning.trimmingPadding() : conditioning
        func forward() throws -> FlowMatchingLoss.Output {
            try loss(model, x0: x0, conditioning: conditioning, generator: drawGenerator,
                     dropoutGenerator: dropoutGenerator)
        }
        let out = try autocast.map { dtype in try Autocast.run(on: try x0.device, dtype: dtype, forward) } ?? forward()
        let lossValue = try out.loss.item()
        timing.forward = lap()
        var norm = 0.0
        let skipped = !lossValue.isFinite
        if !skipped {
            try out.loss.backward()
            timing.backward = lap()
            let params = optimizer.groups.flatMap { $0.parameters.map(\.tensor) }
            // NaN guard: non-finite gradient entries are zeroed before the update (method §6.2); then clipping
            norm = try Gradients.guardAndClip(params, maxNorm: gradientClip)
            try optimizer.step()
            timing.optimizer = lap()
            try ema.update(model)
            timing.ema = lap()
        }
        return Outcome(loss: lossValue, rawLoss: try out.rawLoss.item(),
                       logvar: try out.logvar.map { try $0.mean().item() } ?? 0, gradNorm: norm, skipped: skipped,
                       timing: timing)
    }
}
