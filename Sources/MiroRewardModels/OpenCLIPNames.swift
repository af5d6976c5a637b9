/// The open_clip / OpenAI CLIP state-dict names (open_clip 2.24.0 `CLIP`, OpenAI `clip/model.py`) mapped onto
/// transformers' `CLIPModel` names, as transformers' `convert_clip_original_pytorch_to_hf.py` does: a small list
/// of rename rules, the fused attention `in_proj` split into q, k, v by row thirds, and the two projections
/// transposed (open_clip multiplies `x @ proj`, transformers applies `nn.Linear`).

import Foundation

enum OpenCLIPNames {
    /// How one transformers tensor is made from a stored one.
    enum Mapping: Equatable {
        case same(String)
        /// `[a, b]` stored, `[b, a]` wanted.
        case transposed(String)
        /// Row third `part` (0 = q, 1 = k, 2 = v) of a fused `in_proj_weight` / `in_proj_bias`.
        case third(String, part: Int)
    }

    /// Buffers that old checkpoints carry and no model parameter corresponds to (OpenAI's TorchScript-era
    /// `input_resolution` / `context_length` / `vocab_size`, the causal `attn_mask`, `position_ids`).
    static func isIgnored(_ name: String) -> Bool {
        ["input_resolution", "context_length", "vocab_size"].contains(name) || name.hasSuffix("attn_mask")
            || name.hasSuffix("position_ids")
    }

    /// Whole-name rules (open_clip → transformers).
    static let fixed: [String: Mapping] = [
        "logit_scale": .same("logit_scale"),
        "visual.class_embedding": .same("vision_model.embeddings.class_embedding"),
        "visual.positional_embedding": .same("vision_model.embeddings.position_embedding.weight"),
        "visual.conv1.weight": .same("vision_model.embeddings.patch_embedding.weight"),
        "visual.ln_pre.weight": .same("vision_model.pre_layrnorm.weight"),
        "visual.ln_pre.bias": .same("vision_model.pre_layrnorm.bias"),
        "visual.ln_post.weight": .same("vision_model.post_layernorm.weight"),
        "visual.ln_post.bias": .same("vision_model.post_layernorm.bias"),
        "visual.proj": .transposed("visual_projection.weight"),
        "token_embedding.weight": .same("text_model.embeddings.token_embedding.weight"),
        "positional_embedding": .same("text_model.embeddings.position_embedding.weight"),
        "ln_final.weight": .same("text_model.final_layer_norm.weight"),
        "ln_final.bias": .same("text_model.final_layer_norm.bias"),
        "text_projection": .transposed("text_projection.weight"),
    ]

    /// Per-block suffix rules (`…resblocks.{i}.<suffix>` → `…layers.{i}.<suffix>`).
    static let blockSuffixes: [String: String] = [
        "ln_1.weight": "layer_norm1.weight", "ln_1.bias": "layer_norm1.bias",
        "ln_2.weight": "layer_norm2.weight", "ln_2.bias": "layer_norm2.bias",
        "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
        "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias",
        "attn.out_proj.weight": "self_attn.out_proj.weight", "attn.out_proj.bias": "self_attn.out_proj.bias",
    ]

    /// The transformers names (with their mapping) one open_clip tensor provides; nil for a name no rule knows.
    static func targets(of name: String) -> [(String, Mapping)]? {
        if let m = fixed[name] {
            switch m {
            case .same(let t), .transposed(let t): return [(t, m)]
            case .third: return nil
            }
        }
        let towers = [("visual.transformer.resblocks.", "vision_model.encoder.layers."),
                      ("transformer.resblocks.", "text_model.encoder.layers.")]
        for (from, to) in towers where name.hasPrefix(from) {
            let rest = name.dropFirst(from.count)
            guard let dot = rest.firstIndex(of: "."), let block = Int(rest[..<dot]), block >= 0 else { return nil }
            let suffix = String(rest[rest.index(after: dot)...])
            let prefix = "\(to)\(block)."
            if let mapped = blockSuffixes[suffix] { return [(prefix + mapped, .same(name))] }
            for (fused, leaf) in [("attn.in_proj_weight", "weight"), ("attn.in_proj_bias", "bias")] where suffix == fused {
                return ["q_proj", "k_proj", "v_proj"].enumerated().map { part, proj in
                    ("\(prefix)self_attn.\(proj).\(leaf)", Mapping.third(name, part: part))
                }
            }
            return nil
        }
        return nil
    }

    /// The stored open_clip tensors re-keyed by transformers names, each reading (and slicing or transposing) its
    /// source lazily. A leading `module.` (DistributedDataParallel) is dropped. Throws for a name no rule maps
    /// and for a fused projection whose rows are not a multiple of 3.
    static func rename(_ stored: [String: StoredTensor]) throws -> [String: StoredTensor] {
        var out: [String: StoredTensor] = [:]
        for (rawName, entry) in stored {
            let name = rawName.hasPrefix("module.") ? String(rawName.dropFirst(7)) : rawName
            if isIgnored(name) { continue }
            guard let targets = targets(of: name) else {
                throw RewardModelError.file(path: entry.file, reason: "tensor '\(entry.storedName)' is not an open_clip CLIP tensor this port maps (ViT image tower + text transformer)")
            }
            for (target, mapping) in targets {
                guard out[target] == nil else {
                    throw RewardModelError.file(path: entry.file, reason: "two tensors map to '\(target)' (one is '\(entry.storedName)')")
                }
                switch mapping {
                case .same:
                    out[target] = StoredTensor(storedName: entry.storedName, file: entry.file, shape: entry.shape,
                                               dtype: entry.dtype, read: entry.read)
                case .transposed:
                    guard entry.shape.count == 2 else {
                        throw RewardModelError.file(path: entry.file, reason: "tensor '\(entry.storedName)' has shape \(entry.shape); a projection is a matrix")
                    }
                    out[target] = StoredTensor(storedName: entry.storedName, file: entry.file, shape: Array(entry.shape.reversed()),
                                               dtype: entry.dtype) { try entry.read().transposed(0, 1).contiguous() }
                case .third(_, let part):
                    guard let rows = entry.shape.first, rows % 3 == 0, rows > 0 else {
                        throw RewardModelError.file(path: entry.file, reason: "tensor '\(entry.storedName)' has shape \(entry.shape); a fused q,k,v projection has 3·width rows")
                    }
                    let third = rows / 3
                    out[target] = StoredTensor(storedName: entry.storedName, file: entry.file,
                                               shape: [third] + entry.shape.dropFirst(), dtype: entry.dtype) {
                        // q, k, v = in_proj_weight.chunk(3, dim=0)
                        try entry.read().slice(0, part * third, (part + 1) * third).contiguous()
                    }
                }
            }
        }
        return out
    }
}

/// The open_clip → transformers renaming applied to names and shapes alone, for layout checks without weights.
public enum OpenCLIPLayout {
    /// `(transformers name, shape)` for every tensor the open_clip `(name, shape)` list provides (q, k, v split,
    /// projections transposed, ignored buffers dropped), sorted by name. Throws for a name no rule maps.
    public static func renamedShapes(_ openCLIP: [(String, [Int])]) throws -> [(String, [Int])] {
        var stored: [String: StoredTensor] = [:]
        for (name, shape) in openCLIP {
            stored[name] = StoredTensor(storedName: name, file: "<layout>", shape: shape, dtype: .f32) {
                throw RewardModelError.input("layout entries hold no data")
            }
        }
        return try OpenCLIPNames.rename(stored).map { ($0.key, $0.value.shape) }.sorted { $0.0 < $1.0 }
    }
}
