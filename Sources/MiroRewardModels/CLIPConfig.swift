/// Port of `CLIPTextConfig`, `CLIPVisionConfig` and `CLIPConfig` in transformers/models/clip/configuration_clip.py
/// (transformers 4.40.2): the `config.json` of a Hugging Face CLIP folder with transformers' defaults, plus the
/// published geometries the rewards use and the checks a Swift model needs before it builds anything.

import Foundation

/// The MLP activation (`hidden_act`), as transformers' `ACT2FN` names the ones CLIP checkpoints use.
public enum CLIPActivation: String, Codable, Sendable, CaseIterable {
    /// `x · σ(1.702 x)`: OpenAI CLIP (ViT-L/14).
    case quickGELU = "quick_gelu"
    /// Exact (erf) GELU: the LAION / open_clip ViT-H-14 (PickScore, SciScore, HPSv2).
    case gelu
    /// The tanh approximation (`NewGELUActivation`, `gelu_pytorch_tanh`).
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case relu
}

/// `text_config` of a CLIP `config.json`; absent fields take `CLIPTextConfig.__init__`'s defaults.
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var projectionDim = 512
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    public var hiddenAct = "quick_gelu"
    public var layerNormEps = 1e-5
    public var padTokenId: Int? = 1
    public var bosTokenId: Int? = 49406
    /// 2 (the legacy value of openai/clip-vit-large-patch14) selects argmax-of-ids pooling, as transformers 4.40
    /// does; any other value pools at the first position holding it.
    public var eosTokenId: Int? = 49407

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case projectionDim = "projection_dim", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", padTokenId = "pad_token_id"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? projectionDim
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? numAttentionHeads
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? maxPositionEmbeddings
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? hiddenAct
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? layerNormEps
        // An explicit null stays null (PretrainedConfig keeps None).
        if c.contains(.padTokenId) { padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) }
        if c.contains(.bosTokenId) { bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId) }
        if c.contains(.eosTokenId) { eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId) }
    }

    /// Whether the pooled output sits at `argmax(ids)` (transformers' `eos_token_id == 2` branch, and open_clip's
    /// `text_global_pool(pool_type="argmax")`) rather than at the first `eos_token_id`.
    public var poolsAtArgmax: Bool { eosTokenId == 2 }
}

/// `vision_config` of a CLIP `config.json`; absent fields take `CLIPVisionConfig.__init__`'s defaults.
public struct CLIPVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var projectionDim = 512
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 32
    public var hiddenAct = "quick_gelu"
    public var layerNormEps = 1e-5

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", projectionDim = "projection_dim"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numChannels = "num_channels", imageSize = "image_size", patchSize = "patch_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? intermediateSize
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? projectionDim
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? numAttentionHeads
        numChannels = try c.decodeIfPresent(Int.self, forKey: .numChannels) ?? numChannels
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? imageSize
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? patchSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? hiddenAct
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? layerNormEps
    }

    /// `(image_size // patch_size) ** 2 + 1`: the patch tokens and the class token.
    public var numPositions: Int { (imageSize / max(patchSize, 1)) * (imageSize / max(patchSize, 1)) + 1 }
}

/// A CLIP `config.json` (`model_type: "clip"`).
///
/// As in `CLIPConfig.__init__`, a `text_config_dict` / `vision_config_dict` (older exports such as
/// openai/clip-vit-large-patch14 carry both) wins over `text_config` / `vision_config`: transformers builds a full
/// `CLIPTextConfig` from it and overwrites every key of the other.
public struct CLIPConfig: Codable, Sendable, Equatable {
    public var textConfig = CLIPTextConfig()
    public var visionConfig = CLIPVisionConfig()
    /// The width of both projections (the per-tower `projection_dim` fields are not used by `CLIPModel`).
    public var projectionDim = 512
    public var logitScaleInitValue = 2.6592
    public var modelType: String? = "clip"

    enum CodingKeys: String, CodingKey {
        case textConfig = "text_config", visionConfig = "vision_config", projectionDim = "projection_dim"
        case logitScaleInitValue = "logit_scale_init_value", modelType = "model_type"
        case textConfigDict = "text_config_dict", visionConfigDict = "vision_config_dict"
    }

    public init(text: CLIPTextConfig = CLIPTextConfig(), vision: CLIPVisionConfig = CLIPVisionConfig(), projectionDim: Int = 512) {
        textConfig = text
        visionConfig = vision
        self.projectionDim = projectionDim
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        textConfig = try c.decodeIfPresent(CLIPTextConfig.self, forKey: .textConfigDict)
            ?? c.decodeIfPresent(CLIPTextConfig.self, forKey: .textConfig) ?? CLIPTextConfig()
        visionConfig = try c.decodeIfPresent(CLIPVisionConfig.self, forKey: .visionConfigDict)
            ?? c.decodeIfPresent(CLIPVisionConfig.self, forKey: .visionConfig) ?? CLIPVisionConfig()
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? projectionDim
        logitScaleInitValue = try c.decodeIfPresent(Double.self, forKey: .logitScaleInitValue) ?? logitScaleInitValue
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? modelType
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(textConfig, forKey: .textConfig)
        try c.encode(visionConfig, forKey: .visionConfig)
        try c.encode(projectionDim, forKey: .projectionDim)
        try c.encode(logitScaleInitValue, forKey: .logitScaleInitValue)
        try c.encodeIfPresent(modelType, forKey: .modelType)
    }

    /// `openai/clip-vit-large-patch14` (config.json as published): the backbone of `aesthetic_score` and
    /// `openai_clip_score`. 427,616,513 parameters.
    public static var openAIViTL14: CLIPConfig {
        var text = CLIPTextConfig()
        text.hiddenSize = 768
        text.intermediateSize = 3072
        text.numHiddenLayers = 12
        text.numAttentionHeads = 12
        text.projectionDim = 768
        text.bosTokenId = 0
        text.eosTokenId = 2
        text.padTokenId = 1
        var vision = CLIPVisionConfig()
        vision.hiddenSize = 1024
        vision.intermediateSize = 4096
        vision.numHiddenLayers = 24
        vision.numAttentionHeads = 16
        vision.patchSize = 14
        vision.projectionDim = 768
        return CLIPConfig(text: text, vision: vision, projectionDim: 768)
    }

    /// `laion/CLIP-ViT-H-14-laion2B-s32B-b79K` as a transformers `CLIPModel` (erf GELU): the architecture of
    /// PickScore v1 and SciScore. 986,109,441 parameters. Pooling at argmax(ids) like open_clip; on real CLIP
    /// token ids it is the same position as the first `<|endoftext|>`.
    public static var vitH14: CLIPConfig {
        OpenCLIPModelConfig.vitH14.clipConfig
    }

    /// Checks every field the model builds from; `path` names the file in the messages.
    public func validate(path: String = "config.json") throws {
        func fail(_ message: String) -> RewardModelError { .file(path: path, reason: message) }
        let t = textConfig, v = visionConfig
        let sizes: [(String, Int)] = [
            ("text_config.vocab_size", t.vocabSize), ("text_config.hidden_size", t.hiddenSize),
            ("text_config.intermediate_size", t.intermediateSize), ("text_config.num_hidden_layers", t.numHiddenLayers),
            ("text_config.num_attention_heads", t.numAttentionHeads),
            ("text_config.max_position_embeddings", t.maxPositionEmbeddings),
            ("vision_config.hidden_size", v.hiddenSize), ("vision_config.intermediate_size", v.intermediateSize),
            ("vision_config.num_hidden_layers", v.numHiddenLayers), ("vision_config.num_attention_heads", v.numAttentionHeads),
            ("vision_config.num_channels", v.numChannels), ("vision_config.image_size", v.imageSize),
            ("vision_config.patch_size", v.patchSize), ("projection_dim", projectionDim),
        ]
        for (name, value) in sizes where value < 1 { throw fail("\(name) must be a positive integer, got \(value)") }
        if t.hiddenSize % t.numAttentionHeads != 0 {
            throw fail("text_config.hidden_size \(t.hiddenSize) is not divisible by num_attention_heads \(t.numAttentionHeads)")
        }
        if v.hiddenSize % v.numAttentionHeads != 0 {
            throw fail("vision_config.hidden_size \(v.hiddenSize) is not divisible by num_attention_heads \(v.numAttentionHeads)")
        }
        if v.patchSize > v.imageSize {
            throw fail("vision_config.patch_size \(v.patchSize) exceeds image_size \(v.imageSize)")
        }
        for (name, eps) in [("text_config.layer_norm_eps", t.layerNormEps), ("vision_config.layer_norm_eps", v.layerNormEps)]
        where !(eps.isFinite && eps >= 0) {
            throw fail("\(name) must be a finite non-negative number, got \(eps)")
        }
        for (name, act) in [("text_config.hidden_act", t.hiddenAct), ("vision_config.hidden_act", v.hiddenAct)]
        where CLIPActivation(rawValue: act) == nil {
            throw fail("\(name) '\(act)' is not supported; supported: \(CLIPActivation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard logitScaleInitValue.isFinite else { throw fail("logit_scale_init_value must be finite, got \(logitScaleInitValue)") }
        guard let total = parameterCount, total > 0 else {
            throw fail("the sizes describe a model too large to address")
        }
    }

    /// Scalar parameters of `CLIPModel` (`sum(p.numel() for p in model.parameters())`), nil when it overflows.
    public var parameterCount: Int? {
        func mul(_ values: Int...) -> Int? {
            var r = 1
            for v in values {
                let (p, o) = r.multipliedReportingOverflow(by: v)
                if o { return nil }
                r = p
            }
            return r
        }
        func add(_ values: Int?...) -> Int? {
            var total = 0
            for v in values {
                guard let v else { return nil }
                let (r, o) = total.addingReportingOverflow(v)
                if o { return nil }
                total = r
            }
            return total
        }
        func layer(_ h: Int, _ i: Int) -> Int? {
            add(mul(4, h, h), mul(4, h), mul(2, h, i), i, h, mul(4, h))
        }
        let t = textConfig, v = visionConfig
        let text = add(mul(t.vocabSize, t.hiddenSize), mul(t.maxPositionEmbeddings, t.hiddenSize),
                       layer(t.hiddenSize, t.intermediateSize).flatMap { mul($0, t.numHiddenLayers) }, mul(2, t.hiddenSize))
        let vision = add(v.hiddenSize, mul(v.hiddenSize, v.numChannels, v.patchSize, v.patchSize),
                         mul(v.numPositions, v.hiddenSize), mul(4, v.hiddenSize),
                         layer(v.hiddenSize, v.intermediateSize).flatMap { mul($0, v.numHiddenLayers) })
        return add(text, vision, mul(projectionDim, v.hiddenSize), mul(projectionDim, t.hiddenSize), 1)
    }
}
