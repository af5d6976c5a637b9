// Port of miro/models/loss.py (miro-t2i 0.1.4): the flow-matching loss (method §6.1).

import MiroEngine
import MiroNN

/// Port of `FlowMatchingLoss` / `BaseLoss` in miro/models/loss.py (miro-t2i 0.1.4) for the released
/// settings (method §6.1): logit-normal t, γ = max(1 − t, 1e-9), y = γ·x₀ + (1 − γ)·n, target
/// v* = n − x₀, one self-conditioning pass kept per sample with probability 0.9, and the
/// log-variance weighting ℓ ← ℓ / e^u(γ) + u(γ).
///
/// Not ported: text dropout (`cond_drop_rate`, 0 in every released experiment).
///
/// The random draws are explicit (`Draws`): tests pass fixed tensors, training draws them from a
/// `Generator` with `draws(for:generator:)`, in the official order and dtypes (t, noise, then the
/// self-conditioning uniforms), so a generator seeded like the official one gives the same draws.
public struct FlowMatchingLoss: Sendable {
    public enum TimeSampling: Sendable, Equatable {
        /// t = sigmoid(N(mean, std²)) (`logit_normal_resample: true`, the release: mean 0, std 1).
        case logitNormal(mean: Double, std: Double)
        /// t ~ U(0, 1).
        case uniform
    }

    public var scheduler = LinearScheduler()
    public var timeSampling = TimeSampling.logitNormal(mean: 0, std: 1)
    /// Probability that a sample keeps its self-conditioning latents (0 disables the extra pass).
    public var selfConditioningRate = 0.9
    /// Divide by e^u(γ) and add u(γ) (needs the preconditioner's log-variance head).
    public var gradNormReweighting = true

    public init(scheduler: LinearScheduler = LinearScheduler(), timeSampling: TimeSampling = .logitNormal(mean: 0, std: 1),
                selfConditioningRate: Double = 0.9, gradNormReweighting: Bool = true) {
        self.scheduler = scheduler
        self.timeSampling = timeSampling
        self.selfConditioningRate = selfConditioningRate
        self.gradNormReweighting = gradNormReweighting
    }

    /// The random inputs of one loss evaluation.
    public struct Draws: Sendable {
        /// (B,) flow times in [0, 1].
        public var t: Tensor
        /// Like x₀.
        public var noise: Tensor
        /// (B,) bool: which samples keep their self-conditioning latents (nil: no self-conditioning pass).
        public var selfConditioningKeep: Tensor?
        /// The reward-dropout keep masks (B, K) of the self-conditioning pass and of the main pass, when drawn ahead
        /// (`drawingRewardDropout`); nil: each pass draws its own from the dropout generator.
        public var selfConditioningRewardKeep: Tensor?
        public var rewardKeep: Tensor?

        public init(t: Tensor, noise: Tensor, selfConditioningKeep: Tensor?, selfConditioningRewardKeep: Tensor? = nil,
                    rewardKeep: Tensor? = nil) {
            self.t = t
            self.noise = noise
            self.selfConditioningKeep = selfConditioningKeep
            self.selfConditioningRewardKeep = selfConditioningRewardKeep
            self.rewardKeep = rewardKeep
        }

        /// These draws with both reward-dropout masks drawn now from `generator` for `model` in training mode, in the
        /// order the passes would draw them (self-conditioning pass first), so the masks are the ones the passes
        /// would have drawn themselves. For a batch whose rows then run on several threads.
        public func drawingRewardDropout(for model: MIROModel, generator: Generator?) throws -> Draws {
            guard model.training else { return self }
            var out = self
            let b = t.size(0)
            if selfConditioningKeep != nil {
                out.selfConditioningRewardKeep = try model.network.rewardDropoutMask(batchSize: b, generator: generator)
            }
            out.rewardKeep = try model.network.rewardDropoutMask(batchSize: b, generator: generator)
            return out
        }

        /// Rows `range` of every draw.
        public func rows(_ range: Range<Int>) throws -> Draws {
            func cut(_ t: Tensor) throws -> Tensor { try t.slice(0, range.lowerBound, range.upperBound) }
            return try Draws(t: cut(t), noise: cut(noise), selfConditioningKeep: selfConditioningKeep.map(cut),
                             selfConditioningRewardKeep: selfConditioningRewardKeep.map(cut), rewardKeep: rewardKeep.map(cut))
        }
    }

    public struct Output: Sendable {
        /// The training objective: mean of the (re-weighted) elementwise loss; differentiable.
        public var loss: Tensor
        /// mean((v̂ − v*)²), detached (`raw_loss`).
        public var rawLoss: Tensor
        /// mean u(γ), detached; nil without re-weighting (`logvar`).
        public var logvar: Tensor?
        /// (B,) γ used.
        public var gamma: Tensor
    }

    /// `_sample_t`: t for `batchSize` samples in `dtype`. The logit-normal draws are made in
    /// `defaultDType`, torch's default dtype of the run (float32 in training).
    public func sampleTime(batchSize: Int, dtype: DType = .float32, defaultDType: DType = .float32,
                           generator: Generator? = nil) throws -> Tensor {
        switch timeSampling {
        case .logitNormal(let mean, let std):
            // torch.sigmoid(torch.normal(mean=mu, std=std, size=(B,), generator=g)).to(dtype)
            let z = try Tensor.empty([batchSize], dtype: defaultDType)
            try z.normal_(mean: mean, std: std, generator: generator)
            return try z.sigmoid().to(dtype)
        case .uniform:
            return try Tensor.rand([batchSize], dtype: dtype, generator: generator)
        }
    }

    /// All draws of one step, in the official order: t, noise (randn like x₀), then — if
    /// self-conditioning is on — u = rand(B, 1, 1) with keep = u > 1 − rate. `defaultDType` is
    /// torch's default dtype of the run being reproduced (float32 in training).
    public func draws(for x0: Tensor, generator: Generator? = nil, defaultDType: DType = .float32) throws -> Draws {
        let b = x0.size(0)
        let t = try sampleTime(batchSize: b, dtype: x0.dtype, defaultDType: defaultDType, generator: generator)
        let noise = try Tensor.randn(x0.shape, dtype: x0.dtype, generator: generator)
        var keep: Tensor? = nil
        if selfConditioningRate > 0 {
            // torch.rand(B, 1, 1, generator=g) > 1 - self.self_cond_rate
            keep = try Tensor.rand([b, 1, 1], dtype: defaultDType, generator: generator)
                .gt(1 - selfConditioningRate).reshaped([b])
        }
        return try Draws(t: t.to(device: x0.device), noise: noise.to(device: x0.device), selfConditioningKeep: keep)
    }

    /// One loss evaluation with fresh draws from `generator`.
    public func callAsFunction(_ model: MIROModel, x0: Tensor, conditioning: MIROConditioning, generator: Generator?,
                               dropoutGenerator: Generator? = nil) throws -> Output {
        try self(model, x0: x0, conditioning: conditioning, draws: draws(for: x0, generator: generator),
                 dropoutGenerator: dropoutGenerator)
    }

    /// One loss evaluation with the given draws. The model should be in training mode (as
    /// officially: missing rewards become 0, the reward-dropout mask is applied).
    public func callAsFunction(_ model: MIROModel, x0: Tensor, conditioning: MIROConditioning, draws: Draws,
                               dropoutGenerator: Generator? = nil) throws -> Output {
        let b = x0.size(0)
        let shape = [b] + Array(repeating: 1, count: x0.rank - 1)
        // gamma = self.scheduler(t).reshape(-1, 1, 1, 1); y = gamma * x_0 + (1 - gamma) * n
        let gamma = try scheduler(draws.t.to(x0.dtype)).reshaped([b])
        let g = try gamma.reshaped(shape)
        let y = try g * x0 + (1 - g) * draws.noise

        var previous: Tensor? = nil
        if let keep = draws.selfConditioningKeep {
            // latent_self_cond: a pass on the same y and γ with zero previous latents; keep each sample's
            // latents with probability rate, cut the gradient (official: computed with autograd, then
            // detached — equal values). The pass stops at the latents (`MIROModel.latents`); the official
            // one also computes the prediction, and drops it.
            var passConditioning = conditioning
            if let keep = draws.selfConditioningRewardKeep { passConditioning.rewardKeep = keep }
            previous = try selfConditioningLatents(model, y: y, gamma: gamma, conditioning: passConditioning, keep: keep,
                                                   dropoutGenerator: dropoutGenerator)
        }

        var mainConditioning = conditioning
        if let keep = draws.rewardKeep { mainConditioning.rewardKeep = keep }
        let out = try model(y, gamma: gamma, conditioning: mainConditioning, previousLatents: previous,
                            returnLogvar: gradNormReweighting, dropoutGenerator: dropoutGenerator)
        // (D_y - (n - x_0)) ** 2, with ATen's type promotion as in the official code: under bf16 autocast the
        // prediction comes out of a linear layer in bf16 and the loss is still computed in float32
        var elementwise = try (out.prediction - (draws.noise - x0)).pow(2)
        let raw = try elementwise.mean().detached()
        var logvarMean: Tensor? = nil
        if gradNormReweighting, let logvar = out.logvar {
            // loss = loss / logvar.exp() + logvar
            elementwise = try elementwise / logvar.exp() + logvar
            logvarMean = try logvar.mean().detached()
        }
        return Output(loss: try elementwise.mean(), rawLoss: raw, logvar: logvarMean, gamma: gamma)
    }

    /// The self-conditioning latents: the pass's latents on the rows `keep` marks, zero on the others. The rows of
    /// a batch are independent, so when the pass draws nothing itself (model in eval mode, or its reward-dropout
    /// mask drawn ahead in `conditioning.rewardKeep`) it runs on the kept rows alone: the official pass computes
    /// every row and multiplies the dropped ones by 0, a tenth of its work at the released rate.
    func selfConditioningLatents(_ model: MIROModel, y: Tensor, gamma: Tensor, conditioning: MIROConditioning,
                                 keep: Tensor, dropoutGenerator: Generator?) throws -> Tensor {
        let b = y.size(0)
        // which rows keep the pass is read back only when the pass may run on them alone
        let drawsNothing = !model.training || conditioning.rewardKeep != nil
        let kept = drawsNothing ? try keep.to(device: .cpu).toArray(Bool.self) : []
        let rows = kept.indices.filter { kept[$0] }
        return try withoutGrad {
            guard !rows.isEmpty, rows.count < b else {
                let latents = try model.latents(y, gamma: gamma, conditioning: conditioning, dropoutGenerator: dropoutGenerator)
                return try latents * keep.reshaped([b, 1, 1]).to(latents.dtype)
            }
            let device = y.device
            let index = try Tensor(rows.map(Int64.init)).to(device: device)
            let latents = try model.latents(y.indexSelect(0, index), gamma: gamma.indexSelect(0, index),
                                            conditioning: conditioning.selecting(index), dropoutGenerator: dropoutGenerator)
            // row i of the batch: its row of `latents` when kept, else the zero row appended after them
            var source = [Int64](repeating: Int64(rows.count), count: b)
            for (k, row) in rows.enumerated() { source[row] = Int64(k) }
            let zero = try Tensor.zeros([1] + Array(latents.shape.dropFirst()), dtype: latents.dtype, device: latents.device)
            return try Tensor.cat([latents, zero]).indexSelect(0, Tensor(source).to(device: device))
        }
    }
}
