/// Port of `CLIPVisionEmbeddings`, `CLIPTextEmbeddings`, `CLIPTextTransformer`, `CLIPVisionTransformer` and
/// `CLIPModel` (`get_text_features`, `get_image_features`, `forward`'s logits) in
/// transformers/models/clip/modeling_clip.py (transformers 4.40.2):
///
///     image: x = cat(class_embedding, patch_conv(pixels).flatten(2).T) + position_embedding
///            x = encoder(pre_layrnorm(x));  image_embeds = visual_projection(post_layernorm(x[:, 0]))
///     text:  x = token_embedding(ids) + position_embedding[:L]
///            x = final_layer_norm(encoder(x, causal ∧ padding mask))
///            text_embeds = text_projection(x[b, eot_b])   eot_b = argmax(ids_b) if eos_token_id == 2
///                                                                else first position of eos_token_id
///     logits_per_image = exp(logit_scale) · î · t̂ᵀ
///
/// State-dict keys are transformers' (`logit_scale`, `text_model.*`, `vision_model.*`, `visual_projection.weight`,
/// `text_projection.weight`), in `state_dict()` order. Weights in open_clip / OpenAI names load through
/// `OpenCLIPNames`. Inference only: parameters are frozen and the forwards run without autograd, in float32.

import Foundation
import MiroEngine
import MiroNN

/// `CLIPVisionEmbeddings`: class token, bias-free patch convolution, learned positions.
final class CLIPVisionEmbeddings: Module {
    @Param(key: "class_embedding") var classEmbedding: Tensor
    @Param(key: "patch_embedding.weight") var patchWeight: Tensor
    @Child(key: "position_embedding") var positionEmbedding: RewardEmbedding
    let patchSize: Int

    init(_ key: String, _ v: CLIPVisionConfig, source: any RewardWeightSource) throws {
        patchSize = v.patchSize
        super.init()
        classEmbedding = try source.tensor(key + ".class_embedding", shape: [v.hiddenSize], origin: "vision_config.hidden_size")
        patchWeight = try source.tensor(key + ".patch_embedding.weight", shape: [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize],
                                        origin: "vision_config.hidden_size × num_channels × patch_size × patch_size")
        positionEmbedding = try RewardEmbedding(key + ".position_embedding", count: v.numPositions, dim: v.hiddenSize,
                                                origin: "(image_size // patch_size)² + 1 × vision_config.hidden_size", source: source)
    }

    func callAsFunction(_ pixels: Tensor) throws -> Tensor {
        let batch = pixels.size(0), width = classEmbedding.size(0)
        // patch_embeds = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        let patches = try pixels.conv2d(patchWeight, stride: (patchSize, patchSize)).flattened(from: 2).transposed(1, 2)
        let cls = try classEmbedding.reshaped([1, 1, width]).expanded([batch, 1, width])
        return try Tensor.cat([cls, patches], dim: 1) + positionEmbedding.weight
    }
}

/// `CLIPTextEmbeddings`: token table plus learned absolute positions.
final class CLIPTextEmbeddings: Module {
    @Child(key: "token_embedding") var tokenEmbedding: RewardEmbedding
    @Child(key: "position_embedding") var positionEmbedding: RewardEmbedding

    init(_ key: String, _ t: CLIPTextConfig, source: any RewardWeightSource) throws {
        super.init()
        tokenEmbedding = try RewardEmbedding(key + ".token_embedding", count: t.vocabSize, dim: t.hiddenSize,
                                             origin: "text_config.vocab_size × hidden_size", source: source)
        positionEmbedding = try RewardEmbedding(key + ".position_embedding", count: t.maxPositionEmbeddings, dim: t.hiddenSize,
                                                origin: "text_config.max_position_embeddings × hidden_size", source: source)
    }

    func callAsFunction(_ ids: Tensor) throws -> Tensor {
        let length = ids.size(1)
        return try Tensor.embedding(tokenEmbedding.weight, ids) + positionEmbedding.weight.slice(0, 0, length)
    }
}

/// `CLIPTextTransformer`.
final class CLIPTextTransformer: Module {
    @Child(key: "embeddings") var embeddings: CLIPTextEmbeddings
    @Child(key: "encoder") var encoder: CLIPEncoder
    @Child(key: "final_layer_norm") var finalLayerNorm: RewardLayerNorm

    init(_ t: CLIPTextConfig, activation: CLIPActivation, source: any RewardWeightSource) throws {
        super.init()
        embeddings = try CLIPTextEmbeddings("text_model.embeddings", t, source: source)
        encoder = try CLIPEncoder("text_model.encoder", CLIPTowerGeometry(t, activation: activation), source: source)
        finalLayerNorm = try RewardLayerNorm("text_model.final_layer_norm", dim: t.hiddenSize, eps: t.layerNormEps,
                                             origin: "text_config.hidden_size", source: source)
    }
}

/// `CLIPVisionTransformer` (its misspelt `pre_layrnorm` is the reference's key).
final class CLIPVisionTransformer: Module {
    @Child(key: "embeddings") var embeddings: CLIPVisionEmbeddings
    @Child(key: "pre_layrnorm") var preLayrnorm: RewardLayerNorm
    @Child(key: "encoder") var encoder: CLIPEncoder
    @Child(key: "post_layernorm") var postLayernorm: RewardLayerNorm

    init(_ v: CLIPVisionConfig, activation: CLIPActivation, source: any RewardWeightSource) throws {
        super.init()
        embeddings = try CLIPVisionEmbeddings("vision_model.embeddings", v, source: source)
        preLayrnorm = try RewardLayerNorm("vision_model.pre_layrnorm", dim: v.hiddenSize, eps: v.layerNormEps,
                                          origin: "vision_config.hidden_size", source: source)
        encoder = try CLIPEncoder("vision_model.encoder", CLIPTowerGeometry(v, activation: activation), source: source)
        postLayernorm = try RewardLayerNorm("vision_model.post_layernorm", dim: v.hiddenSize, eps: v.layerNormEps,
                                            origin: "vision_config.hidden_size", source: source)
    }
}

/// transformers' `CLIPModel`: both towers, their projections and the learned temperature.
public final class CLIPModel: Module {
    @Param(key: "logit_scale") var logitScaleParameter: Tensor
    @Child(key: "text_model") var textModel: CLIPTextTransformer
    @Child(key: "vision_model") var visionModel: CLIPVisionTransformer
    @Child(key: "visual_projection") var visualProjection: RewardLinear
    @Child(key: "text_projection") var textProjection: RewardLinear

    public let config: CLIPConfig

    init(config: CLIPConfig, source: any RewardWeightSource, path: String) throws {
        try config.validate(path: path)
        guard let textAct = CLIPActivation(rawValue: config.textConfig.hiddenAct),
              let visionAct = CLIPActivation(rawValue: config.visionConfig.hiddenAct) else {
            throw RewardModelError.file(path: path, reason: "unsupported hidden_act")
        }
        self.config = config
        super.init()
        logitScaleParameter = try source.tensor("logit_scale", shape: [], origin: "a scalar")
        textModel = try CLIPTextTransformer(config.textConfig, activation: textAct, source: source)
        visionModel = try CLIPVisionTransformer(config.visionConfig, activation: visionAct, source: source)
        let v = config.visionConfig, t = config.textConfig
        visualProjection = try RewardLinear("visual_projection", in: v.hiddenSize, out: config.projectionDim, bias: false,
                                            origin: "projection_dim × vision_config.hidden_size", source: source)
        textProjection = try RewardLinear("text_projection", in: t.hiddenSize, out: config.projectionDim, bias: false,
                                          origin: "projection_dim × text_config.hidden_size", source: source)
        try freeze()
        eval()
    }

    /// A full-size model whose tensors are zero-stride broadcasts of one scalar: the real keys, shapes and
    /// parameter count of `config` without the weights' memory. Its outputs are meaningless.
    public static func shapeOnly(config: CLIPConfig) throws -> CLIPModel {
        try CLIPModel(config: config, source: ShapeOnlyWeights(), path: "the given configuration")
    }

    /// A model with seeded random weights (for benchmarks and tests without a checkpoint).
    public static func random(config: CLIPConfig, seed: UInt64 = 0) throws -> CLIPModel {
        try CLIPModel(config: config, source: RandomWeights(generator: Generator(seed: seed)), path: "the given configuration")
    }

    /// Every `(key, shape)` of the state dict, in `state_dict()` order.
    public var parameterShapes: [(key: String, shape: [Int])] { stateDict().map { ($0.0, $0.1.shape) } }

    /// `logit_scale` as stored (the temperature is its exponential).
    public var logitScale: Float {
        get throws { Float(try logitScaleParameter.item()) }
    }

    /// `get_image_features`: `[B, projection_dim]` (not normalised) for `pixelValues` `[B, 3, S, S]`, S =
    /// `vision_config.image_size`, already resized and normalised as the model's processor does.
    public func imageFeatures(pixelValues: Tensor) throws -> Tensor {
        let v = config.visionConfig
        let shape = pixelValues.shape
        guard shape.count == 4, shape[0] > 0, shape[1] == v.numChannels, shape[2] == v.imageSize, shape[3] == v.imageSize else {
            throw RewardModelError.input("pixel values must be [batch, \(v.numChannels), \(v.imageSize), \(v.imageSize)], got \(shape)")
        }
        return try withoutGrad {
            let pixels = try pixelValues.to(.float32)
            let x = try visionModel.preLayrnorm(visionModel.embeddings(pixels))
            // Only position 0 is pooled, so the last layer computes that row alone (it still attends to every
            // patch): the same features for ~1/layers less work.
            let hidden = try visionModel.encoder(x, mask: nil, lastLayerRows: 1)
            // pooled_output = post_layernorm(last_hidden_state[:, 0, :])
            return try visualProjection(visionModel.postLayernorm(hidden.select(1, 0)))
        }
    }

    /// `get_text_features`: `[B, projection_dim]` (not normalised) for `ids` `[B, L]` (integer, each in
    /// `0..<vocab_size`, L ≤ `max_position_embeddings`) and `mask` `[B, L]` (1 = token, 0 = padding, right-padded
    /// as the CLIP processors pad; nil = all ones, which is what open_clip does).
    public func textFeatures(ids: Tensor, mask: Tensor? = nil) throws -> Tensor {
        let t = config.textConfig
        let shape = ids.shape
        guard shape.count == 2, shape[0] > 0, shape[1] > 0 else {
            throw RewardModelError.input("input ids must be [batch, length] with both at least 1, got shape \(shape)")
        }
        guard shape[1] <= t.maxPositionEmbeddings else {
            throw RewardModelError.input("input ids have \(shape[1]) positions; the model has max_position_embeddings \(t.maxPositionEmbeddings)")
        }
        guard !ids.dtype.isFloatingPoint, ids.dtype != .bool else {
            throw RewardModelError.input("input ids must be an integer tensor, got \(ids.dtype)")
        }
        if let mask {
            guard mask.shape == shape else {
                throw RewardModelError.input("attention mask has shape \(mask.shape), input ids have \(shape)")
            }
            // With the causal mask, a query before the first real token would attend to nothing: transformers then
            // averages padding uniformly, a fused kernel may give NaN. CLIP processors pad on the right; require it.
            let first = try mask.select(1, 0).to(.float64).doubles()
            if let row = first.firstIndex(of: 0) {
                throw RewardModelError.input("attention mask row \(row) starts with padding; CLIP text is padded on the right")
            }
        }
        let rows = try ids.to(.int64).toArray(Int64.self)
        if let bad = rows.first(where: { $0 < 0 || $0 >= Int64(t.vocabSize) }) {
            throw RewardModelError.input("token id \(bad) is outside the model's vocabulary 0..<\(t.vocabSize)")
        }
        let batch = shape[0]
        let pooledAt = Self.poolingPositions(rows, batch: batch, length: shape[1], eos: t.eosTokenId, argmax: t.poolsAtArgmax)
        // Under the causal mask a position never sees a later one, so the tokens after the last pooled position
        // cannot reach any pooled output: the tower runs on the prefix up to it (open_clip pads every caption to 77
        // tokens; a 20-token caption then costs a quarter of the work, for the same features).
        let length = (pooledAt.max() ?? 0) + 1
        return try withoutGrad {
            let tokens = try ids.to(.int64).slice(1, 0, length)
            let x = try textModel.embeddings(tokens)
            // _create_4d_causal_attention_mask + _prepare_4d_attention_mask, as one boolean "may attend" mask.
            var keep = try Tensor.ones([length, length], dtype: .bool).tril().reshaped([1, 1, length, length])
            if let mask {
                let keys = try mask.to(.float32).slice(1, 0, length).ne(0).reshaped([batch, 1, 1, length])
                keep = try keep.logicalAnd(keys)
            }
            let hidden = try textModel.finalLayerNorm(textModel.encoder(x, mask: keep))
            let flat = try hidden.reshaped([batch * length, hidden.size(2)])
            let index = try Tensor(pooledAt.enumerated().map { Int64($0.offset * length + $0.element) }, shape: [batch])
            return try textProjection(flat.indexSelect(0, index))
        }
    }

    /// The pooled position per row: `argmax(ids)` (first maximum) when `eos_token_id == 2`, else the first
    /// position holding `eos_token_id` (0 when there is none, as `(ids == eos).int().argmax()` gives).
    static func poolingPositions(_ ids: [Int64], batch: Int, length: Int, eos: Int?, argmax: Bool) -> [Int] {
        (0..<batch).map { b in
            let row = ids[(b * length)..<((b + 1) * length)]
            if argmax {
                var best = row.startIndex
                for i in row.indices where row[i] > row[best] { best = i }
                return best - row.startIndex
            }
            guard let eos, let hit = row.firstIndex(of: Int64(eos)) else { return 0 }
            return hit - row.startIndex
        }
    }

    /// `logits_per_image` `[images, texts]` = `exp(logit_scale) · î · t̂ᵀ` from unnormalised features, with
    /// transformers' `x / x.norm(dim=-1, keepdim=True)` normalisation.
    public func logitsPerImage(imageFeatures: Tensor, textFeatures: Tensor) throws -> Tensor {
        try withoutGrad {
            let i = try Self.normalized(imageFeatures), t = try Self.normalized(textFeatures)
            return try i.matmul(t.transposed(0, 1)) * logitScaleParameter.exp()
        }
    }

    /// `x / x.norm(p=2, dim=-1, keepdim=True)` (no epsilon, as the references).
    public static func normalized(_ x: Tensor) throws -> Tensor {
        try x / x.norm([-1], keepDim: true)
    }
}
