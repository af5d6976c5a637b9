// Loading the autoencoders as users have them on disk: diffusers component folders (`from_pretrained`
// layout), single `.safetensors` files with LDM names (`sdxl_vae.safetensors`), and madebyollin/taesd's
// encoder/decoder files converted to safetensors.

import Foundation
import MiroEngine
import MiroFormats

extension AutoencoderKL {
    /// Loads a KL autoencoder.
    ///
    /// - A folder (diffusers layout, e.g. `stabilityai/sdxl-vae` or a pipeline's `vae/`): `config.json` plus
    ///   `diffusion_pytorch_model.safetensors` (or its sharded index, or the `.fp16.` variant). `config`, when
    ///   given, replaces `config.json`.
    /// - A single `.safetensors` file: diffusers names or the original LDM names of `sdxl_vae.safetensors`
    ///   (detected from the names), built with `config` (default: the SDXL VAE's). LDM files' `loss.*` tensors
    ///   (the training discriminator/LPIPS some checkpoints carry) and `model_ema.*` are skipped. In a whole
    ///   Stable Diffusion checkpoint (tensors under `first_stage_model.`), only those tensors are read.
    ///
    /// Weights may be stored in float32, float16, bfloat16 or float64; the model computes in float32. Pre-0.14
    /// diffusers attention names (`query`, `key`, `value`, `proj_attn`) are accepted. Every tensor is checked
    /// against the configuration before anything is copied; errors are `VAEError`s naming the file and tensor.
    public static func load(_ url: URL, config: AutoencoderKLConfig? = nil) throws -> AutoencoderKL {
        let weightsURL: URL
        let resolved: AutoencoderKLConfig
        let configPath: String
        if WeightLoader.isDirectory(url) {
            weightsURL = try WeightLoader.diffusersWeights(in: url)
            if let config {
                resolved = config
                configPath = "the given configuration"
            } else {
                let file = url.appendingPathComponent("config.json")
                guard FileManager.default.fileExists(atPath: file.path) else {
                    throw VAEError.invalidConfig(path: file.path, message: "missing (a diffusers VAE folder holds config.json)")
                }
                resolved = try AutoencoderKLConfig.load(file)
                configPath = file.path
            }
        } else {
            weightsURL = url
            resolved = config ?? .sdxl
            configPath = config == nil ? "the SDXL VAE configuration" : "the given configuration"
        }
        try resolved.validate(path: configPath)
        let model = try AutoencoderKL(config: resolved)
        let source = try WeightSource(weightsURL)
        // A whole Stable Diffusion checkpoint keeps its VAE under `first_stage_model.`: read only those.
        let prefix = source.names.contains { $0.hasPrefix(Self.fullCheckpointPrefix) } ? Self.fullCheckpointPrefix : ""
        let layout = KLCheckpointLayout.detect(source.names.map { String($0.dropFirst(prefix.count)) })
        let blocks = resolved.blockOutChannels.count
        try WeightLoader.load(
            model, from: [source],
            rename: { _, name in
                let local = String(name.dropFirst(prefix.count))
                switch layout {
                case .diffusers: return KLCheckpointNames.currentAttentionName(local)
                case .ldm: return KLCheckpointNames.diffusersName(ldm: local, blocks: blocks)
                }
            },
            ignore: { name in
                if !prefix.isEmpty { return !name.hasPrefix(prefix) }
                return layout == .ldm && (name.hasPrefix("loss.") || name.hasPrefix("model_ema."))
            },
            squeezable: layout == .ldm ? KLCheckpointNames.isAttentionProjection : { _ in false },
            configPath: configPath)
        return model
    }

    /// The prefix of the VAE's tensors inside a whole LDM/SGM Stable Diffusion checkpoint.
    static let fullCheckpointPrefix = "first_stage_model."
}

extension AutoencoderTiny {
    /// Loads a tiny autoencoder from a diffusers folder (`madebyollin/taesdxl`: `config.json` +
    /// `diffusion_pytorch_model.safetensors`) or a single diffusers-named `.safetensors` file built with `config`
    /// (default TAESDXL's). Weights in any float dtype; float32 compute.
    public static func load(_ url: URL, config: AutoencoderTinyConfig? = nil) throws -> AutoencoderTiny {
        let weightsURL: URL
        var resolved = config ?? .taesdxl
        var configPath = config == nil ? "the TAESDXL configuration" : "the given configuration"
        if WeightLoader.isDirectory(url) {
            weightsURL = try WeightLoader.diffusersWeights(in: url)
            if config == nil {
                let file = url.appendingPathComponent("config.json")
                guard FileManager.default.fileExists(atPath: file.path) else {
                    throw VAEError.invalidConfig(path: file.path, message: "missing (a diffusers AutoencoderTiny folder holds config.json)")
                }
                resolved = try AutoencoderTinyConfig.load(file)
                configPath = file.path
            }
        } else {
            weightsURL = url
        }
        try resolved.validate(path: configPath)
        let model = try AutoencoderTiny(config: resolved)
        try WeightLoader.load(model, from: [try WeightSource(weightsURL)], rename: { _, name in name }, configPath: configPath)
        return model
    }

    /// Loads madebyollin/taesd's `taesdxl_encoder.pth` / `taesdxl_decoder.pth` after conversion to safetensors
    /// (`safetensors.torch.save_file(torch.load(p), p.replace(".pth", ".safetensors"))`; `.pth` pickles are not
    /// read). Their names are plain `nn.Sequential` indices, mapped by `TinyCheckpointNames`. Either file may be
    /// omitted: the model then lacks that half. Value ranges are diffusers' ([−1, 1] in and out), not taesd's [0, 1].
    public static func load(taesdEncoder: URL?, taesdDecoder: URL?, config: AutoencoderTinyConfig = .taesdxl) throws -> AutoencoderTiny {
        guard taesdEncoder != nil || taesdDecoder != nil else {
            throw VAEError.invalidWeights(path: "<none>", message: "give a taesd encoder file, a decoder file, or both")
        }
        let configPath = config == .taesdxl ? "the TAESDXL configuration" : "the given configuration"
        try config.validate(path: configPath)
        let model = try AutoencoderTiny(config: config, encoder: taesdEncoder != nil, decoder: taesdDecoder != nil)
        let encoder = try taesdEncoder.map { try WeightSource($0) }
        let decoder = try taesdDecoder.map { try WeightSource($0) }
        try WeightLoader.load(
            model, from: [encoder, decoder].compactMap { $0 },
            rename: { index, name in
                index == 0 && encoder != nil ? TinyCheckpointNames.diffusersName(taesdEncoder: name)
                                             : TinyCheckpointNames.diffusersName(taesdDecoder: name)
            },
            configPath: configPath)
        return model
    }
}
