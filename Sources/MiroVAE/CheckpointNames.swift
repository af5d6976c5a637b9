// The weight-name rule lists that map other checkpoint layouts onto diffusers 0.27.2's state-dict names:
// the original LDM/SGM names of `sdxl_vae.safetensors` (as diffusers' single-file converter maps them),
// the pre-0.14 diffusers attention names, and madebyollin/taesd's `nn.Sequential` indices.

import MiroEngine

/// Which naming a KL-autoencoder file uses.
public enum KLCheckpointLayout: String, Sendable {
    /// diffusers `AutoencoderKL` names (`encoder.down_blocks.0.resnets.0.norm1.weight`).
    case diffusers
    /// the original latent-diffusion / SGM names (`encoder.down.0.block.0.norm1.weight`).
    case ldm

    /// LDM files are recognised by their block names; everything else is read as diffusers names.
    static func detect(_ names: some Sequence<String>) -> KLCheckpointLayout {
        names.contains { $0.hasPrefix("encoder.down.") || $0.hasPrefix("decoder.up.") || $0.contains(".mid.block_1.") }
            ? .ldm : .diffusers
    }
}

/// Renames of the KL autoencoder's checkpoints onto the diffusers names.
public enum KLCheckpointNames {
    /// The diffusers name of an LDM name, for a model with `blocks` up/down blocks (4 for SDXL), or nil when the
    /// name is not part of the autoencoder (the loader reports those). The decoder's `up.{k}` is diffusers'
    /// `up_blocks.{blocks−1−k}`: LDM numbers the up path from the highest resolution, diffusers from the lowest.
    ///
    ///     encoder.down.{i}.block.{j}.        → encoder.down_blocks.{i}.resnets.{j}.
    ///     encoder.down.{i}.downsample.conv.  → encoder.down_blocks.{i}.downsamplers.0.conv.
    ///     decoder.up.{k}.block.{j}.          → decoder.up_blocks.{blocks−1−k}.resnets.{j}.
    ///     decoder.up.{k}.upsample.conv.      → decoder.up_blocks.{blocks−1−k}.upsamplers.0.conv.
    ///     {en,de}coder.mid.block_1. / block_2.   → mid_block.resnets.0. / 1.
    ///     {en,de}coder.mid.attn_1.{norm,q,k,v,proj_out}. → mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}.
    ///     .nin_shortcut. → .conv_shortcut.     {en,de}coder.norm_out. → conv_norm_out.
    ///     conv_in, conv_out, quant_conv, post_quant_conv: unchanged
    public static func diffusersName(ldm name: String, blocks: Int) -> String? {
        var parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2 else { return nil }
        let side = parts[0]
        if side == "quant_conv" || side == "post_quant_conv" { return name }
        guard side == "encoder" || side == "decoder" else { return nil }
        func index(_ s: String) -> Int? { Int(s).flatMap { (0..<blocks).contains($0) ? $0 : nil } }
        switch parts[1] {
        case "down" where side == "encoder" && parts.count >= 5:
            guard let i = index(parts[2]) else { return nil }
            if parts[3] == "block" {
                parts.replaceSubrange(1...3, with: ["down_blocks", "\(i)", "resnets"])
            } else if parts[3] == "downsample" {
                parts.replaceSubrange(1...3, with: ["down_blocks", "\(i)", "downsamplers", "0"])
            } else { return nil }
        case "up" where side == "decoder" && parts.count >= 5:
            guard let k = index(parts[2]) else { return nil }
            if parts[3] == "block" {
                parts.replaceSubrange(1...3, with: ["up_blocks", "\(blocks - 1 - k)", "resnets"])
            } else if parts[3] == "upsample" {
                parts.replaceSubrange(1...3, with: ["up_blocks", "\(blocks - 1 - k)", "upsamplers", "0"])
            } else { return nil }
        case "mid" where parts.count >= 4:
            switch parts[2] {
            case "block_1": parts.replaceSubrange(1...2, with: ["mid_block", "resnets", "0"])
            case "block_2": parts.replaceSubrange(1...2, with: ["mid_block", "resnets", "1"])
            case "attn_1":
                let renamed: [String: [String]] = ["norm": ["group_norm"], "q": ["to_q"], "k": ["to_k"], "v": ["to_v"],
                                                   "proj_out": ["to_out", "0"]]
                guard let to = renamed[parts[3]] else { return nil }
                parts.replaceSubrange(1...3, with: ["mid_block", "attentions", "0"] + to)
            default: return nil
            }
        case "norm_out": parts[1] = "conv_norm_out"
        case "conv_in", "conv_out": break
        default: return nil
        }
        return parts.map { $0 == "nin_shortcut" ? "conv_shortcut" : $0 }.joined(separator: ".")
    }

    /// The current diffusers name of a pre-0.14 attention name (`query`, `key`, `value`, `proj_attn`), or the
    /// name itself.
    public static func currentAttentionName(_ name: String) -> String {
        for (old, new) in [("query", "to_q"), ("key", "to_k"), ("value", "to_v"), ("proj_attn", "to_out.0")] {
            let marker = "mid_block.attentions.0.\(old)."
            if let range = name.range(of: marker) {
                return name.replacingCharacters(in: range, with: "mid_block.attentions.0.\(new).")
            }
        }
        return name
    }

    /// True for the mid-block attention projections, which LDM stores as 1×1 convolutions [C, C, 1, 1].
    static func isAttentionProjection(_ diffusersName: String) -> Bool {
        diffusersName.hasSuffix(".weight") && diffusersName.contains(".mid_block.attentions.0.to_")
    }
}

/// Renames of madebyollin/taesd's `taesdxl_encoder.pth` / `taesdxl_decoder.pth` state dicts (converted to
/// safetensors) onto diffusers' `AutoencoderTiny` names. Those files are plain `nn.Sequential` state dicts:
/// the encoder's `{i}.X` is `encoder.layers.{i}.X`; the decoder's `{i}.X` is `decoder.layers.{i−1}.X`
/// (taesd's decoder starts with its parameter-free `Clamp` module, which diffusers folds into the forward).
public enum TinyCheckpointNames {
    public static func diffusersName(taesdEncoder name: String) -> String? {
        guard let dot = name.firstIndex(of: "."), Int(name[..<dot]) != nil else { return nil }
        return "encoder.layers.\(name)"
    }

    public static func diffusersName(taesdDecoder name: String) -> String? {
        guard let dot = name.firstIndex(of: "."), let i = Int(name[..<dot]), i >= 1 else { return nil }
        return "decoder.layers.\(i - 1)\(name[dot...])"
    }
}
