import ArgumentParser
import Foundation
import MiroData
import MiroEngine
import MiroFormats
import MiroIO
import MiroImage
import MiroPipeline
import MiroShapes
import MiroTraining

/// `miro sample --checkpoint DIR` on an official folder: MiroPipeline.__call__ with a precomputed prompt
/// embedding (method §7); the latents as .npy, plus a labelled approximate preview (no VAE decoder in Swift).
extension Sample {
    func validateRelease() throws {
        guard bestOf == 1, guidanceStart == 0, guidanceEnd == nil, !rawWeights, !grid else {
            throw ValidationError("--best-of, --guidance-start/--guidance-end, --raw-weights and --grid apply to training "
                                  + "checkpoints; an official folder samples as MiroPipeline does")
        }
        if let guidance {
            do { try SamplingChecks.guidance(guidance, option: "--guidance") } catch { throw ValidationError("\(error)") }
        }
        if let saveLatents, !saveLatents.hasSuffix(".npy") {
            throw ValidationError("--save-latents must name a .npy file, got '\(saveLatents)'")
        }
        // Check the text input before the (possibly 1.4 GB) weights load: config.json alone tells.
        let root = URL(fileURLWithPath: checkpoint)
        let configURL = (variant.map { root.appendingPathComponent($0) } ?? root).appendingPathComponent(ReleaseFolder.configFile)
        guard let data = FileManager.default.contents(atPath: configURL.path) else { return }  // the loader names it
        let decoded = try ReleaseConfigJSON.decode(data, path: configURL.path)
        guard decoded.provenance?.textEncoder != TextEncoderKind.shapes.rawValue else { return }
        let width = decoded.config.network.labelDim
        if !prompts.isEmpty || promptFile != nil {
            throw ValidationError("this folder's text encoder is \(decoded.config.textEncoderRepo ?? "FLAN-T5-XL"), which Swift "
                                  + "does not have: pass the prompt's precomputed embedding with --text-embedding E.npy")
        }
        if textEmbedding == nil {
            throw ValidationError("give the prompt's precomputed T5 embedding with --text-embedding E.npy ((n_tokens, \(width)) "
                                  + "or (1, n_tokens, \(width)), e.g. a flan_t5_xl_embeddings.npy member of an enriched shard)")
        }
    }

    func runRelease() throws {
        let logger = global.makeLogger("miro.sample")
        Engine.useDefaultThreads()
        let t0 = Date()
        let folder = try ReleaseFolder(contentsOf: URL(fileURLWithPath: checkpoint), variant: variant, logger: logger)
        let pipeline = ReleasePipeline(folder: folder)
        let params = folder.model.namedParameters().filter { $0.1.dtype.isFloatingPoint }.reduce(0) { $0 + $1.1.count }
        let stored = folder.storedDTypes.map(\.description).joined(separator: "+")
        logger.info("loaded \(folder.directory.path) (\(params) parameters, stored \(stored)) in \(String(format: "%.1f", Date().timeIntervalSince(t0)))s")

        // Inputs: the precomputed T5 embedding, or (exported Shapes models) prompts through the Shapes encoder.
        var inputs: [(label: String, embedding: Tensor)] = []
        if let textEmbedding {
            let url = URL(fileURLWithPath: textEmbedding)
            inputs.append((url.deletingPathExtension().lastPathComponent, try pipeline.loadTextEmbedding(url)))
        }
        var promptList = prompts
        if let promptFile { promptList += try PromptFile.read(promptFile) }
        let provenance = folder.provenance
        if let p = provenance, p.textEncoder == TextEncoderKind.shapes.rawValue, let width = p.textEncoderWidth, let maxTokens = p.textEncoderMaxTokens {
            let encoder = ShapesTextEncoder(width: width, maxTokens: maxTokens)
            for prompt in promptList {
                let e = encoder.encode(prompt)
                inputs.append((prompt, try Tensor(Array(e.embeddings.prefix(e.tokenCount * width)), shape: [e.tokenCount, width])))
            }
        } else if !promptList.isEmpty {
            throw ValidationError("this folder's text encoder is \(folder.config.textEncoderRepo ?? "FLAN-T5-XL"), which Swift does "
                                  + "not have: pass the prompt's precomputed embedding with --text-embedding E.npy")
        }
        guard !inputs.isEmpty else {
            throw ValidationError("give the prompt's precomputed T5 embedding with --text-embedding E.npy ((n_tokens, "
                                  + "\(folder.model.config.labelDim)) or (1, n_tokens, \(folder.model.config.labelDim)))")
        }

        var settings = pipeline.settings()
        settings.steps = steps ?? settings.steps
        settings.guidance = guidance ?? settings.guidance
        settings.rewardTargets = try RewardTargets.parse(rewards, option: "--reward")
        settings.negativeRewardTargets = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
        settings.numImagesPerPrompt = n
        try pipeline.validate(settings.rewardTargets, option: "--reward")
        try pipeline.validate(settings.negativeRewardTargets, option: "--negative-reward")
        let seed = self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let keys = pipeline.rewardKeys
        let full = keys.map { "\($0)=\(settings.rewardTargets[$0] ?? 1)" }.joined(separator: " ")
        let negFull = keys.map { "\($0)=\(settings.negativeRewardTargets[$0] ?? 0)" }.joined(separator: " ")
        print("seed \(seed) | steps \(settings.steps) | guidance \(settings.guidance) ((1+w)·c⁺ − w·c⁻) | rewards \(full) | "
              + "negative \(negFull) | negative text uncond_embedding.npy (\(folder.uncondEmbedding.size(0)) token) | "
              + "\(n) image(s) per prompt, \(pipeline.resolution)×\(pipeline.resolution) latents, text padded to \(pipeline.maxTextLength)")

        let outDir = URL(fileURLWithPath: out)
        for (i, input) in inputs.enumerated() {
            var s = settings
            s.seed = seed &+ UInt64(i)
            let bar = ProgressBar("sampling", total: s.steps)
            let start = Date()
            let latents = try pipeline.generate(textEmbedding: input.embedding, settings: s) { bar.update($0.index + 1) }
            bar.finish(suffix: "in \(formatDuration(Date().timeIntervalSince(start)))")
            let latentsURL: URL
            if let saveLatents {
                let base = URL(fileURLWithPath: saveLatents)
                latentsURL = inputs.count == 1 ? base
                    : base.deletingPathExtension().appendingPathExtension("\(i)").appendingPathExtension("npy")
                try FileManager.default.createDirectory(at: latentsURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            } else {
                latentsURL = try OutputFiles.unique(in: outDir, base: "\(OutputFiles.slug(input.label)).\(s.seed).latents", ext: "npy")
            }
            try TensorFiles.saveNPY(latents, to: latentsURL)
            print("latents \(latents.shape) float32 \(latentsURL.path)")
            try saveImages(latents, folder: folder, label: input.label, settings: s, outDir: outDir)
        }
    }

    /// Exported Shapes models: real images through the stored pixel statistics. SDXL-latent models: an
    /// approximate linear preview, labelled as such in the file name and the PNG text.
    private func saveImages(_ latents: Tensor, folder: ReleaseFolder, label: String, settings: ReleasePipeline.Settings,
                            outDir: URL) throws {
        let channels = latents.size(1)
        let p = folder.provenance
        let images: [RGBImage]
        let suffix: String
        var text: [PNGText] = []
        if channels == 3, let mean = p?.pixelMean, let std = p?.pixelStd {
            images = try PixelNormalization(mean: mean, std: std, sigmaData: p?.sigmaData ?? 0.5).decode(latents)
            suffix = ""
        } else if channels == 4 && !noPreview {
            images = try LatentPreview.images(latents: latents, postprocessing: folder.postprocessing)
            suffix = ".preview"
            text.append(PNGText("miro-preview", LatentPreview.label))
        } else {
            if channels != 4 { print("no images: \(channels)-channel outputs without stored pixel statistics need their own decoder") }
            return
        }
        for (k, image) in images.enumerated() {
            let url = try OutputFiles.unique(in: outDir, base: "\(OutputFiles.slug(label)).\(k).\(settings.seed)\(suffix)", ext: "png")
            let metadata = GenerationMetadata(
                prompt: label, steps: settings.steps, guidance: settings.guidance, seed: settings.seed, batchIndex: k,
                width: image.width, height: image.height, model: folder.directory.path, rewardTargets: settings.rewardTargets,
                negativeRewardTargets: settings.negativeRewardTargets, negativeText: "uncond_embedding.npy",
                version: Miro.version)
            try PNG.write(image, to: url, text: [metadata.parameters] + text)
            print("\(suffix.isEmpty ? "saved" : "saved approximate preview (not a VAE decode)") \(url.path)")
        }
    }
}
