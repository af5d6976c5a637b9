/// Port of `T5Config` in transformers/models/t5/configuration_t5.py (transformers 4.40.2): the `config.json` of a
/// Hugging Face T5 / FLAN-T5 folder, with transformers' defaults, its derivation of the feed-forward activation, and
/// the checks a Swift encoder needs before it builds anything from these numbers.

import Foundation

/// The activation of the feed-forward block (`dense_act_fn`), as transformers' `ACT2FN` names it.
public enum T5Activation: String, Codable, Sendable, CaseIterable {
    /// `NewGELUActivation`, the tanh approximation; what `feed_forward_proj: "gated-gelu"` means (FLAN-T5, T5 v1.1).
    case geluNew = "gelu_new"
    /// `nn.functional.gelu(approximate="tanh")`: the same formula as `gelu_new`.
    case geluPytorchTanh = "gelu_pytorch_tanh"
    /// `FastGELUActivation`: the tanh approximation written another way.
    case geluFast = "gelu_fast"
    /// Exact (erf) GELU.
    case gelu
    case relu
    case silu
    case swish
}

/// A T5 `config.json`. Field names are transformers'; absent fields take `T5Config.__init__`'s defaults.
///
/// `dense_act_fn` and `is_gated_act` are derived from `feed_forward_proj` exactly as transformers does
/// ("gated-gelu" → gated, `gelu_new`; "relu" → not gated, `relu`), and an explicit value in the file wins, as it
/// does in transformers (`PretrainedConfig.__init__` sets the remaining keyword arguments last). The aliases of
/// `attribute_map` (`hidden_size`, `num_attention_heads`, `num_hidden_layers`) are honoured the same way.
public struct T5Config: Codable, Sendable, Equatable {
    public var vocabSize = 32128
    public var dModel = 512
    public var dKV = 64
    public var dFF = 2048
    public var numLayers = 6
    public var numDecoderLayers: Int?
    public var numHeads = 8
    public var relativeAttentionNumBuckets = 32
    public var relativeAttentionMaxDistance = 128
    public var dropoutRate = 0.1
    public var layerNormEpsilon = 1e-6
    public var feedForwardProj = "relu"
    public var denseActFn = "relu"
    public var isGatedAct = false
    public var tieWordEmbeddings = true
    public var padTokenId: Int? = 0
    public var eosTokenId: Int? = 1
    public var modelType: String? = "t5"

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", dModel = "d_model", dKV = "d_kv", dFF = "d_ff", numLayers = "num_layers"
        case numDecoderLayers = "num_decoder_layers", numHeads = "num_heads"
        case relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case dropoutRate = "dropout_rate", layerNormEpsilon = "layer_norm_epsilon"
        case feedForwardProj = "feed_forward_proj", denseActFn = "dense_act_fn", isGatedAct = "is_gated_act"
        case tieWordEmbeddings = "tie_word_embeddings", padTokenId = "pad_token_id", eosTokenId = "eos_token_id"
        case modelType = "model_type"
    }

    /// `transformers`' `attribute_map` for T5: these spellings set the field they alias.
    enum AliasKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numAttentionHeads = "num_attention_heads", numHiddenLayers = "num_hidden_layers"
    }

    /// A configuration with transformers' defaults (`T5Config()`: the t5-small geometry, relu feed-forward).
    public init() {}

    /// The published `google/flan-t5-xl` configuration (the encoder MIRO conditions on).
    public static var flanT5XL: T5Config {
        var c = T5Config()
        c.vocabSize = 32128
        c.dModel = 2048
        c.dKV = 64
        c.dFF = 5120
        c.numLayers = 24
        c.numDecoderLayers = 24
        c.numHeads = 32
        c.relativeAttentionNumBuckets = 32
        c.relativeAttentionMaxDistance = 128
        c.layerNormEpsilon = 1e-6
        c.tieWordEmbeddings = false
        try? c.setFeedForwardProj("gated-gelu")
        return c
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let aliases = try decoder.container(keyedBy: AliasKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        vocabSize = try value(.vocabSize, vocabSize)
        dModel = try aliases.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? value(.dModel, dModel)
        dKV = try value(.dKV, dKV)
        dFF = try value(.dFF, dFF)
        numLayers = try aliases.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? value(.numLayers, numLayers)
        numDecoderLayers = try c.decodeIfPresent(Int.self, forKey: .numDecoderLayers)
        numHeads = try aliases.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? value(.numHeads, numHeads)
        relativeAttentionNumBuckets = try value(.relativeAttentionNumBuckets, relativeAttentionNumBuckets)
        relativeAttentionMaxDistance = try value(.relativeAttentionMaxDistance, relativeAttentionMaxDistance)
        dropoutRate = try value(.dropoutRate, dropoutRate)
        layerNormEpsilon = try value(.layerNormEpsilon, layerNormEpsilon)
        tieWordEmbeddings = try value(.tieWordEmbeddings, tieWordEmbeddings)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? padTokenId
        eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId) ?? eosTokenId
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? modelType
        let proj = try value(.feedForwardProj, feedForwardProj)
        do {
            try setFeedForwardProj(proj)
        } catch T5Error.invalidConfig(_, let message) {
            throw DecodingError.dataCorruptedError(forKey: .feedForwardProj, in: c, debugDescription: message)
        }
        // Explicit values override the derivation, as kwargs do in `PretrainedConfig.__init__`.
        denseActFn = try value(.denseActFn, denseActFn)
        isGatedAct = try value(.isGatedAct, isGatedAct)
    }

    /// Sets `feed_forward_proj` and derives `dense_act_fn` / `is_gated_act` from it as `T5Config.__init__` does.
    public mutating func setFeedForwardProj(_ proj: String) throws {
        let parts = proj.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2, parts.count == 1 || parts[0] == "gated", let last = parts.last, !last.isEmpty else {
            throw T5Error.invalidConfig(
                path: "config.json",
                message: "feed_forward_proj '\(proj)' is not of the form 'gated-{ACT_FN}' or '{ACT_FN}', e.g. 'gated-gelu' or 'relu'")
        }
        feedForwardProj = proj
        isGatedAct = parts[0] == "gated"
        // transformers: "for backwards compatibility" gated-gelu means the tanh approximation.
        denseActFn = proj == "gated-gelu" ? T5Activation.geluNew.rawValue : last
    }

    /// The feed-forward activation, or nil when `dense_act_fn` names one this port does not implement.
    public var activation: T5Activation? { T5Activation(rawValue: denseActFn) }

    /// `num_heads · d_kv`: the width of q, k, v and the input of o (need not equal `d_model`).
    public var innerDim: Int { numHeads &* dKV }

    /// Checks every field the encoder builds from; `path` names the file in the messages.
    ///
    /// Sizes must be positive, their products must fit in an `Int`, the bucketing needs at least 4 buckets
    /// (2 per direction, one exact) and a `max_distance` beyond the exact range (otherwise transformers divides
    /// by log(1) = 0), and the activation must be one this port implements.
    public func validate(path: String = "config.json") throws {
        func fail(_ message: String) -> T5Error { .invalidConfig(path: path, message: message) }
        let sizes: [(String, Int)] = [
            ("vocab_size", vocabSize), ("d_model", dModel), ("d_kv", dKV), ("d_ff", dFF), ("num_layers", numLayers),
            ("num_heads", numHeads), ("relative_attention_num_buckets", relativeAttentionNumBuckets),
            ("relative_attention_max_distance", relativeAttentionMaxDistance),
        ]
        for (name, value) in sizes where value < 1 { throw fail("\(name) must be a positive integer, got \(value)") }
        if relativeAttentionNumBuckets < 4 {
            throw fail("relative_attention_num_buckets must be at least 4 (bidirectional buckets with an exact range), "
                       + "got \(relativeAttentionNumBuckets)")
        }
        let maxExact = relativeAttentionNumBuckets / 2 / 2
        if relativeAttentionMaxDistance <= maxExact {
            throw fail("relative_attention_max_distance \(relativeAttentionMaxDistance) must exceed the exact range "
                       + "\(maxExact) (relative_attention_num_buckets / 4)")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon >= 0 else {
            throw fail("layer_norm_epsilon must be a finite non-negative number, got \(layerNormEpsilon)")
        }
        guard activation != nil else {
            throw fail("dense_act_fn '\(denseActFn)' (from feed_forward_proj '\(feedForwardProj)') is not supported; "
                       + "supported: \(T5Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // Every tensor's element count, and the total, must be representable: a corrupt config.json with
        // huge sizes is refused here instead of trapping in shape arithmetic.
        guard let total = encoderParameterCount, total > 0 else {
            throw fail("the sizes (vocab_size \(vocabSize), d_model \(dModel), d_kv \(dKV), num_heads \(numHeads), "
                       + "d_ff \(dFF), num_layers \(numLayers)) describe a model too large to address")
        }
    }

    /// Scalar parameters of the encoder (`shared` counted once, as `sum(p.numel() for p in model.parameters())`
    /// counts a tied tensor once), or nil when the arithmetic overflows.
    public var encoderParameterCount: Int? {
        func mul(_ a: Int, _ b: Int) -> Int? {
            let (r, o) = a.multipliedReportingOverflow(by: b)
            return o ? nil : r
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
        let inner = mul(numHeads, dKV)
        let attention = inner.flatMap { mul(4, $0) }.flatMap { mul($0, dModel) }
        let ff = mul(isGatedAct ? 3 : 2, dFF).flatMap { mul($0, dModel) }
        let block = add(attention, ff, mul(2, dModel))
        return add(mul(vocabSize, dModel), block.flatMap { mul($0, numLayers) },
                   mul(relativeAttentionNumBuckets, numHeads), dModel)
    }
}
