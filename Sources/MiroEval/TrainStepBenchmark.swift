import Foundation
import Logging
import MiroEngine
import MiroFormats
import MiroModels
import MiroNN
import MiroOptim
import MiroPipeline
import MiroTraining

/// One MIRO training step on synthetic data with the geometry of the real training data (SDXL
/// latents 4×32×32, FLAN-T5-XL text (B, 256, 2048) with 30–80 real tokens, 7 rewards), for
/// `miro bench train`. The step is the trainer's own `TrainStep` (loss with the self-conditioning
/// pass → backward → NaN guard → clip → LAMB → EMA), which times its phases.
///
/// The batch is fixed (drawn once); the loss draws t, noise and the self-conditioning mask afresh
/// every step, as training does. `scripts/bench_official_train_step.py` runs the official
/// PyTorch step on the same geometry.
public final class TrainStepBenchmark {
    /// Shape of the synthetic batch.
    public struct Geometry: Sendable, Equatable {
        public var batchSize: Int
        /// Padded text length (the official T5 embeddings are padded to 256 tokens).
        public var textTokens = 256
        /// Real (unmasked) tokens per sample lie in this range.
        public var realTokens = 30...80

        public init(batchSize: Int, textTokens: Int = 256, realTokens: ClosedRange<Int> = 30...80) {
            self.batchSize = batchSize
            self.textTokens = textTokens
            self.realTokens = realTokens
        }

        /// Real tokens of sample i: lo + (29·i mod span), a fixed spread over the range (30, 59, 37, 66,
        /// 44, 73, 51, 80 for batch 8 and 30…80) that the Python benchmark reproduces without sharing an RNG.
        public func realTokenCount(sample i: Int) -> Int {
            let span = realTokens.count
            return min(realTokens.lowerBound + (29 * i) % span, textTokens)
        }
    }

    /// Seconds spent in each phase of one step, and its loss.
    public struct StepTiming: Sendable {
        public var phases: TrainStep.Timing
        public var loss: Double
        public var forward: Double { phases.forward }
        public var backward: Double { phases.backward }
        public var optimizer: Double { phases.optimizer }
        public var ema: Double { phases.ema }
        public var total: Double { phases.total }
    }

    public let network: MIROConfig
    public let geometry: Geometry
    public let train: TrainConfig
    public let model: MIROModel
    public let trainStep: TrainStep
    public let schedule: WarmupCosineDecay
    public let x0: Tensor
    public let conditioning: MIROConditioning
    public private(set) var step = 0
    let logger: Logger

    /// - Parameters:
    ///   - network: the architecture (e.g. `MIROConfig.small`); its `label_dim`, channels and reward
    ///     count set the batch's widths.
    ///   - train: optimizer, clipping, EMA and self-conditioning settings (`TrainConfig` defaults,
    ///     with the official clip 1.0 unless changed).
    public init(network: MIROConfig, geometry: Geometry, train: TrainConfig = TrainConfig.benchmark,
                seed: UInt64 = 0, logger: Logger) throws {
        guard geometry.batchSize >= 1, geometry.textTokens >= 1, geometry.realTokens.lowerBound >= 1 else {
            throw InputError("benchmark batch, text length and real-token range must be positive")
        }
        self.network = network
        self.geometry = geometry
        self.train = train
        self.logger = logger
        model = try MIROModel(network: network, generator: Generator(seed: seed))
        model.train()
        let optimizer = try Lamb(groups: ParameterGroup.miroTraining(model, learningRate: train.learningRate,
                                                                     weightDecay: train.weightDecay),
                                 decoupleWeightDecay: false)
        try optimizer.bind(to: model)
        trainStep = TrainStep(model: model, optimizer: optimizer,
                              ema: try EMA(model, decay: train.emaDecay, warmup: train.emaWarmup),
                              loss: FlowMatchingLoss(selfConditioningRate: train.selfConditioningRate),
                              gradientClip: train.gradientClip, drawGenerator: try Generator(seed: seed &+ 1),
                              dropoutGenerator: try Generator(seed: seed &+ 2))
        if train.effectivePrecision == .bf16Mixed { trainStep.autocast = .bfloat16 }
        trainStep.batchSplits = Trainer.defaultBatchSplits
        schedule = WarmupCosineDecay(warmupSteps: train.warmupSteps, totalSteps: train.totalScheduleSteps,
                                     rate: train.cosineRate)

        // The synthetic batch: x₀ ~ N(0, 1) latents, T5-like tokens (zero past each sample's length),
        // rewards ~ U(0, 1).
        let data = try Generator(seed: seed &+ 3)
        let (b, n) = (geometry.batchSize, geometry.textTokens)
        x0 = try Tensor.randn([b, network.numInputChannels, network.dataSize, network.dataSize], generator: data)
        let lengths = (0..<b).map { Float(geometry.realTokenCount(sample: $0)) }
        // mask[i, j] = j < length[i]
        let mask = try Tensor.arange(0, Double(n)).unsqueezed(0).lt(Tensor(lengths, shape: [b, 1]))
        let text = try Tensor.randn([b, n, network.labelDim], generator: data) * 0.2 * mask.unsqueezed(-1).to(.float32)
        let rewards = try Tensor.rand([b, network.numRewards], generator: data)
        conditioning = MIROConditioning(text: text, textMask: mask, rewards: rewards)
        logger.debug("train-step benchmark: \(parameterCount) parameters, real tokens \(lengths)")
    }

    /// Trainable parameters of the model (network + preconditioner).
    public var parameterCount: Int { model.trainableParameters().reduce(0) { $0 + $1.1.count } }

    /// One training step, the trainer's own, timed phase by phase. A non-finite loss throws (the trainer
    /// would skip the step; a benchmark has no use for it).
    @discardableResult
    public func runStep() throws -> StepTiming {
        let lr = schedule.learningRate(base: train.learningRate, optimizerStep: step)
        let outcome = try trainStep(x0: x0, conditioning: conditioning, learningRate: lr)
        guard !outcome.skipped else { throw TrainingError.nonFiniteLoss(step: step, count: 1) }
        step += 1
        return StepTiming(phases: outcome.timing, loss: outcome.loss)
    }

    // MARK: FLOPs

    /// Matrix-product FLOPs (2 per multiply-add) of one network + preconditioner forward per sample,
    /// with `textTokens` (padded) text tokens: every Linear and both attention products (q·kᵀ, p·v)
    /// of the text transformer, the self-conditioning MLP, every RIN block and the patch maps.
    /// Elementwise work (norms, activations, softmax) is not counted. Equals the count the official
    /// modules give with forward hooks on every `nn.Linear` and the attention products
    /// (scripts/bench_official_train_step.py): 17.389 GFLOP per sample for `small` at 256 tokens.
    public static func forwardFlopsPerSample(_ c: MIROConfig, textTokens n: Int) -> Double {
        let d = Double(c.latentsDim), dd = Double(c.dataDim)
        let tokens = Double(c.numDataTokens), l = Double(c.numLatents), p = Double(c.patchDim)
        let s = Double(c.numRewards + c.numTextRegisters + n)  // text transformer sequence
        let m = s + 1                                           // conditioning sequence (time token first)
        func linear(_ rows: Double, _ i: Double, _ o: Double) -> Double { 2 * rows * i * o }
        func swiGLU(_ rows: Double, _ dim: Int, _ mult: Int) -> Double {
            let h = Double(SwiGLU.hiddenWidth(dim, multiplier: mult))
            return linear(rows, Double(dim), 2 * h) + linear(rows, h, Double(dim))
        }
        /// Cross-attention of `lq` queries (width qd) over `lk` keys (width kd), attention width min(qd, kd).
        func crossAttention(_ lq: Double, _ qd: Double, _ lk: Double, _ kd: Double) -> Double {
            let w = min(qd, kd)
            return linear(lq, qd, w) + linear(lk, kd, 2 * w) + linear(lq, w, qd) + 2 * (2 * lq * lk * w)
        }
        var f = 0.0
        f += linear(tokens, p, dd) + linear(tokens, dd, p)                   // patch_extractor, map_tokens_to_patches
        let e = Double(c.embedderChannels)
        f += Double(1 + c.numRewards) * (linear(1, e, 4 * e) + linear(1, 4 * e, 4 * e))  // time + reward embedders
        f += linear(1, Double(FlowPrecondConfig(network: c).logvarChannels), 1)    // preconditioning.logvar_proj
        f += linear(Double(n), Double(c.labelDim), d)                          // map_text_tokens
        // text transformer: qkv + out + GELU MLP (4×) + attention
        f += Double(MIROConfig.textTransformerLayers) * (linear(s, d, 3 * d) + linear(s, d, d) + linear(s, d, 4 * d)
                                                         + linear(s, 4 * d, d) + 2 * (2 * s * s * d))
        if c.useSelfConditioning {
            let hidden = d * Double(c.latentMLPMultiplier)
            f += linear(l, d, hidden) + linear(l, hidden, d)                  // linear_previous
        }
        var block = 0.0
        if c.useCondRINBlock { block += crossAttention(l, d, m, d) + swiGLU(l, c.latentsDim, c.latentMLPMultiplier) }
        block += crossAttention(l, d, tokens, dd) + swiGLU(l, c.latentsDim, c.latentMLPMultiplier)   // retriever
        block += Double(c.numProcessingLayers) * (linear(l, d, 3 * d) + linear(l, d, d) + 2 * (2 * l * l * d)
                                                  + swiGLU(l, c.latentsDim, c.latentMLPMultiplier))
        block += crossAttention(tokens, dd, l, d) + swiGLU(tokens, c.dataDim, c.dataMLPMultiplier)   // writer
        f += Double(c.numBlocks) * block
        return f
    }

    /// Matrix-product FLOPs of one training step: the self-conditioning forward (no grad), the
    /// main forward and its backward (≈ 2× forward), i.e. ≈ 4 forwards per sample (when
    /// self-conditioning is on; 3 otherwise).
    public var trainFlopsPerStep: Double {
        let forward = Self.forwardFlopsPerSample(network, textTokens: geometry.textTokens)
        let passes = train.selfConditioningRate > 0 ? 4.0 : 3.0
        return passes * forward * Double(geometry.batchSize)
    }
}

extension TrainConfig {
    /// The settings of the train-step benchmark: `TrainConfig` defaults with the official gradient
    /// clip (1.0) and EMA decay (0.9999, no warm-up). None of them changes the work of a step.
    public static var benchmark: TrainConfig {
        var t = TrainConfig()
        t.gradientClip = 1.0
        t.emaDecay = 0.9999
        t.emaWarmup = false
        t.steps = 1000
        return t
    }
}
