// Port of RINBlock / RINBlockCond in miro/models/networks/rin.py (miro-t2i 0.1.4), method §5.3.

import MiroEngine
import MiroNN

/// Port of `RINBlock` / `RINBlockCond` in miro/models/networks/rin.py (miro-t2i 0.1.4), method §5.3:
/// one Recurrent Interface Network block over data tokens x (N × data_dim), latents z
/// (L × latents_dim) and the conditioning sequence.
///
///     z ← retrieve_cond(z, cond, key mask)   (only with use_cond_rin_block: "read conditioning")
///     z ← retriever_ca(z, x)                  read data
///     z ← processer_sa[i](z)                  process, i = 1…num_processing_layers
///     x ← writer_ca(x, z)                     write
///
/// Cross-attention widths are min(dim_q, dim_kv) (1024 / 512 / 512 in the release); every block
/// is RMSNorm + QK-norm + SwiGLU. Keys `retrieve_cond`, `retriever_ca`, `processer_sa.i`, `writer_ca`.
public final class RINBlock: Module {
    @Child(key: "retriever_ca") public var retriever: CrossAttentionBlock
    @Child(key: "processer_sa") public var processors: [SelfAttentionBlock]
    @Child(key: "writer_ca") public var writer: CrossAttentionBlock
    @Child(key: "retrieve_cond") public var retrieveCond: CrossAttentionBlock?

    public init(config c: MIROConfig) throws {
        super.init()
        retriever = try CrossAttentionBlock(queryDim: c.latentsDim, contextDim: c.dataDim, heads: c.readWriteHeads,
                                            mlpMultiplier: c.latentMLPMultiplier)
        var options = SelfAttentionBlock.Options()
        options.mlpMultiplier = c.latentMLPMultiplier
        processors = try (0..<c.numProcessingLayers).map { _ in
            try SelfAttentionBlock(dim: c.latentsDim, heads: c.computeHeads, options: options)
        }
        writer = try CrossAttentionBlock(queryDim: c.dataDim, contextDim: c.latentsDim, heads: c.readWriteHeads,
                                         mlpMultiplier: c.dataMLPMultiplier)
        if c.useCondRINBlock {
            retrieveCond = try CrossAttentionBlock(queryDim: c.latentsDim, contextDim: c.latentsDim,
                                                   heads: c.readWriteHeads, mlpMultiplier: c.latentMLPMultiplier)
        }
    }

    /// - Parameters:
    ///   - data: (B, N, data_dim); latents: (B, L, latents_dim)
    ///   - cond: (B, M, latents_dim) conditioning tokens with `condMask` (B, M), true = attend.
    public func callAsFunction(data: Tensor, latents: Tensor, cond: Tensor, condMask: Tensor) throws
        -> (data: Tensor, latents: Tensor)
    {
        let z = try self.latents(data: data, latents: latents, cond: cond, condMask: condMask)
        let x = try writer(data, context: z)
        return (x, z)
    }

    /// The block's new latents alone: everything but the write to the data tokens.
    public func latents(data: Tensor, latents: Tensor, cond: Tensor, condMask: Tensor) throws -> Tensor {
        var z = latents
        if let retrieveCond {
            // self.retrieve_cond(latents, cond, from_token_mask=cond_attention_mask)
            z = try retrieveCond(z, context: cond, contextMask: condMask)
        }
        z = try retriever(z, context: data)
        for block in processors { z = try block(z) }
        return z
    }
}

/// `nn.Sequential(RMSNorm(data_dim), nn.Linear(data_dim, C·p·p))`, keys `0.weight`, `1.weight`, `1.bias`.
public final class TokensToPatches: Module {
    @Child(key: "0") public var norm: RMSNorm
    @Child(key: "1") public var linear: Linear

    public init(dim: Int, patchDim: Int) throws {
        super.init()
        norm = try RMSNorm(dim, eps: 1e-6)
        linear = try Linear(dim, patchDim)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try linear(norm(x)) }
}
