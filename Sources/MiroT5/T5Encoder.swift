/// Port of `T5EncoderModel` and the encoder path of `T5Stack` in transformers/models/t5/modeling_t5.py
/// (transformers 4.40.2): token ids and an attention mask in, `last_hidden_state` `[B, L, d_model]` out.
///
///     h = shared(ids)                                       (no √d_model scaling)
///     bias = block[0].relative_attention_bias(buckets(L))   [1, heads, L, L], computed once
///            + (1 − mask) · finfo(float32).min              [B, 1, 1, L]
///     for block in blocks: h = h + SelfAttention(layer_norm(h), bias)  (scores = q·kᵀ, no 1/√d_kv)
///                          h = h + DenseReluDense(layer_norm(h))
///     return final_layer_norm(h)

import Foundation
import MiroEngine
import MiroNN

/// The stack of `T5Block`s with its tied embedding and `final_layer_norm` (`T5Stack`, encoder side).
final class T5Stack: Module {
    /// The same module as `T5Encoder.shared` (tied): it appears under both keys, as in `state_dict()`.
    @Child(key: "embed_tokens") var embedTokens: T5Embedding
    @Child(key: "block") var blocks: [T5Block]
    @Child(key: "final_layer_norm") var finalLayerNorm: T5LayerNorm

    init(config: T5Config, activation: T5Activation, shared: T5Embedding, source: any T5WeightSource) throws {
        super.init()
        embedTokens = shared
        blocks = try (0..<config.numLayers).map { i in
            try T5Block("encoder.block.\(i)", config: config, activation: activation,
                        hasRelativeAttentionBias: i == 0, source: source)
        }
        finalLayerNorm = try T5LayerNorm("encoder.final_layer_norm", dim: config.dModel,
                                         eps: config.layerNormEpsilon, source: source)
    }
}

/// The T5 text encoder (`T5EncoderModel`), e.g. FLAN-T5-XL's for MIRO's text conditioning.
///
/// State-dict keys are transformers' (`shared.weight`, `encoder.embed_tokens.weight` — the same tensor —,
/// `encoder.block.{i}.layer.0.SelfAttention.{q,k,v,o}.weight`, `encoder.block.0.layer.0.SelfAttention.
/// relative_attention_bias.weight`, `encoder.block.{i}.layer.{0,1}.layer_norm.weight`,
/// `encoder.block.{i}.layer.1.DenseReluDense.{wi_0,wi_1,wo | wi,wo}.weight`, `encoder.final_layer_norm.weight`).
/// Parameters are frozen: this is an inference module, and `callAsFunction` runs without autograd.
public final class T5Encoder: Module {
    @Child(key: "shared") var shared: T5Embedding
    @Child(key: "encoder") var encoder: T5Stack

    public let config: T5Config
    public let precision: T5Precision

    init(config: T5Config, precision: T5Precision, source: any T5WeightSource, path: String) throws {
        try config.validate(path: path)
        guard let activation = config.activation else {
            throw T5Error.invalidConfig(path: path, message: "dense_act_fn '\(config.denseActFn)' is not supported")
        }
        self.config = config
        self.precision = precision
        super.init()
        let embedding = try T5Embedding("shared", count: config.vocabSize, dim: config.dModel, role: .compute,
                                        origin: "vocab_size × d_model", source: source)
        shared = embedding
        encoder = try T5Stack(config: config, activation: activation, shared: embedding, source: source)
        try freeze()
        eval()
    }

    /// A full-size model whose tensors are zero-stride broadcasts of one scalar: the real key set, shapes and
    /// parameter count of `config` without allocating the weights (FLAN-T5-XL: 4.9 GB in float32). Built by the
    /// same code as a loaded model; its outputs are meaningless.
    public static func shapeOnly(config: T5Config, dtype precision: T5Precision = .float32) throws -> T5Encoder {
        try T5Encoder(config: config, precision: precision, source: T5ShapeOnlyWeights(), path: "config")
    }

    /// A model with seeded random weights (matrices N(0, 1/fan_in), embeddings N(0, 1), norms 1): for tests and
    /// benchmarks without a checkpoint.
    public static func random(config: T5Config, dtype precision: T5Precision = .float32, seed: UInt64 = 0) throws -> T5Encoder {
        try T5Encoder(config: config, precision: precision,
                      source: T5RandomWeights(generator: Generator(seed: seed), computeDType: precision.dtype), path: "config")
    }

    /// Every `(key, shape)` of the state dict, in `state_dict()` order (both names of the tied embedding).
    public var parameterShapes: [(key: String, shape: [Int])] {
        stateDict().map { ($0.0, $0.1.shape) }
    }

    /// Scalar parameters, the tied embedding counted once (`sum(p.numel() for p in model.parameters())`).
    public var uniqueParameterCount: Int {
        var seen = Set<ObjectIdentifier>()
        var total = 0
        for (_, tensor) in namedParameters() where seen.insert(ObjectIdentifier(tensor)).inserted {
            total += tensor.count
        }
        return total
    }

    /// The device of the weights.
    public var device: Device { shared.weight.device }

    /// `last_hidden_state` `[B, L, d_model]` (float32) for `ids` `[B, L]` (int64 or int32, each in
    /// `0..<vocab_size`) and `mask` `[B, L]` (1 = token, 0 = padding; any numeric or bool dtype).
    public func callAsFunction(ids: Tensor, mask: Tensor) throws -> Tensor {
        try withoutGrad { try forward(ids: ids, mask: mask) }
    }

    /// `last_hidden_state` with every position attended (no padding).
    public func callAsFunction(ids: Tensor) throws -> Tensor {
        try callAsFunction(ids: ids, mask: Tensor.ones(ids.shape, device: ids.device))
    }

    private func forward(ids: Tensor, mask: Tensor) throws -> Tensor {
        let (tokens, keep) = try checkedInputs(ids: ids, mask: mask)
        let length = tokens.shape[1]
        var hidden = try shared(tokens)
        if hidden.dtype != .float32 { hidden = try hidden.to(.float32) }
        guard let firstBlock = encoder.blocks.first else {
            throw T5Error.invalidInput(message: "the encoder has no blocks")
        }
        // extended_attention_mask = (1.0 - mask[:, None, None, :]) * torch.finfo(float32).min
        let additive = try (1 - keep).unsqueezed(1).unsqueezed(1) * Double(-Float.greatestFiniteMagnitude)
        // position_bias = compute_bias(L, L) + mask, computed in block 0 and reused by every block
        let bias = try firstBlock.attention.selfAttention.positionBias(length: length) + additive
        for block in encoder.blocks {
            hidden = try block(hidden, bias: bias)
        }
        return try encoder.finalLayerNorm(hidden)
    }

    /// Validates the inputs and returns int64 ids and a float32 mask on the weights' device.
    private func checkedInputs(ids: Tensor, mask: Tensor) throws -> (Tensor, Tensor) {
        let shape = ids.shape
        guard shape.count == 2, shape[0] > 0, shape[1] > 0 else {
            throw T5Error.invalidInput(message: "input ids must be [batch, length] with both at least 1, got shape \(shape)")
        }
        guard mask.shape == shape else {
            throw T5Error.invalidInput(message: "attention mask has shape \(mask.shape), input ids have \(shape)")
        }
        guard ids.dtype == .int64 || ids.dtype == .int32 else {
            throw T5Error.invalidInput(message: "input ids must be int64 or int32, got \(ids.dtype)")
        }
        let tokens = try ids.to(.int64, device: device)
        let low = try tokens.amin().item(), high = try tokens.amax().item()
        guard low >= 0, high < Double(config.vocabSize) else {
            let bad = low < 0 ? low : high
            throw T5Error.invalidInput(message: "input id \(Int(bad)) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        let keep = try mask.to(.float32, device: device)
        return (tokens, keep)
    }
}
