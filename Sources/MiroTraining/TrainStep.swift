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
    /// Each batch runs as this many parts of its rows at once, one per intra-op thread (`DataParallel`): each part's
    /// forward and backward single-threaded, gradients summed in part order. 1 runs the batch whole, with libtorch
    /// splitting each operation across its threads instead. Same inputs, same bits either way; the two differ from
    /// each other by float rounding only. Faster on CPU where the model is small (docs/benchmarks.md, "Batch splits").
    public var batchSplits = 1

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
        let params = optimizer.groups.flatMap { $0.parameters.map(\.tensor) }
        let splitCount = min(batchSplits, x0.size(0))
        let result = splitCount > 1
            ? try splitLossAndGradients(x0: x0, conditioning: conditioning, parameters: params, parts: splitCount)
            : try lossAndGradients(x0: x0, conditioning: conditioning)
        timing.forward = result.forwardSeconds
        timing.backward = lap() - result.forwardSeconds
        let lossValue = result.loss
        var norm = 0.0
        let skipped = !lossValue.isFinite
        if !skipped {
            // NaN guard: non-finite gradient entries are zeroed before the update (method §6.2); then clipping
            norm = try Gradients.guardAndClip(params, maxNorm: gradientClip)
            try optimizer.step()
            timing.optimizer = lap()
            try ema.update(model)
            timing.ema = lap()
        }
        return Outcome(loss: lossValue, rawLoss: result.rawLoss, logvar: result.logvar, gradNorm: norm, skipped: skipped,
                       timing: timing)
    }

    /// The loss's values and how long its forward passes took; the parameters' `.grad` hold its gradients unless the
    /// loss is not finite.
    private struct LossAndGradients {
        var loss = 0.0, rawLoss = 0.0, logvar = 0.0
        var forwardSeconds = 0.0
    }

    /// Forward and backward on the whole batch.
    private func lossAndGradients(x0: Tensor, conditioning: MIROConditioning) throws -> LossAndGradients {
        let start = DispatchTime.now().uptimeNanoseconds
        // the reward-dropout masks drawn ahead (the same ones the passes would draw) let the self-conditioning pass
        // run on its kept rows alone
        let draws = try loss.draws(for: x0, generator: drawGenerator).drawingRewardDropout(for: model, generator: dropoutGenerator)
        let out = try forward(x0: x0, conditioning: conditioning, draws: draws)
        var result = try values(of: out, weight: 1)
        result.forwardSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if result.loss.isFinite { try out.loss.backward() }
        return result
    }

    /// Forward and backward on `parts` row ranges of the batch at once (`batchSplits`). Every random draw is made
    /// first, for the whole batch and in the order the whole-batch path makes them, then cut into rows; each part's
    /// loss is weighted by its share of the batch, so the summed gradient is the whole batch's mean-loss gradient.
    /// The forward time reported is the slowest part's.
    private func splitLossAndGradients(x0: Tensor, conditioning: MIROConditioning, parameters: [Tensor],
                                       parts: Int) throws -> LossAndGradients {
        let b = x0.size(0)
        let parameters = parameters.filter(\.requiresGrad)
        let draws = try loss.draws(for: x0, generator: drawGenerator)
            .drawingRewardDropout(for: model, generator: dropoutGenerator)
        let ranges = (0..<parts).map { i in (i * b / parts)..<((i + 1) * b / parts) }
        let slots = ranges.map { _ in PartSlot() }
        try DataParallel.forEach(parts) { i in
            try GradMode.withGrad {
                let rows = ranges[i], slot = slots[i]
                let start = DispatchTime.now().uptimeNanoseconds
                let out = try forward(x0: x0.slice(0, rows.lowerBound, rows.upperBound),
                                      conditioning: conditioning.rows(rows), draws: draws.rows(rows))
                let weight = Double(rows.count) / Double(b)
                slot.values = try values(of: out, weight: weight)
                slot.values.forwardSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if slot.values.loss.isFinite {
                    slot.gradients = try DataParallel.gradients(of: out.loss * weight, withRespectTo: parameters)
                }
            }
        }
        var result = LossAndGradients()
        for slot in slots {
            result.loss += slot.values.loss
            result.rawLoss += slot.values.rawLoss
            result.logvar += slot.values.logvar
            result.forwardSeconds = max(result.forwardSeconds, slot.values.forwardSeconds)
        }
        if result.loss.isFinite {
            try DataParallel.accumulate(slots.map(\.gradients), into: parameters)
        }
        return result
    }

    /// One part's results; each thread writes only its own.
    private final class PartSlot {
        var values = LossAndGradients()
        var gradients: [Tensor?] = []
    }

    /// The loss on these rows with these draws, under autocast when set.
    private func forward(x0: Tensor, conditioning: MIROConditioning, draws: FlowMatchingLoss.Draws) throws
        -> FlowMatchingLoss.Output
    {
        func run() throws -> FlowMatchingLoss.Output {
            try loss(model, x0: x0, conditioning: conditioning, draws: draws, dropoutGenerator: dropoutGenerator)
        }
        return try autocast.map { dtype in try Autocast.run(on: x0.device, dtype: dtype, run) } ?? run()
    }

    /// The output's loss, raw loss and mean log-variance, times `weight`.
    private func values(of out: FlowMatchingLoss.Output, weight: Double) throws -> LossAndGradients {
        try LossAndGradients(loss: out.loss.item() * weight, rawLoss: out.rawLoss.item() * weight,
                             logvar: (out.logvar?.item() ?? 0) * weight)
    }
}
