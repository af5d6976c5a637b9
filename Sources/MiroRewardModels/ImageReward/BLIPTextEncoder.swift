/// Port of BLIP's "med" BERT in ImageReward/models/BLIP/med.py (image-reward 1.5, adapted from transformers
/// 4.15's BERT): `BertEmbeddings`, `BertSelfAttention`, `BertSelfOutput`, `BertAttention`, `BertIntermediate`,
/// `BertOutput`, `BertLayer`, `BertEncoder` and `BertModel(add_pooling_layer=False)` in `mode="multimodal"`,
/// inference only:
///
///     h = LayerNorm(word_embeddings(ids) + position_embeddings(0..<L))      no token-type table; eps 1e-12
///     mask = (1 − attention_mask[:, None, None, :]) · −10000                med.py's own extended mask
///     per layer (post-LN):
///         h = LayerNorm(dense(SelfAttention(h, mask)) + h)
///         h = LayerNorm(dense(CrossAttention(q = h, k = v = image_embeds)) + h)   image mask all ones → 0
///         h = LayerNorm(output.dense(act(intermediate.dense(h))) + h)
///     attention: softmax(q·kᵀ / √d + mask)·v, per head
///
/// Keys are the reference's under `blip.text_encoder.` (`embeddings.{word_embeddings,position_embeddings,LayerNorm}`,
/// `encoder.layer.{i}.{attention,crossattention}.{self.{query,key,value},output.{dense,LayerNorm}}`,
/// `encoder.layer.{i}.intermediate.dense`, `encoder.layer.{i}.output.{dense,LayerNorm}`, and the
/// `embeddings.position_ids` buffer).

import MiroEngine
import MiroNN

/// `BertEmbeddings` of med.py: word + absolute position embeddings, LayerNorm.
final class BLIPTextEmbeddings: Module {
    @Child(key: "word_embeddings") var wordEmbeddings: BLIPEmbeddingTable
    @Child(key: "position_embeddings") var positionEmbeddings: BLIPEmbeddingTable
    @Child(key: "LayerNorm") var layerNorm: BLIPLayerNorm
    /// `torch.arange(max_position_embeddings).expand((1, -1))`: saved in the state dict, never read from a file.
    @Buffer(key: "position_ids") var positionIDs: Tensor

    init(_ key: String, config: BLIPMedConfig, source: any ImageRewardWeightSource) throws {
        super.init()
        wordEmbeddings = try BLIPEmbeddingTable(key + ".word_embeddings", count: config.vocabSize, dim: config.hiddenSize,
                                                origin: "vocab_size × hidden_size", source: source)
        positionEmbeddings = try BLIPEmbeddingTable(key + ".position_embeddings", count: config.maxPositionEmbeddings,
                                                    dim: config.hiddenSize, origin: "max_position_embeddings × hidden_size",
                                                    source: source)
        layerNorm = try BLIPLayerNorm(key + ".LayerNorm", dim: config.hiddenSize, eps: config.layerNormEps, origin: "hidden_size",
                                      source: source)
        positionIDs = try Tensor.arange(0, Double(config.maxPositionEmbeddings), dtype: .int64,
                                        device: wordEmbeddings.weight.device).unsqueezed(0)
    }

    /// `ids` int64 `[B, L]` with L ≤ max_position_embeddings.
    func callAsFunction(_ ids: Tensor) throws -> Tensor {
        let length = ids.shape[1]
        let positions = try positionIDs.slice(1, 0, length)
        return try layerNorm(wordEmbeddings(ids) + positionEmbeddings(positions))
    }
}

/// `nn.Embedding(count, dim)`.
final class BLIPEmbeddingTable: Module {
    @Param(key: "weight") var weight: Tensor

    init(_ key: String, count: Int, dim: Int, origin: String, source: any ImageRewardWeightSource) throws {
        super.init()
        weight = try source.tensor(key + ".weight", shape: [count, dim], origin: origin)
    }

    func callAsFunction(_ indices: Tensor) throws -> Tensor {
        try Tensor.embedding(weight, indices)
    }
}

/// `BertSelfAttention`: query from the hidden states; key/value from them (self) or from the image embeddings
/// (cross, input width `encoder_width`).
final class BLIPTextSelfAttention: Module {
    @Child(key: "query") var query: BLIPLinear
    @Child(key: "key") var key: BLIPLinear
    @Child(key: "value") var value: BLIPLinear
    let heads: Int
    let headSize: Int

    init(_ key: String, config: BLIPMedConfig, keyWidth: Int, source: any ImageRewardWeightSource) throws {
        heads = config.numAttentionHeads
        headSize = config.headSize
        super.init()
        let h = config.hiddenSize
        let origin = keyWidth == h ? "hidden_size × hidden_size" : "hidden_size × encoder_width"
        query = try BLIPLinear(key + ".query", in: h, out: h, origin: "hidden_size × hidden_size", source: source)
        self.key = try BLIPLinear(key + ".key", in: keyWidth, out: h, origin: origin, source: source)
        value = try BLIPLinear(key + ".value", in: keyWidth, out: h, origin: origin, source: source)
    }

    /// `[B, L, hidden] → [B, heads, L, head]` (`transpose_for_scores`).
    private func split(_ x: Tensor) throws -> Tensor {
        try x.reshaped([x.shape[0], x.shape[1], heads, headSize]).permuted([0, 2, 1, 3])
    }

    /// `mask`: the additive `[B, 1, 1, Lk]` term, or nil for none (the all-ones image mask adds 0).
    func callAsFunction(_ hidden: Tensor, context: Tensor, mask: Tensor?) throws -> Tensor {
        let q = try split(query(hidden)), k = try split(key(context)), v = try split(value(context))
        // attention_scores = q @ kᵀ / sqrt(head_size) + mask; probs = softmax(scores); context = probs @ v
        var scores = try q.matmul(k.transposed(-1, -2)) / Double(headSize).squareRoot()
        if let mask { scores = try scores + mask }
        let out = try scores.softmax(-1).matmul(v)
        return try out.permuted([0, 2, 1, 3]).reshaped([hidden.shape[0], hidden.shape[1], heads * headSize])
    }
}

/// `BertSelfOutput` / `BertOutput`: `LayerNorm(dense(x) + residual)`.
final class BLIPTextResidualOutput: Module {
    @Child(key: "dense") var dense: BLIPLinear
    @Child(key: "LayerNorm") var layerNorm: BLIPLayerNorm

    init(_ key: String, config: BLIPMedConfig, inWidth: Int, origin: String, source: any ImageRewardWeightSource) throws {
        super.init()
        dense = try BLIPLinear(key + ".dense", in: inWidth, out: config.hiddenSize, origin: origin, source: source)
        layerNorm = try BLIPLayerNorm(key + ".LayerNorm", dim: config.hiddenSize, eps: config.layerNormEps, origin: "hidden_size",
                                      source: source)
    }

    func callAsFunction(_ x: Tensor, residual: Tensor) throws -> Tensor {
        try layerNorm(dense(x) + residual)
    }
}

/// `BertAttention`: attention (`self`) then its post-LN output.
final class BLIPTextAttention: Module {
    @Child(key: "self") var attention: BLIPTextSelfAttention
    @Child(key: "output") var output: BLIPTextResidualOutput

    init(_ key: String, config: BLIPMedConfig, keyWidth: Int, source: any ImageRewardWeightSource) throws {
        super.init()
        attention = try BLIPTextSelfAttention(key + ".self", config: config, keyWidth: keyWidth, source: source)
        output = try BLIPTextResidualOutput(key + ".output", config: config, inWidth: config.hiddenSize,
                                            origin: "hidden_size × hidden_size", source: source)
    }

    func callAsFunction(_ hidden: Tensor, context: Tensor, mask: Tensor?) throws -> Tensor {
        try output(attention(hidden, context: context, mask: mask), residual: hidden)
    }
}

/// `BertIntermediate`: `act(dense(x))`.
final class BLIPTextIntermediate: Module {
    @Child(key: "dense") var dense: BLIPLinear
    let activation: BLIPTextActivation

    init(_ key: String, config: BLIPMedConfig, activation: BLIPTextActivation, source: any ImageRewardWeightSource) throws {
        self.activation = activation
        super.init()
        dense = try BLIPLinear(key + ".dense", in: config.hiddenSize, out: config.intermediateSize,
                               origin: "intermediate_size × hidden_size", source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let y = try dense(x)
        switch activation {
        case .gelu: return try y.gelu()
        case .geluNew, .geluPytorchTanh: return try y.geluTanh()
        case .relu: return try y.relu()
        case .silu: return try y.silu()
        }
    }
}

/// med.py `BertLayer` in `mode="multimodal"`: self-attention → cross-attention → feed-forward, each post-LN.
final class BLIPTextLayer: Module {
    @Child(key: "attention") var attention: BLIPTextAttention
    @Child(key: "crossattention") var crossAttention: BLIPTextAttention
    @Child(key: "intermediate") var intermediate: BLIPTextIntermediate
    @Child(key: "output") var output: BLIPTextResidualOutput

    init(_ key: String, config: BLIPMedConfig, encoderWidth: Int, activation: BLIPTextActivation,
         source: any ImageRewardWeightSource) throws {
        super.init()
        attention = try BLIPTextAttention(key + ".attention", config: config, keyWidth: config.hiddenSize, source: source)
        crossAttention = try BLIPTextAttention(key + ".crossattention", config: config, keyWidth: encoderWidth, source: source)
        intermediate = try BLIPTextIntermediate(key + ".intermediate", config: config, activation: activation, source: source)
        output = try BLIPTextResidualOutput(key + ".output", config: config, inWidth: config.intermediateSize,
                                            origin: "hidden_size × intermediate_size", source: source)
    }

    func callAsFunction(_ hidden: Tensor, mask: Tensor, image: Tensor) throws -> Tensor {
        let h = try attention(hidden, context: hidden, mask: mask)
        let c = try crossAttention(h, context: image, mask: nil)
        return try output(intermediate(c), residual: c)
    }
}

/// `BertEncoder`: the layer stack.
final class BLIPTextLayers: Module {
    @Child(key: "layer") var layers: [BLIPTextLayer]

    init(_ key: String, config: BLIPMedConfig, encoderWidth: Int, activation: BLIPTextActivation,
         source: any ImageRewardWeightSource) throws {
        super.init()
        layers = try (0..<config.numHiddenLayers).map {
            try BLIPTextLayer(key + ".layer.\($0)", config: config, encoderWidth: encoderWidth, activation: activation, source: source)
        }
    }
}

/// med.py `BertModel(config, add_pooling_layer=False)` (`blip.text_encoder`): ids, attention mask and image
/// embeddings in, `last_hidden_state` `[B, L, hidden]` out.
final class BLIPTextEncoder: Module {
    @Child(key: "embeddings") var embeddings: BLIPTextEmbeddings
    @Child(key: "encoder") var encoder: BLIPTextLayers

    init(_ key: String, config: BLIPMedConfig, source: any ImageRewardWeightSource) throws {
        guard let activation = config.activation, let encoderWidth = config.encoderWidth else {
            throw RewardModelError.input("med config: hidden_act '\(config.hiddenAct)' or encoder_width is not usable")
        }
        super.init()
        embeddings = try BLIPTextEmbeddings(key + ".embeddings", config: config, source: source)
        encoder = try BLIPTextLayers(key + ".encoder", config: config, encoderWidth: encoderWidth, activation: activation,
                                     source: source)
    }

    /// `ids` int64 `[B, L]`, `mask` float32 `[B, L]` (1 token, 0 padding), `image` `[B, N, encoder_width]`.
    func callAsFunction(ids: Tensor, mask: Tensor, image: Tensor) throws -> Tensor {
        // extended_attention_mask = (1.0 - attention_mask[:, None, None, :]) * -10000.0
        let additive = try (1 - mask).unsqueezed(1).unsqueezed(1) * -10000.0
        var h = try embeddings(ids)
        for layer in encoder.layers { h = try layer(h, mask: additive, image: image) }
        return h
    }
}
