/// Port of `ImageReward` (ImageReward/ImageReward.py, image-reward 1.5) and the parts of `BLIP_Pretrain`
/// (models/BLIP/blip_pretrain.py) its scoring uses, for inference:
///
///     image_embeds = blip.visual_encoder(pixels)                          [B, 197, 1024]
///     hidden = blip.text_encoder(ids, attention_mask, image_embeds)       image mask all ones
///     feature = hidden[:, 0]                                              the [CLS] position
///     reward = (mlp(feature) − 0.16717362830052426) / 1.0333394966054072  MLP: 5 Linears, no activations
///
/// This is `score_gard`'s path, which MIRO's batched `inference_rank` takes too (prompt i with image i). The
/// state-dict keys are the reference's (`blip.visual_encoder.*`, `blip.text_encoder.*`, `blip.vision_proj.*`,
/// `blip.text_proj.*`, `mlp.layers.{0,2,4,6,7}.*`). Weights are float32 and the forward runs without autograd.

import MiroEngine
import MiroNN

/// ImageReward.py `MLP`: `Linear(in,1024) → Dropout → Linear(1024,128) → Dropout → Linear(128,64) → Dropout →
/// Linear(64,16) → Linear(16,1)`; the ReLUs are commented out in the reference, so the head is affine.
final class ImageRewardMLP: Module {
    @Child(key: "layers.0") var layer0: BLIPLinear
    @Child(key: "layers.2") var layer2: BLIPLinear
    @Child(key: "layers.4") var layer4: BLIPLinear
    @Child(key: "layers.6") var layer6: BLIPLinear
    @Child(key: "layers.7") var layer7: BLIPLinear

    init(_ key: String, inputWidth: Int, source: any ImageRewardWeightSource) throws {
        super.init()
        let w = ImageRewardConfig.headWidths
        layer0 = try BLIPLinear(key + ".layers.0", in: inputWidth, out: w[0], origin: "1024 × hidden_size", source: source)
        layer2 = try BLIPLinear(key + ".layers.2", in: w[0], out: w[1], origin: "128 × 1024", source: source)
        layer4 = try BLIPLinear(key + ".layers.4", in: w[1], out: w[2], origin: "64 × 128", source: source)
        layer6 = try BLIPLinear(key + ".layers.6", in: w[2], out: w[3], origin: "16 × 64", source: source)
        layer7 = try BLIPLinear(key + ".layers.7", in: w[3], out: w[4], origin: "1 × 16", source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try layer7(layer6(layer4(layer2(layer0(x)))))
    }
}

/// `nn.Linear(width, embed_dim)` kept only so that the state dict has the reference's keys: ImageReward's scoring
/// never reads `vision_proj` / `text_proj`. Loaded when the file has it, zeros otherwise.
final class BLIPUnusedProjection: Module {
    @Param(key: "weight") var weight: Tensor
    @Param(key: "bias") var bias: Tensor

    init(_ key: String, in inFeatures: Int, out outFeatures: Int, origin: String, source: any ImageRewardWeightSource) throws {
        super.init()
        weight = try source.optionalTensor(key + ".weight", shape: [outFeatures, inFeatures], origin: origin)
            ?? Tensor.zeros([outFeatures, inFeatures])
        bias = try source.optionalTensor(key + ".bias", shape: [outFeatures], origin: origin) ?? Tensor.zeros([outFeatures])
    }
}

/// The `BLIP_Pretrain` module as ImageReward holds it (`blip.*`).
final class BLIPImageText: Module {
    @Child(key: "visual_encoder") var visualEncoder: BLIPVisionTransformer
    @Child(key: "text_encoder") var textEncoder: BLIPTextEncoder
    @Child(key: "vision_proj") var visionProj: BLIPUnusedProjection
    @Child(key: "text_proj") var textProj: BLIPUnusedProjection

    init(_ key: String, config: ImageRewardConfig, source: any ImageRewardWeightSource) throws {
        super.init()
        visualEncoder = try BLIPVisionTransformer(key + ".visual_encoder", config: config.vision, source: source)
        textEncoder = try BLIPTextEncoder(key + ".text_encoder", config: config.text, source: source)
        visionProj = try BLIPUnusedProjection(key + ".vision_proj", in: config.vision.width, out: config.projectionDim,
                                              origin: "256 × vision width", source: source)
        textProj = try BLIPUnusedProjection(key + ".text_proj", in: config.text.hiddenSize, out: config.projectionDim,
                                            origin: "256 × hidden_size", source: source)
    }
}

/// ImageReward v1.0: (image, prompt) → a standardised human-preference reward (≈ N(0, 1) over its training
/// data; MIRO stores `(reward + 2) / 4` as `image_reward_score`, see ``ImageRewardScore``).
public final class ImageReward: Module {
    @Child(key: "blip") var blip: BLIPImageText
    @Child(key: "mlp") var mlp: ImageRewardMLP

    public let config: ImageRewardConfig

    /// The intermediate results of one batch (float32, on the weights' device).
    public struct Output {
        /// `blip.visual_encoder(pixels)`: `[B, positions, vision width]`.
        public var imageEmbeds: Tensor
        /// `text_output.last_hidden_state`: `[B, L, hidden_size]`.
        public var textHidden: Tensor
        /// `last_hidden_state[:, 0, :]`: `[B, hidden_size]`.
        public var textFeatures: Tensor
        /// `mlp(text features)`: `[B, 1]`, before standardisation.
        public var head: Tensor
        /// `(head − mean) / std`: `[B]`.
        public var rewards: Tensor
    }

    init(config: ImageRewardConfig, source: any ImageRewardWeightSource, path: String) throws {
        try config.validate(path: path)
        self.config = config
        super.init()
        blip = try BLIPImageText("blip", config: config, source: source)
        mlp = try ImageRewardMLP("mlp", inputWidth: config.text.hiddenSize, source: source)
        try freeze()
        eval()
    }

    /// A full-size model whose tensors are zero-stride broadcasts of one scalar: the real key set, shapes and
    /// parameter count without allocating 1.8 GB. Its outputs are meaningless.
    public static func shapeOnly(config: ImageRewardConfig = .imageRewardV1) throws -> ImageReward {
        try ImageReward(config: config, source: ImageRewardShapeOnlyWeights(), path: "config")
    }

    /// Seeded random weights (for tests and benchmarks without the checkpoint).
    public static func random(config: ImageRewardConfig = .imageRewardV1, seed: UInt64 = 0, device: Device = .cpu) throws -> ImageReward {
        try ImageReward(config: config, source: ImageRewardRandomWeights(generator: Generator(seed: seed), device: device),
                        path: "config")
    }

    /// Every `(key, shape)` of the state dict, in `state_dict()` order.
    public var parameterShapes: [(key: String, shape: [Int])] { stateDict().map { ($0.0, $0.1.shape) } }

    /// The device of the weights.
    public var device: Device { mlp.layer0.weight.device }

    /// Every intermediate for `pixels` float32 `[B, 3, S, S]` (S = the vision image size, already preprocessed),
    /// `ids` `[B, L]` (int64 or int32, each in `0..<vocab_size`, L ≤ max_position_embeddings) and `mask` `[B, L]`
    /// (1 = token, 0 = padding).
    public func forward(pixels: Tensor, ids: Tensor, mask: Tensor) throws -> Output {
        try withoutGrad {
            let (image, tokens, keep) = try checkedInputs(pixels: pixels, ids: ids, mask: mask)
            let imageEmbeds = try blip.visualEncoder(image)
            let hidden = try blip.textEncoder(ids: tokens, mask: keep, image: imageEmbeds)
            let features = try hidden.select(1, 0)
            let head = try mlp(features)
            let rewards = try ((head - ImageRewardConfig.rewardMean) / ImageRewardConfig.rewardStd).squeezed(1)
            return Output(imageEmbeds: imageEmbeds, textHidden: hidden, textFeatures: features, head: head, rewards: rewards)
        }
    }

    /// The standardised rewards `[B]` (`score_gard`).
    public func rewards(pixels: Tensor, ids: Tensor, mask: Tensor) throws -> [Float] {
        try rewards(pixels: pixels, texts: [(ids, mask)])[0]
    }

    /// The standardised rewards of the same images against several tokenized caption lists, the vision tower run
    /// once. Each text is cut after its batch's longest caption first: the padding behind it (35 tokens in all, as
    /// ImageReward tokenizes) only adds keys whose weight is exp(−10000) = 0 in float32 and query rows the [CLS]
    /// read-out never sees, so the rewards are the same for less work.
    public func rewards(pixels: Tensor, texts: [(ids: Tensor, mask: Tensor)]) throws -> [[Float]] {
        try withoutGrad {
            var imageEmbeds: Tensor? = nil
            return try texts.map { text in
                let (ids, mask) = try Self.cutPadding(ids: text.ids, mask: text.mask)
                let (image, tokens, keep) = try checkedInputs(pixels: pixels, ids: ids, mask: mask)
                let embeds = try imageEmbeds ?? blip.visualEncoder(image)
                imageEmbeds = embeds
                let hidden = try blip.textEncoder(ids: tokens, mask: keep, image: embeds)
                return try ((mlp(hidden.select(1, 0)) - ImageRewardConfig.rewardMean) / ImageRewardConfig.rewardStd)
                    .squeezed(1).floats()
            }
        }
    }

    /// `ids` and `mask` cut after the longest row when every row is right-padded; unchanged otherwise.
    static func cutPadding(ids: Tensor, mask: Tensor) throws -> (Tensor, Tensor) {
        guard mask.rank == 2, ids.shape == mask.shape, mask.size(1) > 1 else { return (ids, mask) }
        let length = mask.size(1)
        let rows = try mask.to(.int64).contiguous().toArray(Int64.self)
        let real = (0..<mask.size(0)).map { b in rows[(b * length)..<((b + 1) * length)].prefix { $0 != 0 }.count }
        let rightPadded = (0..<mask.size(0)).allSatisfy { b in rows[(b * length + real[b])..<((b + 1) * length)].allSatisfy { $0 == 0 } }
        guard let used = real.max(), rightPadded, used >= 1, used < length else { return (ids, mask) }
        return (try ids.slice(1, 0, used), try mask.slice(1, 0, used))
    }

    private func checkedInputs(pixels: Tensor, ids: Tensor, mask: Tensor) throws -> (Tensor, Tensor, Tensor) {
        let size = config.vision.imageSize
        let p = pixels.shape
        guard p.count == 4, p[0] >= 1, p[1] == 3, p[2] == size, p[3] == size else {
            throw RewardModelError.input("ImageReward: pixels must be [batch, 3, \(size), \(size)], got \(p)")
        }
        guard pixels.dtype.isFloatingPoint else { throw RewardModelError.input("ImageReward: pixels must be floating point, got \(pixels.dtype)") }
        let s = ids.shape
        guard s.count == 2, s[0] == p[0], s[1] >= 1, s[1] <= config.text.maxPositionEmbeddings else {
            throw RewardModelError.input("ImageReward: ids must be [\(p[0]), L] with 1 ≤ L ≤ \(config.text.maxPositionEmbeddings), got \(s)")
        }
        guard mask.shape == s else { throw RewardModelError.input("ImageReward: attention mask has shape \(mask.shape), ids have \(s)") }
        guard ids.dtype == .int64 || ids.dtype == .int32 else {
            throw RewardModelError.input("ImageReward: ids must be int64 or int32, got \(ids.dtype)")
        }
        let tokens = try ids.to(.int64, device: device)
        let low = try tokens.amin().item(), high = try tokens.amax().item()
        guard low >= 0, high < Double(config.text.vocabSize) else {
            throw RewardModelError.input("ImageReward: token id \(Int(low < 0 ? low : high)) is outside the vocabulary 0..<\(config.text.vocabSize)")
        }
        let image = try pixels.to(.float32, device: device)
        let keep = try mask.to(.float32, device: device)
        return (image, tokens, keep)
    }
}
