import Foundation
import MiroEngine
import MiroPipeline
import MiroRewardModels

/// `miro bench rewards`: images/s of each reward model at its full size with random weights, from ready pixel
/// values and token ids (what `scripts/bench_official_rewards.py` times on the reference implementations, same
/// inputs, same padding per reference):
///
///     aesthetic_score     OpenAI CLIP ViT-L/14 image tower → normalise → LAION MLP → /10
///     openai_clip_score   CLIP ViT-L/14 both towers, text padded to the longest caption (HF processor) → cos·e^s/100
///     pick_a_score_score  CLIP ViT-H/14 (transformers names) both towers, longest padding → cos·e^s/100 (= SciScore)
///     hpsv2_score         CLIP ViT-H/14 (open_clip) both towers, 77 tokens padded with 0 → cos
///     image_reward_score  BLIP ViT-L/16 + med BERT over 35 tokens + MLP → (r + 2)/4
///
/// Each reward is built, run once untimed, then `runs` times on one batch; the model is released before the next.
public struct RewardBenchmark {
    public static let rewards = ["aesthetic_score", "openai_clip_score", "pick_a_score_score", "hpsv2_score", "image_reward_score"]

    public struct Options: Sendable {
        public var rewards = RewardBenchmark.rewards
        public var batch = 4
        public var runs = 2
        /// Tokens per caption, start and end included (3…35).
        public var captionTokens = 20
        /// `tiny`: the same code at seconds-long sizes (the test and `--size tiny`).
        public var tiny = false
        public var seed: UInt64 = 0

        public init() {}
    }

    public struct Result: Sendable {
        public var reward: String
        public var seconds: Double
        public var runs: [Double]
        public var warmupSeconds: Double
        public var buildSeconds: Double
        public var parameters: Int
        public var detail: String
        public var finite: Bool
        public var batch: Int
        public var imagesPerSecond: Double { Double(batch) / seconds }
    }

    public let options: Options

    public init(options: Options) throws {
        for name in options.rewards where !Self.rewards.contains(name) {
            throw InputError("unknown reward '\(name)' (benchmarked: \(Self.rewards.joined(separator: ", ")))")
        }
        guard options.batch >= 1, options.runs >= 1, (3...35).contains(options.captionTokens) else {
            throw InputError("batch and runs must be at least 1 and caption tokens in 3...35")
        }
        self.options = options
    }

    // The reference script's tiny sizes.
    static let tinyImage = 32, tinyWidth = 32, tinyLayers = 2, tinyHeads = 2, tinyPatch = 8, tinyEmbed = 16

    /// [49406] + n − 2 pieces + [49407] per row, padded with `pad` to `context` (nil: no padding); the rule the
    /// Python script uses.
    public static func clipIDs(tokens n: Int, batch: Int, context: Int?, pad: Int64) -> (ids: [Int64], length: Int) {
        let length = context ?? n
        var ids: [Int64] = []
        for b in 0..<batch {
            var row: [Int64] = [49406] + (0..<(n - 2)).map { Int64(1000 + (7919 * ($0 + 1 + b)) % 30000) } + [49407]
            row += Array(repeating: pad, count: length - row.count)
            ids += row
        }
        return (ids, length)
    }

    /// [CLS] + n − 2 pieces + [SEP], padded with 0 to 35, and the mask.
    public static func bertIDs(tokens n: Int, batch: Int, length: Int = 35) -> (ids: [Int64], mask: [Int64]) {
        var ids: [Int64] = [], mask: [Int64] = []
        for b in 0..<batch {
            let row: [Int64] = [101] + (0..<(n - 2)).map { Int64(1000 + (7919 * ($0 + 1 + b)) % 28000) } + [102]
            ids += row + Array(repeating: 0, count: length - row.count)
            mask += Array(repeating: 1, count: row.count) + Array(repeating: 0, count: length - row.count)
        }
        return (ids, mask)
    }

    func clipConfig(large: Bool, quickGELU: Bool) -> CLIPConfig {
        guard options.tiny else { return large ? .vitH14 : .openAIViTL14 }
        var c = CLIPConfig(projectionDim: Self.tinyEmbed)
        c.visionConfig.hiddenSize = Self.tinyWidth
        c.visionConfig.intermediateSize = 4 * Self.tinyWidth
        c.visionConfig.numHiddenLayers = Self.tinyLayers
        c.visionConfig.numAttentionHeads = Self.tinyHeads
        c.visionConfig.imageSize = Self.tinyImage
        c.visionConfig.patchSize = Self.tinyPatch
        c.textConfig.hiddenSize = Self.tinyWidth
        c.textConfig.intermediateSize = 4 * Self.tinyWidth
        c.textConfig.numHiddenLayers = Self.tinyLayers
        c.textConfig.numAttentionHeads = Self.tinyHeads
        c.textConfig.vocabSize = 49408
        c.visionConfig.hiddenAct = quickGELU ? "quick_gelu" : "gelu"
        c.textConfig.hiddenAct = quickGELU ? "quick_gelu" : "gelu"
        return c
    }

    /// One reward: (run on the batch → scores, parameters, detail).
    func build(_ reward: String) throws -> (run: () throws -> [Float], parameters: Int, detail: String) {
        let b = options.batch, n = options.captionTokens, seed = options.seed
        func pixels(_ side: Int) throws -> Tensor { try Tensor.randn([b, 3, side, side], generator: Generator(seed: seed &+ 7)) }
        func similarity(_ kind: CLIPSimilarityReward.Kind, large: Bool, detail: String) throws
            -> (run: () throws -> [Float], parameters: Int, detail: String) {
            let model = try CLIPModel.random(config: clipConfig(large: large, quickGELU: !large), seed: seed)
            let x = try pixels(model.config.visionConfig.imageSize)
            let padded = kind == .hpsv2
            let t = Self.clipIDs(tokens: n, batch: b, context: padded ? 77 : nil, pad: padded ? 0 : 49407)
            let ids = try Tensor(t.ids, shape: [b, t.length])
            let mask = try Tensor(Array(repeating: Int64(1), count: t.ids.count), shape: [b, t.length])
            return ({ try CLIPSimilarityReward.storedValues(kind: kind, model: model, pixelValues: x, ids: ids, mask: mask) },
                    model.parameterCount, detail)
        }
        switch reward {
        case "aesthetic_score":
            let clip = try CLIPModel.random(config: clipConfig(large: false, quickGELU: true), seed: seed)
            let mlp = try AestheticMLP.random(inputSize: clip.config.projectionDim, seed: seed)
            let x = try pixels(clip.config.visionConfig.imageSize)
            let vision = clip.namedParameters().filter { $0.0.hasPrefix("vision_model.") || $0.0.hasPrefix("visual_projection.") }
            return ({ try (mlp.rating(AestheticMLP.normalized(clip.imageFeatures(pixelValues: x))) / 10).floats() },
                    vision.reduce(0) { $0 + $1.1.count } + mlp.parameterCount,
                    "OpenAI CLIP ViT-L/14 image tower + aesthetic MLP")
        case "openai_clip_score":
            return try similarity(.openAICLIP, large: false, detail: "CLIP ViT-L/14, text padded to the longest caption")
        case "pick_a_score_score":
            return try similarity(.pickScore, large: true, detail: "CLIP ViT-H/14 (PickScore; SciScore is the same model)")
        case "hpsv2_score":
            return try similarity(.hpsv2, large: true, detail: "CLIP ViT-H/14 (open_clip HPSv2), 77 text tokens")
        default:  // image_reward_score
            var config = ImageRewardConfig.imageRewardV1
            if options.tiny {
                config.vision.imageSize = Self.tinyImage
                config.vision.patchSize = Self.tinyPatch
                config.vision.width = Self.tinyWidth
                config.vision.depth = Self.tinyLayers
                config.vision.heads = Self.tinyHeads
                config.text.hiddenSize = Self.tinyWidth
                config.text.intermediateSize = 4 * Self.tinyWidth
                config.text.numHiddenLayers = Self.tinyLayers
                config.text.numAttentionHeads = Self.tinyHeads
                config.text.encoderWidth = Self.tinyWidth
            }
            let model = try ImageReward.random(config: config, seed: seed)
            let x = try pixels(config.vision.imageSize)
            let t = Self.bertIDs(tokens: n, batch: b)
            let ids = try Tensor(t.ids, shape: [b, 35]), mask = try Tensor(t.mask, shape: [b, 35])
            return ({ try model.rewards(pixels: x, ids: ids, mask: mask).map(ImageRewardScore.storedValue(reward:)) },
                    model.parameterCount, "ImageReward v1.0: BLIP ViT-L/16 + med BERT (35 tokens) + MLP")
        }
    }

    /// Runs every reward in turn; `progress` sees each result as it is measured.
    public func run(progress: ((Result) throws -> Void)? = nil) throws -> [Result] {
        var results: [Result] = []
        for reward in options.rewards {
            var built: (run: () throws -> [Float], parameters: Int, detail: String)?
            let buildSeconds = try elapsed { built = try build(reward) }
            guard let built else { throw InputError("\(reward) was not built") }
            var scores: [Float] = []
            let warm = try elapsed { scores = try built.run() }
            var runs: [Double] = []
            for _ in 0..<options.runs { runs.append(try elapsed { scores = try built.run() }) }
            let result = Result(reward: reward, seconds: upperMedian(runs), runs: runs, warmupSeconds: warm,
                                buildSeconds: buildSeconds, parameters: built.parameters, detail: built.detail,
                                finite: scores.count == options.batch && scores.allSatisfy(\.isFinite), batch: options.batch)
            try progress?(result)
            results.append(result)
        }
        return results
    }
}
