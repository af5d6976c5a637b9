/// Port of `CLIPAttention`, `CLIPMLP`, `CLIPEncoderLayer` and `CLIPEncoder` in
/// transformers/models/clip/modeling_clip.py (transformers 4.40.2), inference only (no dropout, no attention
/// outputs), plus the `nn.Linear` / `nn.LayerNorm` / `nn.Embedding` leaves with the reference's state-dict keys.
///
/// Every layer is built from a `RewardWeightSource` with the shapes the configuration implies, so one code path
/// builds a loaded model, a random one and a shape-only one (zero-stride tensors) for the key list. float32.

import Foundation
import MiroEngine
import MiroNN

/// `nn.Linear`: `y = x·Wᵀ + b`, weight `(out, in)`.
final class RewardLinear: Module {
    @Param(key: "weight") var weight: Tensor
    @OptionalParam(key: "bias") var bias: Tensor?

    init(_ key: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true, origin: String,
         source: any RewardWeightSource) throws {
        super.init()
        weight = try source.tensor(key + ".weight", shape: [outFeatures, inFeatures], origin: origin)
        if hasBias { bias = try source.tensor(key + ".bias", shape: [outFeatures], origin: origin) }
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try x.linear(weight, bias) }
}

/// `nn.LayerNorm(dim, eps)` over the last dimension.
final class RewardLayerNorm: Module {
    @Param(key: "weight") var weight: Tensor
    @Param(key: "bias") var bias: Tensor
    let eps: Double

    init(_ key: String, dim: Int, eps: Double, origin: String, source: any RewardWeightSource) throws {
        self.eps = eps
        super.init()
        weight = try source.tensor(key + ".weight", shape: [dim], origin: origin)
        bias = try source.tensor(key + ".bias", shape: [dim], origin: origin)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.layerNorm([weight.size(0)], weight: weight, bias: bias, eps: eps)
    }
}

/// `nn.Embedding(count, dim)`: a lookup table, key `weight`.
final class RewardEmbedding: Module {
    @Param(key: "weight") var weight: Tensor

    init(_ key: String, count: Int, dim: Int, origin: String, source: any RewardWeightSource) throws {
        super.init()
        weight = try source.tensor(key + ".weight", shape: [count, dim], origin: origin)
    }
}

/// The geometry of one tower's encoder.
struct CLIPTowerGeometry {
    let hidden: Int
    let intermediate: Int
    let layers: Int
    let heads: Int
    let eps: Double
    let activation: CLIPActivation
    /// `text_config` or `vision_config`, for messages.
    let section: String

    init(_ t: CLIPTextConfig, activation: CLIPActivation) {
        (hidden, intermediate, layers, heads) = (t.hiddenSize, t.intermediateSize, t.numHiddenLayers, t.numAttentionHeads)
        (eps, self.activation, section) = (t.layerNormEps, activation, "text_config")
    }

    init(_ v: CLIPVisionConfig, activation: CLIPActivation) {
        (hidden, intermediate, layers, heads) = (v.hiddenSize, v.intermediateSize, v.numHiddenLayers, v.numAttentionHeads)
        (eps, self.activation, section) = (v.layerNormEps, activation, "vision_config")
    }
}

/// `CLIPAttention`: q, k, v, out projections with biases, scale `head_dim^-0.5`. Declared k, v, q, out as the
/// reference registers them (the state-dict order).
final class CLIPAttention: Module {
    @Child(key: "k_proj") var kProj: RewardLinear
    @Child(key: "v_proj") var vProj: RewardLinear
    @Child(key: "q_proj") var qProj: RewardLinear
    @Child(key: "out_proj") var outProj: RewardLinear
    let heads: Int

    init(_ key: String, _ g: CLIPTowerGeometry, source: any RewardWeightSource) throws {
        heads = g.heads
        super.init()
        let origin = "\(g.section).hidden_size × hidden_size"
        kProj = try RewardLinear(key + ".k_proj", in: g.hidden, out: g.hidden, origin: origin, source: source)
        vProj = try RewardLinear(key + ".v_proj", in: g.hidden, out: g.hidden, origin: origin, source: source)
        qProj = try RewardLinear(key + ".q_proj", in: g.hidden, out: g.hidden, origin: origin, source: source)
        outProj = try RewardLinear(key + ".out_proj", in: g.hidden, out: g.hidden, origin: origin, source: source)
    }

    /// `x` `[B, L, hidden]`; `mask` bool, broadcastable to `[B, heads, L, L]`, true = may attend (nil: all).
    ///
    /// The reference computes `softmax(q·scale · kᵀ + additive_mask) · v` with `finfo.min` additive masks; the
    /// engine's fused scaled-dot-product attention with a boolean mask gives the same probabilities (a masked
    /// score's weight is exactly 0 in both) to float32 rounding, ~1e-7 relative.
    ///
    /// `queries`: only the first `queries` positions ask (the output is `[B, queries, hidden]`); every position
    /// is still a key and a value. nil: all of them.
    func callAsFunction(_ x: Tensor, mask: Tensor?, queries: Int? = nil) throws -> Tensor {
        let shape = x.shape
        let (batch, length, width) = (shape[0], shape[1], shape[2])
        let asking = queries ?? length
        let headDim = width / heads
        func split(_ t: Tensor, _ n: Int) throws -> Tensor {
            // tensor.view(bsz, seq_len, num_heads, head_dim).transpose(1, 2)
            try t.reshaped([batch, n, heads, headDim]).transposed(1, 2)
        }
        let q = try split(qProj(asking == length ? x : x.slice(1, 0, asking)), asking)
        let k = try split(kProj(x), length), v = try split(vProj(x), length)
        let attended = try Tensor.scaledDotProductAttention(q, k, v, mask: mask, scale: 1 / Double(headDim).squareRoot())
        // attn_output.transpose(1, 2).reshape(bsz, tgt_len, embed_dim)
        return try outProj(attended.transposed(1, 2).reshaped([batch, asking, width]))
    }
}

/// `CLIPMLP`: `fc2(act(fc1(x)))`.
final class CLIPMLP: Module {
    @Child(key: "fc1") var fc1: RewardLinear
    @Child(key: "fc2") var fc2: RewardLinear
    let activation: CLIPActivation

    init(_ key: String, _ g: CLIPTowerGeometry, source: any RewardWeightSource) throws {
        activation = g.activation
        super.init()
        fc1 = try RewardLinear(key + ".fc1", in: g.hidden, out: g.intermediate,
                               origin: "\(g.section).intermediate_size × hidden_size", source: source)
        fc2 = try RewardLinear(key + ".fc2", in: g.intermediate, out: g.hidden,
                               origin: "\(g.section).hidden_size × intermediate_size", source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try fc2(Self.apply(activation, fc1(x)))
    }

    static func apply(_ activation: CLIPActivation, _ x: Tensor) throws -> Tensor {
        switch activation {
        // QuickGELUActivation: input * torch.sigmoid(1.702 * input)
        case .quickGELU: try x * (x * 1.702).sigmoid()
        case .gelu: try x.gelu()
        case .geluNew, .geluPytorchTanh: try x.geluTanh()
        case .relu: try x.relu()
        }
    }
}

/// `CLIPEncoderLayer`: pre-LN residual attention then pre-LN residual MLP.
final class CLIPEncoderLayer: Module {
    @Child(key: "self_attn") var selfAttn: CLIPAttention
    @Child(key: "layer_norm1") var layerNorm1: RewardLayerNorm
    @Child(key: "mlp") var mlp: CLIPMLP
    @Child(key: "layer_norm2") var layerNorm2: RewardLayerNorm

    init(_ key: String, _ g: CLIPTowerGeometry, source: any RewardWeightSource) throws {
        super.init()
        selfAttn = try CLIPAttention(key + ".self_attn", g, source: source)
        layerNorm1 = try RewardLayerNorm(key + ".layer_norm1", dim: g.hidden, eps: g.eps, origin: "\(g.section).hidden_size", source: source)
        mlp = try CLIPMLP(key + ".mlp", g, source: source)
        layerNorm2 = try RewardLayerNorm(key + ".layer_norm2", dim: g.hidden, eps: g.eps, origin: "\(g.section).hidden_size", source: source)
    }

    /// `rows`: compute only the first `rows` outputs (they still attend to every position).
    func callAsFunction(_ x: Tensor, mask: Tensor?, rows: Int? = nil) throws -> Tensor {
        let kept = try rows.map { try x.slice(1, 0, $0) } ?? x
        let h = try kept + selfAttn(layerNorm1(x), mask: mask, queries: rows)
        return try h + mlp(layerNorm2(h))
    }
}

/// `CLIPEncoder`: the stack of layers (key `layers.{i}`).
final class CLIPEncoder: Module {
    @Child(key: "layers") var layers: [CLIPEncoderLayer]

    init(_ key: String, _ g: CLIPTowerGeometry, source: any RewardWeightSource) throws {
        super.init()
        layers = try (0..<g.layers).map { try CLIPEncoderLayer("\(key).layers.\($0)", g, source: source) }
    }

    /// `lastLayerRows`: the last layer computes only its first `lastLayerRows` outputs — all a pooled read-out of
    /// the class token needs (the vision tower pools position 0 and nothing else reads the last layer).
    func callAsFunction(_ x: Tensor, mask: Tensor?, lastLayerRows: Int? = nil) throws -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() { h = try layer(h, mask: mask, rows: i == layers.count - 1 ? lastLayerRows : nil) }
        return h
    }
}
