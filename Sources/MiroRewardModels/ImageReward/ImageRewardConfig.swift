/// Port of the configuration ImageReward v1.0 builds (image-reward 1.5, ImageReward/models/BLIP/blip.py
/// `create_vit`, blip_pretrain.py `BLIP_Pretrain.__init__`, ImageReward.py `ImageReward.__init__`):
/// the BLIP ViT-L/16 at 224 px, the "med" BERT read from `med_config.json` with `encoder_width` overwritten by
/// the vision width, the unused 256-wide contrastive projections, and the MLP head on the BERT width.

import Foundation
import MiroFormats

/// The BLIP vision transformer's geometry (`VisionTransformer(img_size, patch_size=16, embed_dim, depth,
/// num_heads)`; `mlp_ratio` 4, `qkv_bias` True, LayerNorm eps 1e-6 are the class defaults BLIP keeps).
public struct BLIPVisionConfig: Sendable, Equatable {
    public var imageSize: Int
    public var patchSize: Int
    public var width: Int
    public var depth: Int
    public var heads: Int
    public var mlpRatio: Double = 4
    public var layerNormEps: Double = 1e-6

    public init(imageSize: Int, patchSize: Int, width: Int, depth: Int, heads: Int) {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.width = width
        self.depth = depth
        self.heads = heads
    }

    /// `create_vit("large", 224)`: ImageReward's vision tower (303,301,632 parameters).
    public static let large = BLIPVisionConfig(imageSize: 224, patchSize: 16, width: 1024, depth: 24, heads: 16)

    /// Patches per side (14 for ViT-L/16 at 224).
    public var gridSize: Int { imageSize / patchSize }
    /// Patches plus the class token (197).
    public var positions: Int { gridSize * gridSize + 1 }
    /// `int(dim * mlp_ratio)`.
    public var mlpHidden: Int { Int(Double(width) * mlpRatio) }

    public func validate() throws {
        func fail(_ message: String) -> RewardModelError { .input("BLIP vision config: \(message)") }
        for (name, value) in [("image size", imageSize), ("patch size", patchSize), ("width", width), ("depth", depth),
                              ("heads", heads)] where value < 1 || value > 1 << 20 {
            throw fail("\(name) must be in 1...\(1 << 20), got \(value)")
        }
        guard imageSize % patchSize == 0 else { throw fail("image size \(imageSize) is not a multiple of patch size \(patchSize)") }
        guard width % heads == 0 else { throw fail("width \(width) is not divisible by \(heads) heads") }
        guard mlpRatio.isFinite, mlpRatio > 0, Double(width) * mlpRatio < Double(1 << 24), mlpHidden >= 1 else {
            throw fail("mlp ratio \(mlpRatio) gives no usable hidden width")
        }
        guard layerNormEps.isFinite, layerNormEps >= 0 else { throw fail("layer norm eps must be finite and ≥ 0, got \(layerNormEps)") }
    }
}

/// The activations `med_config.json`'s `hidden_act` may name (transformers' `ACT2FN` keys this port implements).
public enum BLIPTextActivation: String, Codable, Sendable, CaseIterable {
    /// Exact (erf) GELU: what BLIP's med_config.json names.
    case gelu
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case relu
    case silu
}

/// A BLIP `med_config.json` (transformers' `BertConfig` fields; absent fields take `BertConfig.__init__`'s
/// defaults). Dropout probabilities, `type_vocab_size` (the med embeddings have no token-type table) and
/// `initializer_range` are read by Python but change nothing at inference; they are not kept.
public struct BLIPMedConfig: Codable, Sendable, Equatable {
    public var vocabSize = 30522
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var intermediateSize = 3072
    public var hiddenAct = "gelu"
    public var maxPositionEmbeddings = 512
    public var layerNormEps = 1e-12
    public var padTokenId: Int? = 0
    public var positionEmbeddingType = "absolute"
    /// `PretrainedConfig`'s default is false; ImageReward's multimodal forward needs the cross-attention layers.
    public var addCrossAttention = false
    /// The width of the image features the cross-attention keys/values read; `BLIP_Pretrain` overwrites the
    /// file's value with the vision width (1024 for ViT-L).
    public var encoderWidth: Int?
    public var modelType: String? = "bert"

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", layerNormEps = "layer_norm_eps"
        case padTokenId = "pad_token_id", positionEmbeddingType = "position_embedding_type"
        case addCrossAttention = "add_cross_attention", encoderWidth = "encoder_width", modelType = "model_type"
    }

    /// `BertConfig()`'s defaults (bert-base).
    public init() {}

    /// BLIP's published `med_config.json` (what `THUDM/ImageReward` ships beside `ImageReward.pt`): bert-base
    /// with the two added tokens (vocab 30524), cross-attention on, `encoder_width` 768 before the overwrite.
    public static var imageReward: BLIPMedConfig {
        var c = BLIPMedConfig()
        c.vocabSize = 30524
        c.addCrossAttention = true
        c.encoderWidth = 768
        return c
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        vocabSize = try value(.vocabSize, vocabSize)
        hiddenSize = try value(.hiddenSize, hiddenSize)
        numHiddenLayers = try value(.numHiddenLayers, numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, numAttentionHeads)
        intermediateSize = try value(.intermediateSize, intermediateSize)
        hiddenAct = try value(.hiddenAct, hiddenAct)
        maxPositionEmbeddings = try value(.maxPositionEmbeddings, maxPositionEmbeddings)
        layerNormEps = try value(.layerNormEps, layerNormEps)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? padTokenId
        positionEmbeddingType = try value(.positionEmbeddingType, positionEmbeddingType)
        addCrossAttention = try value(.addCrossAttention, addCrossAttention)
        encoderWidth = try c.decodeIfPresent(Int.self, forKey: .encoderWidth)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? modelType
    }

    public var activation: BLIPTextActivation? { BLIPTextActivation(rawValue: hiddenAct) }

    /// Width of one attention head (`hidden_size / num_attention_heads`).
    public var headSize: Int { hiddenSize / max(numAttentionHeads, 1) }

    /// Checks every field the text encoder builds from; `path` names the file in the messages.
    public func validate(path: String = "med_config.json") throws {
        func fail(_ message: String) -> RewardModelError { .file(path: path, reason: message) }
        let limit = 1 << 24
        let sizes: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
            ("max_position_embeddings", maxPositionEmbeddings),
        ]
        for (name, v) in sizes where v < 1 || v > limit { throw fail("\(name) must be in 1...\(limit), got \(v)") }
        if let w = encoderWidth, w < 1 || w > limit { throw fail("encoder_width must be in 1...\(limit), got \(w)") }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard layerNormEps.isFinite, layerNormEps >= 0 else { throw fail("layer_norm_eps must be finite and ≥ 0, got \(layerNormEps)") }
        guard activation != nil else {
            throw fail("hidden_act '\(hiddenAct)' is not supported; supported: "
                       + BLIPTextActivation.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard positionEmbeddingType == "absolute" else {
            throw fail("position_embedding_type '\(positionEmbeddingType)' is not supported (BLIP uses 'absolute')")
        }
        guard addCrossAttention else {
            throw fail("add_cross_attention is false: ImageReward's multimodal text encoder needs the cross-attention layers")
        }
        if let type = modelType, type != "bert" { throw fail("model_type '\(type)' is not a BERT config") }
    }

    /// Reads and validates a `med_config.json`.
    public static func read(_ url: URL) throws -> BLIPMedConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw RewardModelError.file(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        let config: BLIPMedConfig
        do {
            config = try JSONDecoder().decode(BLIPMedConfig.self, from: data)
        } catch let error as DecodingError {
            throw RewardModelError.file(path: url.path, reason: error.configFieldDescription)
        } catch {
            throw RewardModelError.file(path: url.path, reason: "\(error)")
        }
        try config.validate(path: url.path)
        return config
    }
}

/// Everything an ImageReward model is built from.
public struct ImageRewardConfig: Sendable, Equatable {
    public var vision: BLIPVisionConfig
    /// The med BERT with `encoder_width` already overwritten by `vision.width`.
    public var text: BLIPMedConfig
    /// `BLIP_Pretrain(embed_dim=256)`: the out width of the unused `vision_proj` / `text_proj`.
    public var projectionDim: Int

    /// `MLP(768)`'s layer widths after its input (`layers.0`, `.2`, `.4`, `.6`, `.7`).
    public static let headWidths = [1024, 128, 64, 16, 1]
    /// `ImageReward.mean` / `.std`: the standardisation of the head's output.
    public static let rewardMean = 0.16717362830052426
    public static let rewardStd = 1.0333394966054072

    /// What `BLIP_Pretrain` does with the file: `encoder_config.encoder_width = vision_width`.
    public init(vision: BLIPVisionConfig = .large, med: BLIPMedConfig, projectionDim: Int = 256) {
        self.vision = vision
        var text = med
        text.encoderWidth = vision.width
        self.text = text
        self.projectionDim = projectionDim
    }

    /// ImageReward v1.0 as `THUDM/ImageReward` ships it.
    public static var imageRewardV1: ImageRewardConfig { ImageRewardConfig(med: .imageReward) }

    public func validate(path: String = "med_config.json") throws {
        try vision.validate()
        try text.validate(path: path)
        guard projectionDim >= 1, projectionDim <= 1 << 20 else {
            throw RewardModelError.input("projection width must be in 1...\(1 << 20), got \(projectionDim)")
        }
    }
}
