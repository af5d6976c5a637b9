/// Loading a `CLIPModel` as users have it on disk: a Hugging Face folder (`save_pretrained` output or a hub
/// snapshot: `config.json` + `model.safetensors`, sharded `model.safetensors.index.json`, or `pytorch_model.bin`),
/// the local Hugging Face cache, and open_clip / OpenAI state dicts (`HPS_v2.1_compressed.pt`, a ViT-L/14 state
/// dict) with a built-in or given open_clip config. Follows `PreTrainedModel.from_pretrained` (transformers
/// 4.40.2) in which file wins: safetensors, then its index, then the pickle.

import Foundation
import MiroFormats

extension CLIPModel {
    public static let configFileName = "config.json"
    static let weightFileNames = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"]

    /// Loads a transformers CLIP folder. Every tensor is checked against `config.json` (names, shapes, float
    /// dtype) as the model is built; tensors the configuration has no place for are an error (they mean the
    /// configuration disagrees with the weights), except the `position_ids` buffers older exports carry.
    /// Weights in float16 / bfloat16 are widened to float32.
    public static func load(folder: URL) throws -> CLIPModel {
        let configURL = folder.appendingPathComponent(configFileName)
        let config = try CLIPConfig.load(configURL)
        let weights = try checkpoint(in: folder)
        let model = try CLIPModel(config: config, source: weights, path: configURL.path)
        try weights.checkAllUsed(configPath: configURL.path)
        return model
    }

    /// Loads `repoId` (e.g. `yuvalkirstain/PickScore_v1`) from the local Hugging Face cache; nothing is downloaded.
    public static func load(repoId: String, revision: String = "main", cache: HuggingFaceCache = HuggingFaceCache()) throws -> CLIPModel {
        try load(folder: snapshot(repoId, cache, revision: revision))
    }

    /// Loads an open_clip / OpenAI state dict (`.pt` / `.pth` / `.bin` torch.save zip, or `.safetensors`) into
    /// the transformers layout through `OpenCLIPNames`. A `{'state_dict': …}` wrapper (HPSv2's
    /// `HPS_v2.1_compressed.pt`) is unwrapped; `attn_mask`, `position_ids` and OpenAI's `input_resolution` /
    /// `context_length` / `vocab_size` entries are ignored; fp16 weights are widened to float32.
    ///
    /// - config: the open_clip geometry (`.vitH14` for HPSv2, `.openAIViTL14` for OpenAI's ViT-L/14, or one read
    ///   with `OpenCLIPModelConfig.load`).
    public static func load(openCLIPCheckpoint url: URL, config: OpenCLIPModelConfig) throws -> CLIPModel {
        let weights = url.pathExtension == "safetensors" || SafeTensorsIndex.isIndexFile(url)
            ? try CheckpointWeights.safeTensors(url)
            : try CheckpointWeights.torchCheckpoint(url)
        try weights.rename(OpenCLIPNames.rename)
        let description = "the open_clip configuration (embed_dim \(config.embedDim), vision width \(config.visionCfg.width), text width \(config.textCfg.width))"
        let model = try CLIPModel(config: config.clipConfig, source: weights, path: description)
        try weights.checkAllUsed(configPath: description)
        return model
    }

    /// The weights of a transformers folder, in `from_pretrained`'s order of preference.
    static func checkpoint(in folder: URL) throws -> CheckpointWeights {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RewardModelError.file(path: folder.path, reason: "no such folder")
        }
        let ignore: (String) -> Bool = { $0.hasSuffix("position_ids") }
        for name in weightFileNames {
            let url = folder.appendingPathComponent(name)
            guard fm.fileExists(atPath: url.path) else { continue }
            return name.hasSuffix(".bin") ? try .torchCheckpoint(url, ignore: ignore) : try .safeTensors(url, ignore: ignore)
        }
        let shardedBin = fm.fileExists(atPath: folder.appendingPathComponent("pytorch_model.bin.index.json").path)
        throw RewardModelError.file(
            path: folder.path,
            reason: "no \(weightFileNames.joined(separator: ", ")) in the folder"
                + (shardedBin ? " (sharded pytorch_model-*.bin pickles are not read; convert them with `miro convert`)" : ""))
    }
}
