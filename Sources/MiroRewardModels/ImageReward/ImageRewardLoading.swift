/// Loading ImageReward v1.0 from the files users have (`hf_hub_download("THUDM/ImageReward", ...)` puts them in
/// `~/.cache/ImageReward`): `ImageReward.pt` (a `torch.save` zip of the state dict, read without executing the
/// pickle) or the same tensors as `.safetensors` (after `miro convert`), plus `med_config.json`. Follows
/// ImageReward.py `load` / `BLIP_Pretrain.__init__`: the BERT config comes from the JSON, `encoder_width` is
/// overwritten by the ViT-L width, and the state dict is applied with `strict=False` (see ImageRewardWeights.swift
/// for what that allows here).

import Foundation
import Logging
import MiroEngine
import MiroFormats

extension ImageReward {
    public static let checkpointFileName = "ImageReward.pt"
    public static let safeTensorsFileName = "ImageReward.safetensors"
    public static let medConfigFileName = "med_config.json"

    /// Loads `weights` (`.pt`/`.pth` torch zip checkpoint, or `.safetensors`) with the BERT configuration of
    /// `medConfig`. `vision` is BLIP's hard-coded ViT-L/16 at 224 unless a test passes a tiny one; the width of the
    /// unused contrastive projections is read from the file (256 when absent).
    ///
    /// Throws `RewardModelError.file` naming the file and key for an unreadable file, a missing tensor, a wrong
    /// shape or dtype, or tensors under `blip.visual_encoder.` / `blip.text_encoder.` / `mlp.` that the
    /// configuration has no place for.
    public static func load(weights: URL, medConfig: URL, vision: BLIPVisionConfig = .large, device: Device = .cpu,
                            logger: Logger? = nil) throws -> ImageReward {
        let med = try BLIPMedConfig.read(medConfig)
        let source = try ImageRewardCheckpointWeights(url: weights, device: device)
        var projectionDim = 256
        if let shape = source.storedShape("blip.vision_proj.weight"), shape.count == 2 { projectionDim = shape[0] }
        let config = ImageRewardConfig(vision: vision, med: med, projectionDim: projectionDim)
        let model = try ImageReward(config: config, source: source, path: medConfig.path)
        let extra = source.unusedModelTensors()
        if let first = extra.first {
            let more = extra.count > 1 ? " and \(extra.count - 1) more" : ""
            throw RewardModelError.file(
                path: source.path,
                reason: "tensor '\(first)'\(more) has no place in the model \(medConfig.lastPathComponent) describes "
                    + "(num_hidden_layers \(med.numHiddenLayers), vision depth \(vision.depth))")
        }
        let foreign = source.foreignTensors()
        if !foreign.isEmpty {
            logger?.info("ImageReward: skipped \(foreign.count) tensors outside the model (strict=False), e.g. '\(foreign[0])'",
                         metadata: ["file": .string(source.path)])
        }
        logger?.debug("ImageReward: loaded \(source.used.count) tensors", metadata: ["file": .string(source.path)])
        return model
    }

    /// Where `ImageReward.load("ImageReward-v1.0")` downloads its files (`hf_hub_download(..., local_dir=...)`):
    /// `~/.cache/ImageReward`.
    public static var defaultFolder: URL {
        FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/ImageReward")
    }

    /// The first folder holding the weights and `med_config.json`: `~/.cache/ImageReward`, else the Hugging Face
    /// cache's `THUDM/ImageReward` snapshot. Nothing is downloaded.
    public static func locateFolder(cache: HuggingFaceCache = HuggingFaceCache()) throws -> URL {
        var candidates = [defaultFolder]
        if let snapshot = try? cache.snapshot(repoId: "THUDM/ImageReward") { candidates.append(snapshot) }
        for folder in candidates where (try? weightsFile(in: folder)) != nil
            && FileManager.default.fileExists(atPath: folder.appendingPathComponent(medConfigFileName).path) {
            return folder
        }
        throw RewardModelError.file(
            path: defaultFolder.path,
            reason: "no \(checkpointFileName) + \(medConfigFileName) here nor in the Hugging Face cache (THUDM/ImageReward); "
                + "download them from https://huggingface.co/THUDM/ImageReward")
    }

    /// The weights file of an ImageReward folder: `ImageReward.safetensors` if present, else `ImageReward.pt`.
    public static func weightsFile(in folder: URL) throws -> URL {
        for name in [safeTensorsFileName, checkpointFileName] {
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        throw RewardModelError.file(path: folder.path, reason: "no \(safeTensorsFileName) or \(checkpointFileName) in the folder")
    }

    /// Loads a folder holding `ImageReward.pt` (or `ImageReward.safetensors`) and `med_config.json`.
    public static func load(folder: URL, vision: BLIPVisionConfig = .large, device: Device = .cpu,
                            logger: Logger? = nil) throws -> ImageReward {
        try load(weights: weightsFile(in: folder), medConfig: folder.appendingPathComponent(medConfigFileName),
                 vision: vision, device: device, logger: logger)
    }
}
