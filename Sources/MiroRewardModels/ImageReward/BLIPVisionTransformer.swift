/// Port of `VisionTransformer`, `Block`, `Attention` and `Mlp` in ImageReward/models/BLIP/vit.py (image-reward 1.5,
/// BLIP's timm-style ViT) with timm 0.9.16's `PatchEmbed`, inference only (dropout and drop-path are identities):
///
///     x = proj(pixels).flatten(2).transpose(1, 2)          conv, kernel = stride = patch   [B, N, W]
///     x = cat(cls_token, x) + pos_embed[:, :N+1]
///     for blk: x = x + attn(norm1(x));  x = x + mlp(norm2(x))     pre-LN, eps 1e-6
///         attn: qkv = Linear(W, 3W, bias) → q, k, v per head; softmax(q·kᵀ·d^-½)·v → proj
///         mlp:  fc2(gelu(fc1(x)))                               exact (erf) GELU
///     return norm(x)                                          all N+1 tokens: BLIP's image_embeds
///
/// Keys are the reference's under `blip.visual_encoder.` (`cls_token`, `pos_embed`, `patch_embed.proj.*`,
/// `blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*`, `norm.*`).

import MiroEngine
import MiroNN

/// timm's `PatchEmbed` (no norm): the patchifying convolution `proj`.
final class BLIPPatchEmbed: Module {
    @Child(key: "proj") var proj: BLIPConvProjection

    init(_ key: String, config: BLIPVisionConfig, source: any ImageRewardWeightSource) throws {
        super.init()
        proj = try BLIPConvProjection(key + ".proj", config: config, source: source)
    }
}

/// `nn.Conv2d(3, width, kernel_size=patch, stride=patch)`.
final class BLIPConvProjection: Module {
    @Param(key: "weight") var weight: Tensor
    @Param(key: "bias") var bias: Tensor
    let patch: Int

    init(_ key: String, config: BLIPVisionConfig, source: any ImageRewardWeightSource) throws {
        patch = config.patchSize
        super.init()
        weight = try source.tensor(key + ".weight", shape: [config.width, 3, patch, patch], origin: "width × 3 × patch × patch")
        bias = try source.tensor(key + ".bias", shape: [config.width], origin: "width")
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv2d(weight, bias: bias, stride: (patch, patch))
    }
}

/// vit.py `Attention` (fused qkv with bias, scale head_dim^-½), with the fused attention kernel.
final class BLIPViTAttention: Module {
    @Child(key: "qkv") var qkv: BLIPLinear
    @Child(key: "proj") var proj: BLIPLinear
    let heads: Int

    init(_ key: String, config: BLIPVisionConfig, source: any ImageRewardWeightSource) throws {
        heads = config.heads
        super.init()
        let w = config.width
        qkv = try BLIPLinear(key + ".qkv", in: w, out: 3 * w, origin: "3·width × width", source: source)
        proj = try BLIPLinear(key + ".proj", in: w, out: w, origin: "width × width", source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        // qkv(x).reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        let parts = try qkv(x).reshaped([b, n, 3, heads, c / heads]).permuted([2, 0, 3, 1, 4])
        let out = try Tensor.scaledDotProductAttention(parts.select(0, 0), parts.select(0, 1), parts.select(0, 2))
        // (attn @ v).transpose(1, 2).reshape(B, N, C)
        return try proj(out.transposed(1, 2).reshaped([b, n, c]))
    }
}

/// vit.py `Mlp`: fc1 → GELU → fc2.
final class BLIPViTMLP: Module {
    @Child(key: "fc1") var fc1: BLIPLinear
    @Child(key: "fc2") var fc2: BLIPLinear

    init(_ key: String, config: BLIPVisionConfig, source: any ImageRewardWeightSource) throws {
        super.init()
        fc1 = try BLIPLinear(key + ".fc1", in: config.width, out: config.mlpHidden, origin: "mlp hidden × width", source: source)
        fc2 = try BLIPLinear(key + ".fc2", in: config.mlpHidden, out: config.width, origin: "width × mlp hidden", source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try fc2(fc1(x).gelu())
    }
}

/// vit.py `Block`: pre-LN attention and MLP with residuals.
final class BLIPViTBlock: Module {
    @Child(key: "norm1") var norm1: BLIPLayerNorm
    @Child(key: "attn") var attn: BLIPViTAttention
    @Child(key: "norm2") var norm2: BLIPLayerNorm
    @Child(key: "mlp") var mlp: BLIPViTMLP

    init(_ key: String, config: BLIPVisionConfig, source: any ImageRewardWeightSource) throws {
        super.init()
        norm1 = try BLIPLayerNorm(key + ".norm1", dim: config.width, eps: config.layerNormEps, origin: "width", source: source)
        attn = try BLIPViTAttention(key + ".attn", config: config, source: source)
        norm2 = try BLIPLayerNorm(key + ".norm2", dim: config.width, eps: config.layerNormEps, origin: "width", source: source)
        mlp = try BLIPViTMLP(key + ".mlp", config: config, source: source)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try x + attn(norm1(x))
        return try h + mlp(norm2(h))
    }
}

/// BLIP's `VisionTransformer` (`blip.visual_encoder`): pixels `[B, 3, S, S]` → image embeddings `[B, N+1, W]`.
final class BLIPVisionTransformer: Module {
    @Param(key: "cls_token") var clsToken: Tensor
    @Param(key: "pos_embed") var posEmbed: Tensor
    @Child(key: "patch_embed") var patchEmbed: BLIPPatchEmbed
    @Child(key: "blocks") var blocks: [BLIPViTBlock]
    @Child(key: "norm") var norm: BLIPLayerNorm
    let config: BLIPVisionConfig

    init(_ key: String, config: BLIPVisionConfig, source: any ImageRewardWeightSource) throws {
        self.config = config
        super.init()
        let w = config.width
        clsToken = try source.tensor(key + ".cls_token", shape: [1, 1, w], origin: "1 × 1 × width")
        posEmbed = try source.tensor(key + ".pos_embed", shape: [1, config.positions, w], origin: "1 × (patches + 1) × width")
        patchEmbed = try BLIPPatchEmbed(key + ".patch_embed", config: config, source: source)
        blocks = try (0..<config.depth).map { try BLIPViTBlock(key + ".blocks.\($0)", config: config, source: source) }
        norm = try BLIPLayerNorm(key + ".norm", dim: w, eps: config.layerNormEps, origin: "width", source: source)
    }

    /// `pixels` must be float32 `[B, 3, image size, image size]` (timm's PatchEmbed asserts the size).
    func callAsFunction(_ pixels: Tensor) throws -> Tensor {
        let b = pixels.shape[0]
        var x = try patchEmbed.proj(pixels).flattened(from: 2).transposed(1, 2)
        let cls = try clsToken.expanded([b, 1, config.width])
        x = try Tensor.cat([cls, x], dim: 1) + posEmbed
        for block in blocks { x = try block(x) }
        return try norm(x)
    }
}
