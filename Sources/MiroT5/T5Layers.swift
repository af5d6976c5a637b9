/// Port of `T5LayerNorm`, `T5DenseActDense`, `T5DenseGatedActDense`, `T5LayerFF`, `T5Attention`,
/// `T5LayerSelfAttention` and `T5Block` in transformers/models/t5/modeling_t5.py (transformers 4.40.2), encoder
/// side only (no cross-attention, no key/value cache, no dropout: inference).
///
/// Every layer is built from a `T5WeightSource` with the shapes the configuration implies, so the same code builds
/// a loaded model, a model checked against a file, and a shape-only model (zero-stride tensors) for the key list.
///
/// Precision: the residual stream, the RMS norms, the position bias and the attention core (scores, softmax,
/// weights·v) are float32. Linear weights and the embedding table are in the encoder's compute dtype (float32, or
/// bfloat16 on request); a linear layer casts its input to its weight's dtype, and callers widen its output back
/// to float32.

import MiroEngine
import MiroNN

/// A bias-free `nn.Linear` (T5 has no biases anywhere): `y = x · Wᵀ`, weight `(out, in)`.
final class T5Linear: Module {
    @Param(key: "weight") var weight: Tensor

    /// `origin` names the config fields behind the shape, for error messages ("d_ff × d_model").
    init(_ key: String, inFeatures: Int, outFeatures: Int, origin: String, source: any T5WeightSource) throws {
        super.init()
        weight = try source.tensor(key + ".weight", shape: [outFeatures, inFeatures], role: .compute, origin: origin)
    }

    /// `x` in the weight's dtype (layers feeding several linears from one input cast it once).
    func castInput(_ x: Tensor) throws -> Tensor {
        x.dtype == weight.dtype ? x : try x.to(weight.dtype)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try castInput(x).linear(weight)
    }
}

/// `nn.Embedding` without scaling (T5 does not multiply by √d_model).
final class T5Embedding: Module {
    @Param(key: "weight") var weight: Tensor

    init(_ key: String, count: Int, dim: Int, role: T5WeightRole, origin: String, source: any T5WeightSource) throws {
        super.init()
        weight = try source.tensor(key + ".weight", shape: [count, dim], role: role, origin: origin)
    }

    func callAsFunction(_ indices: Tensor) throws -> Tensor {
        try Tensor.embedding(weight, indices)
    }
}

/// `T5LayerNorm`: RMS normalisation without mean subtraction or bias, `x · rsqrt(mean(x²) + ε) · w`, in float32.
final class T5LayerNorm: Module {
    @Param(key: "weight") var weight: Tensor
    let eps: Double

    init(_ key: String, dim: Int, eps: Double, source: any T5WeightSource) throws {
        self.eps = eps
        super.init()
        weight = try source.tensor(key + ".weight", shape: [dim], role: .float32, origin: "d_model")
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        // variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        // return self.weight * (hidden_states * torch.rsqrt(variance + eps))
        let x32 = x.dtype == .float32 ? x : try x.to(.float32)
        let normed = try x32 * (x32.square().mean([-1], keepDim: true) + eps).rsqrt()
        return try weight * normed
    }
}

func applyActivation(_ activation: T5Activation, _ x: Tensor) throws -> Tensor {
    switch activation {
    case .geluNew, .geluPytorchTanh, .geluFast: try x.geluTanh()
    case .gelu: try x.gelu()
    case .relu: try x.relu()
    case .silu, .swish: try x.silu()
    }
}

/// The `DenseReluDense` module of a `T5LayerFF`: gated (`wi_0`, `wi_1`, `wo`) or plain (`wi`, `wo`).
protocol T5FeedForward: Module {
    func callAsFunction(_ x: Tensor) throws -> Tensor
}

/// `T5DenseGatedActDense`: `wo(act(wi_0 x) ⊙ wi_1 x)`.
final class T5DenseGatedActDense: Module, T5FeedForward {
    @Child(key: "wi_0") var wi0: T5Linear
    @Child(key: "wi_1") var wi1: T5Linear
    @Child(key: "wo") var wo: T5Linear
    let activation: T5Activation

    init(_ key: String, config: T5Config, activation: T5Activation, source: any T5WeightSource) throws {
        self.activation = activation
        super.init()
        wi0 = try T5Linear(key + ".wi_0", inFeatures: config.dModel, outFeatures: config.dFF, origin: "d_ff × d_model", source: source)
        wi1 = try T5Linear(key + ".wi_1", inFeatures: config.dModel, outFeatures: config.dFF, origin: "d_ff × d_model", source: source)
        wo = try T5Linear(key + ".wo", inFeatures: config.dFF, outFeatures: config.dModel, origin: "d_model × d_ff", source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let input = try wi0.castInput(x)  // once for wi_0 and wi_1
        let gate = try applyActivation(activation, wi0(input))
        return try wo(gate * wi1(input))
    }
}

/// `T5DenseActDense` (original T5, `feed_forward_proj: "relu"`): `wo(act(wi x))`.
final class T5DenseActDense: Module, T5FeedForward {
    @Child(key: "wi") var wi: T5Linear
    @Child(key: "wo") var wo: T5Linear
    let activation: T5Activation

    init(_ key: String, config: T5Config, activation: T5Activation, source: any T5WeightSource) throws {
        self.activation = activation
        super.init()
        wi = try T5Linear(key + ".wi", inFeatures: config.dModel, outFeatures: config.dFF, origin: "d_ff × d_model", source: source)
        wo = try T5Linear(key + ".wo", inFeatures: config.dFF, outFeatures: config.dModel, origin: "d_model × d_ff", source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try wo(applyActivation(activation, wi(x)))
    }
}

/// `T5LayerFF`: `x + DenseReluDense(layer_norm(x))`.
final class T5LayerFF: Module {
    @Child(key: "DenseReluDense") var denseReluDense: any T5FeedForward
    @Child(key: "layer_norm") var layerNorm: T5LayerNorm

    init(_ key: String, config: T5Config, activation: T5Activation, source: any T5WeightSource) throws {
        super.init()
        denseReluDense = config.isGatedAct
            ? try T5DenseGatedActDense(key + ".DenseReluDense", config: config, activation: activation, source: source)
            : try T5DenseActDense(key + ".DenseReluDense", config: config, activation: activation, source: source)
        layerNorm = try T5LayerNorm(key + ".layer_norm", dim: config.dModel, eps: config.layerNormEpsilon, source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let y = try denseReluDense(layerNorm(x))
        return try x + (y.dtype == .float32 ? y : y.to(.float32))
    }
}

/// `T5Attention` for the encoder: bias-free q, k, v, o; **no 1/√d_kv scaling** of the scores (T5 folds it into the
/// initialisation); the first block also owns `relative_attention_bias` (buckets × heads).
final class T5Attention: Module {
    @Child(key: "q") var q: T5Linear
    @Child(key: "k") var k: T5Linear
    @Child(key: "v") var v: T5Linear
    @Child(key: "o") var o: T5Linear
    @Child(key: "relative_attention_bias") var relativeAttentionBias: T5Embedding?
    let heads: Int
    let dKV: Int
    let numBuckets: Int
    let maxDistance: Int

    init(_ key: String, config: T5Config, hasRelativeAttentionBias: Bool, source: any T5WeightSource) throws {
        heads = config.numHeads
        dKV = config.dKV
        numBuckets = config.relativeAttentionNumBuckets
        maxDistance = config.relativeAttentionMaxDistance
        super.init()
        let inner = config.innerDim
        q = try T5Linear(key + ".q", inFeatures: config.dModel, outFeatures: inner, origin: "num_heads·d_kv × d_model", source: source)
        k = try T5Linear(key + ".k", inFeatures: config.dModel, outFeatures: inner, origin: "num_heads·d_kv × d_model", source: source)
        v = try T5Linear(key + ".v", inFeatures: config.dModel, outFeatures: inner, origin: "num_heads·d_kv × d_model", source: source)
        o = try T5Linear(key + ".o", inFeatures: inner, outFeatures: config.dModel, origin: "d_model × num_heads·d_kv", source: source)
        if hasRelativeAttentionBias {
            // Kept in float32 whatever the compute dtype: it is tiny and is added to float32 scores.
            relativeAttentionBias = try T5Embedding(
                key + ".relative_attention_bias", count: numBuckets, dim: heads, role: .float32,
                origin: "relative_attention_num_buckets × num_heads", source: source)
        }
    }

    /// `compute_bias`: the `[1, heads, L, L]` float32 bias from the bucket table (block 0 only).
    func positionBias(length: Int) throws -> Tensor {
        guard let relativeAttentionBias else {
            throw T5Error.invalidInput(message: "only the first block's attention owns relative_attention_bias")
        }
        let table = try T5RelativePosition.buckets(queryLength: length, keyLength: length,
                                                   numBuckets: numBuckets, maxDistance: maxDistance)
        // values = self.relative_attention_bias(bucket).permute([2, 0, 1]).unsqueeze(0)
        return try relativeAttentionBias(table.to(device: relativeAttentionBias.weight.device))
            .permuted(2, 0, 1).unsqueezed(0)
    }

    /// `x`: `[B, L, d_model]` float32 (already normalised); `bias`: `[B or 1, heads, L, L]` float32, position bias
    /// plus the additive mask. Returns `[B, L, d_model]` in the linear layers' dtype.
    func callAsFunction(_ x: Tensor, bias: Tensor) throws -> Tensor {
        let shape = x.shape
        let (batch, length) = (shape[0], shape[1])
        func splitHeads(_ t: Tensor) throws -> Tensor {
            // .view(batch_size, -1, n_heads, key_value_proj_dim).transpose(1, 2)
            try t.reshaped([batch, length, self.heads, dKV]).transposed(1, 2)
        }
        // The attention core (scores, softmax, weights·v) runs in float32 even with bf16 projections: T5's scores
        // are not scaled by 1/√d_kv, and at |score| ≈ 20 a bf16 score moves in steps of 0.125, i.e. ±6 % on its
        // softmax weight. It costs L² · inner multiply-adds, small next to the projections' 4 · L · d_model · inner.
        func float32(_ t: Tensor) throws -> Tensor { t.dtype == .float32 ? t : try t.to(.float32) }
        let input = try q.castInput(x)  // once for q, k and v
        let query = try float32(splitHeads(q(input))), key = try float32(splitHeads(k(input)))
        let value = try float32(splitHeads(v(input)))
        // scores = torch.matmul(q, k.transpose(3, 2)); scores += position_bias_masked
        let scores = try query.matmul(key.transposed(2, 3)) + bias
        // attn_weights = softmax(scores.float(), dim=-1).type_as(scores)
        let weights = try scores.softmax(-1)
        let context = try weights.matmul(value).transposed(1, 2).contiguous().reshaped([batch, length, self.heads * dKV])
        return try o(context)
    }
}

/// `T5LayerSelfAttention`: `x + SelfAttention(layer_norm(x))`.
final class T5LayerSelfAttention: Module {
    @Child(key: "SelfAttention") var selfAttention: T5Attention
    @Child(key: "layer_norm") var layerNorm: T5LayerNorm

    init(_ key: String, config: T5Config, hasRelativeAttentionBias: Bool, source: any T5WeightSource) throws {
        super.init()
        selfAttention = try T5Attention(key + ".SelfAttention", config: config,
                                        hasRelativeAttentionBias: hasRelativeAttentionBias, source: source)
        layerNorm = try T5LayerNorm(key + ".layer_norm", dim: config.dModel, eps: config.layerNormEpsilon, source: source)
    }

    func callAsFunction(_ x: Tensor, bias: Tensor) throws -> Tensor {
        let y = try selfAttention(layerNorm(x), bias: bias)
        return try x + (y.dtype == .float32 ? y : y.to(.float32))
    }
}

/// `T5Block` (encoder): `layer.0` self-attention, `layer.1` feed-forward.
final class T5Block: Module {
    @Child(key: "layer") var layer: [Module]
    let attention: T5LayerSelfAttention
    let feedForward: T5LayerFF

    init(_ key: String, config: T5Config, activation: T5Activation, hasRelativeAttentionBias: Bool,
         source: any T5WeightSource) throws {
        attention = try T5LayerSelfAttention(key + ".layer.0", config: config,
                                             hasRelativeAttentionBias: hasRelativeAttentionBias, source: source)
        feedForward = try T5LayerFF(key + ".layer.1", config: config, activation: activation, source: source)
        super.init()
        layer = [attention, feedForward]
    }

    func callAsFunction(_ x: Tensor, bias: Tensor) throws -> Tensor {
        try feedForward(attention(x, bias: bias))
    }
}
