import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroIO
import MiroImage
import MiroModels
import MiroRewards
import MiroShapes

/// Text → image generation for models trained on the Shapes world: the Shapes text encoder, the
/// EMA model, the Euler sampler with multi-reward CFG (method §7) and the pixel decoding.
public final class ShapesPipeline {
    public let model: MIROModel
    public let config: RunConfig
    public let encoder: ShapesTextEncoder
    public let normalization: PixelNormalization
    /// The step of the checkpoint the weights come from.
    public let step: Int
    /// Floating-point weights holding NaN or infinity (the first few, by state-dict key); empty normally.
    public let nonFiniteTensors: [String]

    /// What the negative CFG branch reads as text.
    public enum NegativeText: String, Sendable, CaseIterable {
        /// The empty-prompt embedding, as `MiroPipeline` does.
        case empty
        /// The prompt itself: the paper's pure reward contrast.
        case same
    }

    public struct Settings: Sendable {
        public var steps = 25
        public var guidance = 1.0
        public var rewardTargets: [String: Double] = [:]
        public var negativeRewardTargets: [String: Double] = [:]
        /// `same` by default: Shapes models train without text dropout, so the empty prompt is out of
        /// distribution for them, and the paper's formula keeps the caption in both branches.
        public var negativeText = NegativeText.same
        public var guidanceStartStep = 0
        public var guidanceEndStep: Int? = nil
        public var seed: UInt64 = 0
        public init() {}
    }

    /// Validates `config` (`RunConfig.validate(source:)`) and checks the weights: non-finite ones are
    /// logged as a warning naming them (sampling then fails with an error instead of writing black images).
    public init(model: MIROModel, config: RunConfig, step: Int, source: String = "run configuration",
                logger: Logger = Logger(label: "miro.pipeline")) throws {
        try config.validate(source: source)
        guard let normalization = config.normalization else {
            throw InputError("\(source): the run configuration has no pixel normalisation")
        }
        self.model = model
        self.config = config
        self.normalization = normalization
        self.step = step
        encoder = ShapesTextEncoder(width: config.textEncoder.width, maxTokens: config.textEncoder.maxTokens)
        nonFiniteTensors = try SamplingChecks.nonFiniteTensors(in: model)
        if let warning = SamplingChecks.nonFiniteWarning(nonFiniteTensors, source: source) { logger.warning("\(warning)") }
        model.eval()
    }

    /// Loads the EMA weights (or with `ema: false` the raw weights) of a checkpoint file, or of the
    /// newest checkpoint of a run directory.
    public convenience init(checkpoint url: URL, ema: Bool = true, logger: Logger = Logger(label: "miro.pipeline")) throws {
        let file = try Checkpoint.resolve(url)
        let c = try Checkpoint.read(file)
        let config = try RunConfig.decode(c.configJSON, source: file.path)
        let model = try MIROModel(network: config.network, generator: Generator(seed: 0))
        try model.load(c.model, source: file.lastPathComponent)
        if ema { try model.loadTrainableWeights(c.ema, source: "\(file.path) (EMA)") }
        try self.init(model: model, config: config, step: c.step, source: file.path, logger: logger)
    }

    public var rewardKeys: [String] { config.network.coherenceKeys }

    /// Throws a clear error for reward names the model was not trained on, or values outside [0, 1].
    public func validate(_ targets: [String: Double], option: String = "reward targets") throws {
        try RewardTargets.validate(targets, keys: rewardKeys, option: option)
    }

    /// Generates one image per prompt; noise for the whole batch comes from `settings.seed`.
    public func generate(_ prompts: [String], settings: Settings,
                         progress: ((EulerStep) throws -> Void)? = nil) throws -> [RGBImage] {
        guard !prompts.isEmpty else { return [] }
        try SamplingChecks.guidance(settings.guidance)
        try validate(settings.rewardTargets)
        try validate(settings.negativeRewardTargets, option: "negative reward targets")
        let b = prompts.count
        let encoded = encoder.encode(prompts)
        let text = try Tensor(encoded.embeddings, shape: [b, encoder.maxTokens, encoder.width])
        let mask = try Tensor(encoded.mask, shape: [b, encoder.maxTokens])
        let negText: Tensor, negMask: Tensor
        switch settings.negativeText {
        case .same:
            (negText, negMask) = (text, mask)
        case .empty:
            // The empty prompt is EOS alone; like the official uncond embedding it is one token long.
            let e = encoder.empty
            negText = try Tensor(Array(e.embeddings.prefix(encoder.width)), shape: [1, 1, encoder.width])
            negMask = try Tensor.ones([1, 1], dtype: .bool)
        }
        var positive = settings.rewardTargets, negative = settings.negativeRewardTargets
        if config.train.unconditional {
            // The baseline never saw reward information: it gets the constant it was trained with.
            positive = Dictionary(uniqueKeysWithValues: rewardKeys.map { ($0, 1.0) })
            negative = positive
        }
        let n = config.network
        let noise = try Tensor.randn([b, n.numInputChannels, n.dataSize, n.dataSize], generator: Generator(seed: settings.seed))
        let sampler = try EulerSampler(
            model: model, noise: noise, text: text, textMask: mask, negativeText: negText, negativeTextMask: negMask,
            rewardTargets: positive, negativeRewardTargets: negative, steps: settings.steps,
            guidanceScale: settings.guidance, guidanceStartStep: settings.guidanceStartStep,
            guidanceEndStep: settings.guidanceEndStep)
        let x = try withoutGrad { try sampler.run(progress: progress) }
        try SamplingChecks.requireFinite(x, cause: nonFiniteTensors.isEmpty
            ? "guidance \(settings.guidance) with \(settings.steps) steps diverged; try a smaller --guidance"
            : "the model's weights are not finite (NaN or infinity in \(nonFiniteTensors.joined(separator: ", ")))")
        return try normalization.decode(x)
    }

    /// Generates in chunks of `batch` prompts, each chunk seeded with `seed + chunk index`.
    public func generate(_ prompts: [String], settings: Settings, batch: Int,
                         progress: ((Int) -> Void)? = nil) throws -> [RGBImage] {
        var out: [RGBImage] = []
        var s = settings
        for (i, start) in stride(from: 0, to: prompts.count, by: max(batch, 1)).enumerated() {
            s.seed = settings.seed &+ UInt64(i)
            out += try generate(Array(prompts[start..<min(start + batch, prompts.count)]), settings: s)
            progress?(out.count)
        }
        return out
    }

    /// A reward to rank best-of-N candidates by: one of the Shapes world's scorers (the model's own rewards or
    /// any other of the world's), nil for an unknown name.
    public static func reward(named name: String) -> (any RewardModel)? {
        ShapesRewards.all.first { $0.name == name }
    }

    /// Best-of-N sampling: `count` candidates of `prompt`, candidate c seeded with `settings.seed + c`, and the
    /// one `selectBy` scores highest (the first candidate without a reward). `progress` is called after each
    /// candidate. Returns the chosen image and its seed.
    public func bestOf(_ prompt: String, settings: Settings, count: Int, selectBy: (any RewardModel)?,
                       progress: (() -> Void)? = nil) throws -> (image: RGBImage, seed: UInt64) {
        guard count >= 1 else { throw InputError("best-of needs at least one candidate, got \(count)") }
        var candidates: [RGBImage] = []
        for c in 0..<count {
            var s = settings
            s.seed = settings.seed &+ UInt64(c)
            candidates += try generate([prompt], settings: s)
            progress?()
        }
        var chosen = 0
        if count > 1, let selectBy {
            let scores = try selectBy.score(images: candidates, captions: Array(repeating: prompt, count: candidates.count))
            chosen = BestOfSelection.best(scores) ?? 0
        }
        return (candidates[chosen], settings.seed &+ UInt64(chosen))
    }
}
