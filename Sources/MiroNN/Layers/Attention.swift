import MiroEngine

/// Port of `CrossAttentionOp` in miro/models/networks/transformers.py (miro-t2i 0.1.4):
/// multi-head attention for self-attention (packed `qkv`) or cross-attention (`q` from the query
/// tokens, packed `kv` from the context tokens), with optional QK-norm (a LayerNorm over the head
/// dimension applied to q and k) and scale 1/√head_dim.
///
/// Keys: self-attention `qkv`, `out`; cross-attention `q`, `kv`, `out`; QK-norm `q_norm`, `k_norm`.
public final class AttentionOp: Module {
    @Child(key: "qkv") public var qkv: Linear?
    @Child(key: "q") public var q: Linear?
    @Child(key: "kv") public var kv: Linear?
    @Child(key: "out") public var out: Linear
    @Child(key: "q_norm") public var qNorm: LayerNorm?
    @Child(key: "k_norm") public var kNorm: LayerNorm?

    public let heads: Int
    public let attentionDim: Int

    /// - Parameters:
    ///   - attentionDim: width of q, k and v (split evenly over `heads`).
    ///   - queryDim / contextDim: widths of the query and context tokens (equal for self-attention).
    ///   - qkvBias: biases on the q/k/v projections (false in RIN blocks, true in the text transformer).
    ///   - outBias: bias on the output projection.
    public init(attentionDim: Int, heads: Int, queryDim: Int, contextDim: Int, selfAttention: Bool,
                qkvBias: Bool = false, outBias: Bool = true, qkNorm: Bool = true) throws {
        guard heads > 0, attentionDim % heads == 0 else {
            throw ModuleError.invalidLayer(layer: "AttentionOp", reason: "attention width \(attentionDim) is not divisible by \(heads) heads")
        }
        self.heads = heads
        self.attentionDim = attentionDim
        super.init()
        if selfAttention {
            self.qkv = try Linear(queryDim, 3 * attentionDim, bias: qkvBias)
        } else {
            self.q = try Linear(queryDim, attentionDim, bias: qkvBias)
            self.kv = try Linear(contextDim, 2 * attentionDim, bias: qkvBias)
        }
        self.out = try Linear(attentionDim, queryDim, bias: outBias)
        if qkNorm {
            self.qNorm = try LayerNorm(attentionDim / heads, eps: 1e-6)
            self.kNorm = try LayerNorm(attentionDim / heads, eps: 1e-6)
        }
    }

    /// - Parameters:
    ///   - x: query tokens (B, Lq, queryDim).
    ///   - context: key/value tokens (B, Lk, contextDim); nil for self-attention.
    ///   - mask: boolean (B, Lq, Lk), true = may attend.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, mask: Tensor? = nil) throws -> Tensor {
        var query: Tensor, key: Tensor, value: Tensor
        if let qkv {
            let parts = try qkv(x).chunked(3, dim: -1)
            (query, key, value) = (parts[0], parts[1], parts[2])
        } else if let q, let kv {
            query = try q(x)
            let parts = try kv(context ?? x).chunked(2, dim: -1)
            (key, value) = (parts[0], parts[1])
        } else {
            throw ModuleError.invalidLayer(layer: "AttentionOp", reason: "no projections")
        }
        // rearrange(t, "b n (h d) -> b h n d"), the q/k norms (over d) applied before the transpose: the same values,
        // and a layer norm of the untransposed layout copies less to make its input and gradient contiguous
        query = try splitHeads(query)
        key = try splitHeads(key)
        value = try splitHeads(value)
        if let qNorm, let kNorm {
            query = try qNorm(query)
            key = try kNorm(key)
        }
        (query, key, value) = try (query.transposed(1, 2), key.transposed(1, 2), value.transposed(1, 2))
        let headDim = attentionDim / heads
        let attended = try Tensor.scaledDotProductAttention(
            query, key, value, mask: mask?.unsqueezed(1), scale: 1 / Double(headDim).squareRoot())
        // rearrange(x, "b h n d -> b n (h d)")
        let merged = try attended.transposed(1, 2).reshaped([attended.size(0), attended.size(2), attentionDim])
        return try out(merged)
    }

    /// (b, n, h·d) → (b, n, h, d)
    private func splitHeads(_ t: Tensor) throws -> Tensor {
        let s = t.shape
        return try t.reshaped([s[0], s[1], heads, s[2] / heads])
    }
}
