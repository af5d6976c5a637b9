// Port of the VAE's `Attention` (diffusers/models/attention_processor.py, `_from_deprecated_attn_block=True`,
// one head, processed by `AttnProcessor`) and `UNetMidBlock2D` (unets/unet_2d_blocks.py) of diffusers 0.27.2.

import MiroEngine
import MiroNN

/// Single-head spatial self-attention over the H·W positions, with a residual connection:
///
///     t = group_norm(x) viewed as (B, H·W, C)
///     q, k, v = to_q(t), to_k(t), to_v(t)                  (linear C → C with bias)
///     out = to_out.0( softmax(q kᵀ / √C) v )  viewed back as (B, C, H, W)
///     return out + x                                        (residual_connection, rescale_output_factor 1)
///
/// Keys `group_norm`, `to_q`, `to_k`, `to_v`, `to_out.0` (the checkpoint's `to_out.1` is a parameter-free dropout).
public final class VAEAttention: Module {
    @Child(key: "group_norm") var groupNorm: GroupNorm
    @Child(key: "to_q") var toQ: Linear
    @Child(key: "to_k") var toK: Linear
    @Child(key: "to_v") var toV: Linear
    @Child(key: "to_out") var toOut: [Linear]
    public let channels: Int

    public init(channels: Int, groups: Int, eps: Double = 1e-6) throws {
        self.channels = channels
        super.init()
        self.groupNorm = try GroupNorm(groups: groups, channels: channels, eps: eps)
        self.toQ = try Linear(channels, channels)
        self.toK = try Linear(channels, channels)
        self.toV = try Linear(channels, channels)
        self.toOut = [try Linear(channels, channels)]
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (b, c, h, w) = (x.size(0), x.size(1), x.size(2), x.size(3))
        // hidden_states.view(b, c, h*w).transpose(1, 2), group-normed over the channels first
        let tokens = try groupNorm(x).reshaped([b, c, h * w]).transposed(1, 2)
        let q = try toQ(tokens).unsqueezed(1), k = try toK(tokens).unsqueezed(1), v = try toV(tokens).unsqueezed(1)
        // heads = 1, dim_head = C: scale = C^-0.5
        let attended = try Tensor.scaledDotProductAttention(q, k, v, scale: 1 / Double(c).squareRoot()).squeezed(1)
        let out = try toOut[0](attended).transposed(1, 2).reshaped([b, c, h, w])
        return try out + x
    }
}

/// `UNetMidBlock2D(num_layers=1)`: resnet → attention (when `add_attention`) → resnet, all at the inner width.
/// Keys `resnets.0`, `attentions.0`, `resnets.1`.
public final class VAEMidBlock: Module {
    @Child(key: "attentions") var attentions: [VAEAttention]
    @Child(key: "resnets") var resnets: [ResnetBlock2D]

    public init(channels: Int, groups: Int, addAttention: Bool) throws {
        super.init()
        self.attentions = addAttention ? [try VAEAttention(channels: channels, groups: groups)] : []
        self.resnets = try (0..<2).map { _ in try ResnetBlock2D(inChannels: channels, outChannels: channels, groups: groups) }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try resnets[0](x)
        for attention in attentions { h = try attention(h) }
        return try resnets[1](h)
    }
}
