/// Port of open_clip's model configuration (`CLIPVisionCfg`, `CLIPTextCfg` in open_clip/model.py and the
/// `model_configs/*.json` files of open_clip_torch 2.24.0) for the plain ViT CLIP towers: the geometry of an
/// open_clip / OpenAI checkpoint (HPSv2's `HPS_v2.1_compressed.pt`, OpenAI's ViT-L/14), expressed as the
/// transformers `CLIPConfig` the same weights load into after renaming (`OpenCLIPNames`).
///
/// Only the architecture open_clip builds by default is accepted (class token pooling, pre-LN, no layer scale,
/// causal text mask, argmax text pooling, bias-free projections); a config asking for another variant
/// (`timm_model_name`, `hf_model_name`, `ls_init_value`, `attentional_pool`, ...) is refused by name.

import Foundation

/// An open_clip model config JSON: `{"embed_dim", "quick_gelu", "vision_cfg": {...}, "text_cfg": {...}}`.
public struct OpenCLIPModelConfig: Codable, Sendable, Equatable {
    public struct Vision: Codable, Sendable, Equatable {
        public var imageSize = 224
        public var layers = 12
        public var width = 768
        public var headWidth = 64
        public var mlpRatio = 4.0
        public var patchSize = 16

        enum CodingKeys: String, CodingKey {
            case imageSize = "image_size", layers, width, headWidth = "head_width", mlpRatio = "mlp_ratio"
            case patchSize = "patch_size"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? imageSize
            layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? layers
            width = try c.decodeIfPresent(Int.self, forKey: .width) ?? width
            headWidth = try c.decodeIfPresent(Int.self, forKey: .headWidth) ?? headWidth
            mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? mlpRatio
            patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? patchSize
            try OpenCLIPModelConfig.refuseVariants(decoder, section: "vision_cfg",
                                                   nonNull: ["timm_model_name", "ls_init_value"],
                                                   notTrue: ["attentional_pool", "no_ln_pre", "output_tokens"],
                                                   expected: ["pool_type": "tok"])
        }
    }

    public struct Text: Codable, Sendable, Equatable {
        public var contextLength = 77
        public var vocabSize = 49408
        public var width = 512
        public var heads = 8
        public var layers = 12
        public var mlpRatio = 4.0

        enum CodingKeys: String, CodingKey {
            case contextLength = "context_length", vocabSize = "vocab_size", width, heads, layers, mlpRatio = "mlp_ratio"
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            contextLength = try c.decodeIfPresent(Int.self, forKey: .contextLength) ?? contextLength
            vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? vocabSize
            width = try c.decodeIfPresent(Int.self, forKey: .width) ?? width
            heads = try c.decodeIfPresent(Int.self, forKey: .heads) ?? heads
            layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? layers
            mlpRatio = try c.decodeIfPresent(Double.self, forKey: .mlpRatio) ?? mlpRatio
            try OpenCLIPModelConfig.refuseVariants(decoder, section: "text_cfg",
                                                   nonNull: ["hf_model_name", "ls_init_value"],
                                                   notTrue: ["embed_cls", "no_causal_mask", "proj_bias"],
                                                   expected: ["pool_type": "argmax"])
        }
    }

    public var embedDim = 512
    /// OpenAI's checkpoints were trained with QuickGELU (open_clip's `-quickgelu` configs, `clip.load`).
    public var quickGELU = false
    public var visionCfg = Vision()
    public var textCfg = Text()

    enum CodingKeys: String, CodingKey {
        case embedDim = "embed_dim", quickGELU = "quick_gelu", visionCfg = "vision_cfg", textCfg = "text_cfg"
    }

    public init(embedDim: Int, quickGELU: Bool, vision: Vision, text: Text) {
        self.embedDim = embedDim
        self.quickGELU = quickGELU
        visionCfg = vision
        textCfg = text
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let dim = try c.decodeIfPresent(Int.self, forKey: .embedDim) else {
            throw DecodingError.keyNotFound(CodingKeys.embedDim, .init(codingPath: [], debugDescription: "embed_dim is required"))
        }
        embedDim = dim
        quickGELU = try c.decodeIfPresent(Bool.self, forKey: .quickGELU) ?? false
        visionCfg = try c.decodeIfPresent(Vision.self, forKey: .visionCfg) ?? Vision()
        textCfg = try c.decodeIfPresent(Text.self, forKey: .textCfg) ?? Text()
    }

    /// open_clip 2.24.0 `model_configs/ViT-H-14.json` (HPSv2, and the base of PickScore / SciScore).
    public static var vitH14: OpenCLIPModelConfig {
        var v = Vision()
        (v.imageSize, v.layers, v.width, v.headWidth, v.patchSize) = (224, 32, 1280, 80, 14)
        var t = Text()
        (t.contextLength, t.vocabSize, t.width, t.heads, t.layers) = (77, 49408, 1024, 16, 24)
        return OpenCLIPModelConfig(embedDim: 1024, quickGELU: false, vision: v, text: t)
    }

    /// open_clip 2.24.0 `model_configs/ViT-L-14.json` with `quick_gelu` on: OpenAI's ViT-L/14 as `clip.load` and
    /// open_clip's `ViT-L-14-quickgelu` build it.
    public static var openAIViTL14: OpenCLIPModelConfig {
        var v = Vision()
        (v.imageSize, v.layers, v.width, v.patchSize) = (224, 24, 1024, 14)
        var t = Text()
        (t.contextLength, t.vocabSize, t.width, t.heads, t.layers) = (77, 49408, 768, 12, 12)
        return OpenCLIPModelConfig(embedDim: 768, quickGELU: true, vision: v, text: t)
    }

    /// Reads an open_clip model config JSON file.
    public static func load(_ url: URL) throws -> OpenCLIPModelConfig {
        try CLIPConfigFile.decode(OpenCLIPModelConfig.self, from: url)
    }

    /// The transformers `CLIPConfig` with the same tensors: open_clip's `nn.LayerNorm` (eps 1e-5), `heads =
    /// width // head_width` for the vision tower, `mlp_width = int(width * mlp_ratio)`, argmax text pooling.
    public var clipConfig: CLIPConfig {
        let act = quickGELU ? CLIPActivation.quickGELU.rawValue : CLIPActivation.gelu.rawValue
        var text = CLIPTextConfig()
        text.vocabSize = textCfg.vocabSize
        text.hiddenSize = textCfg.width
        text.intermediateSize = Self.mlpWidth(textCfg.width, textCfg.mlpRatio)
        text.numHiddenLayers = textCfg.layers
        text.numAttentionHeads = textCfg.heads
        text.maxPositionEmbeddings = textCfg.contextLength
        text.hiddenAct = act
        text.projectionDim = embedDim
        (text.bosTokenId, text.eosTokenId, text.padTokenId) = (0, 2, 1)  // eos 2: argmax pooling
        var vision = CLIPVisionConfig()
        vision.hiddenSize = visionCfg.width
        vision.intermediateSize = Self.mlpWidth(visionCfg.width, visionCfg.mlpRatio)
        vision.numHiddenLayers = visionCfg.layers
        vision.numAttentionHeads = visionCfg.headWidth > 0 ? visionCfg.width / visionCfg.headWidth : 0
        vision.imageSize = visionCfg.imageSize
        vision.patchSize = visionCfg.patchSize
        vision.hiddenAct = act
        vision.projectionDim = embedDim
        return CLIPConfig(text: text, vision: vision, projectionDim: embedDim)
    }

    /// `int(width * mlp_ratio)`, 0 (refused by validation) when it is not a finite positive size.
    static func mlpWidth(_ width: Int, _ ratio: Double) -> Int {
        let w = Double(width) * ratio
        guard w.isFinite, w >= 1, w < Double(Int32.max) else { return 0 }
        return Int(w)
    }

    /// Checks the architecture-changing keys of a section that this port does not implement.
    fileprivate static func refuseVariants(_ decoder: any Decoder, section: String, nonNull: [String], notTrue: [String],
                                           expected: [String: String]) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        for name in nonNull {
            let key = AnyKey(name)
            if c.contains(key), try !c.decodeNil(forKey: key) {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(section).\(name) is set; only the plain ViT / text transformer of open_clip is supported")
            }
        }
        for name in notTrue {
            let key = AnyKey(name)
            if (try? c.decode(Bool.self, forKey: key)) == true {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(section).\(name) is true; this port supports only its default (false)")
            }
        }
        for (name, value) in expected {
            let key = AnyKey(name)
            if let found = try? c.decode(String.self, forKey: key), found != value {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(section).\(name) is '\(found)'; only '\(value)' is supported")
            }
        }
    }
}

/// A coding key for names known only at run time.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
