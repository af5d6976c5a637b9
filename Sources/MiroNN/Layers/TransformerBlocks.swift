import MiroEngine

/// Port of `SelfAttentionBlock` in miro/models/networks/transformers.py (miro-t2i 0.1.4):
/// pre-norm self-attention and feed-forward residual branches, optionally scaled by LayerScale.
///
///     t ← t + λ₁ · Attn(Norm(t));  t ← t + λ₂ · FFN(Norm(t))
///
/// Keys: `initial_ln`, `sa`, `middle_ln`, `ffn`, `layer_scale_1/2`, `attention_mask_dummy`.
/// RIN blocks use RMSNorm + SwiGLU + QK-norm; the text/reward transformer uses LayerNorm + GELU MLP
/// + qkv biases + LayerScale 0.1 (method §5.3).
public final class SelfAttentionBlock: Module {
    @Child(key: "initial_ln") public var initialNorm: any Normalization
    @Child(key: "sa") public var attention: AttentionOp
    @Child(key: "middle_ln") public var middleNorm: any Normalization
    @Child(key: "ffn") public var ffn: Module
    @OptionalParam(key: "layer_scale_1") public var layerScale1: Tensor?
    @OptionalParam(key: "layer_scale_2") public var layerScale2: Tensor?
    /// A bool (1, 1) "parameter" of the official module, kept so state dicts match key for key.
    @Buffer(key: "attention_mask_dummy") public var attentionMaskDummy: Tensor

    public struct Options: Sendable {
        public var attentionDim = 0          // 0: same as the token width
        public var mlpMultiplier = 4
        public var norm: NormKind = .rms
        public var swiGLU = true
        public var qkvBias = false
        public var qkNorm = true
        public var layerScale: Double? = nil // e.g. 0.1 for the text transformer
        public init() {}
    }

    public init(dim: Int, heads: Int, options: Options = Options()) throws {
        super.init()
        let attentionDim = options.attentionDim == 0 ? dim : options.attentionDim
        self.initialNorm = try options.norm.make(dim, eps: 1e-6)
        self.attention = try AttentionOp(attentionDim: attentionDim, heads: heads, queryDim: dim, contextDim: dim,
                                         selfAttention: true, qkvBias: options.qkvBias, qkNorm: options.qkNorm)
        self.middleNorm = try options.norm.make(dim, eps: 1e-6)
        self.ffn = options.swiGLU ? try SwiGLU(dim, multiplier: options.mlpMultiplier)
                                  : try GELUMLP(dim, multiplier: options.mlpMultiplier)
        if let value = options.layerScale {
            self.layerScale1 = try Tensor.full([dim], value)
            self.layerScale2 = try Tensor.full([dim], value)
        }
        self.attentionMaskDummy = try Tensor.ones([1, 1], dtype: .bool)
    }

    /// - Parameter mask: boolean (B, N) key mask, true = real token.
    public func callAsFunction(_ tokens: Tensor, mask: Tensor? = nil) throws -> Tensor {
        // attention_mask = token_mask.unsqueeze(1) * ones(B, N).unsqueeze(2): keys masked, all queries kept
        let attentionMask = try mask.map { m in
            try m.unsqueezed(1).expanded([m.size(0), m.size(1), m.size(1)])
        }
        var t = tokens
        var a = try attention(initialNorm(t), mask: attentionMask)
        if let layerScale1 { a = try a * layerScale1 }
        t = try t + a
        var f = try feedForward(middleNorm(t))
        if let layerScale2 { f = try f * layerScale2 }
        return try t + f
    }

    private func feedForward(_ x: Tensor) throws -> Tensor {
        if let s = ffn as? SwiGLU { return try s(x) }
        if let g = ffn as? GELUMLP { return try g(x) }
        throw ModuleError.invalidLayer(layer: "SelfAttentionBlock", reason: "unknown feed-forward module \(type(of: ffn))")
    }
}

/// Port of `CrossAttentionBlock` in miro/models/networks/transformers.py (miro-t2i 0.1.4):
/// query tokens read from context tokens; only the queries are normalised.
///
///     q ← q + Attn(Norm(q), kv);  q ← q + FFN(Norm(q))
///
/// Keys: `initial_to_ln`, `ca`, `middle_ln`, `ffn`, `attention_mask_dummy`.
public final class CrossAttentionBlock: Module {
    @Child(key: "initial_to_ln") public var initialNorm: any Normalization
    @Child(key: "ca") public var attention: AttentionOp
    @Child(key: "middle_ln") public var middleNorm: any Normalization
    @Child(key: "ffn") public var ffn: SwiGLU
    @Buffer(key: "attention_mask_dummy") public var attentionMaskDummy: Tensor

    /// - Parameter attentionDim: 0 picks min(queryDim, contextDim) as the official code does.
    public init(queryDim: Int, contextDim: Int, heads: Int, attentionDim: Int = 0, mlpMultiplier: Int = 4,
                norm: NormKind = .rms, qkNorm: Bool = true) throws {
        super.init()
        let width = attentionDim == 0 ? min(queryDim, contextDim) : attentionDim
        self.initialNorm = try norm.make(queryDim, eps: 1e-6)
        self.attention = try AttentionOp(attentionDim: width, heads: heads, queryDim: queryDim, contextDim: contextDim,
                                         selfAttention: false, qkNorm: qkNorm)
        self.middleNorm = try norm.make(queryDim, eps: 1e-6)
        self.ffn = try SwiGLU(queryDim, multiplier: mlpMultiplier)
        self.attentionMaskDummy = try Tensor.ones([1, 1], dtype: .bool)
    }

    /// - Parameters:
    ///   - queryMask / contextMask: boolean (B, Lq) / (B, Lk); nil = all true.
    public func callAsFunction(_ query: Tensor, context: Tensor, queryMask: Tensor? = nil,
                               contextMask: Tensor? = nil) throws -> Tensor {
        var attentionMask: Tensor? = nil
        if queryMask != nil || contextMask != nil {
            let (b, lq, lk) = (query.size(0), query.size(1), context.size(1))
            let qm = try queryMask ?? Tensor.ones([b, lq], dtype: .bool)
            let km = try contextMask ?? Tensor.ones([b, lk], dtype: .bool)
            // from_token_mask.unsqueeze(1) * to_token_mask.unsqueeze(2)
            attentionMask = try km.unsqueezed(1).logicalAnd(qm.unsqueezed(2))
        }
        var q = query
        q = try q + attention(initialNorm(q), context: context, mask: attentionMask)
        return try q + ffn(middleNorm(q))
    }
}
