import ArgumentParser
import Foundation
import MiroData
import MiroEngine
import MiroFormats
import MiroIO
import MiroImage
import MiroDataPrep
import MiroPipeline
import MiroRewards
import MiroShapes
import MiroTraining
import Logging

/// `miro sample --checkpoint DIR` on an official folder: MiroPipeline.__call__ (method §7) — prompts through
/// FLAN-T5-XL (or a precomputed embedding), the sampler, the SDXL VAE or TAESDXL (or, with neither, a labelled
/// linear preview); the latents as .npy beside the PNGs.
extension Sample {
    func validateRelease() throws {
        guard guidanceStart == 0, guidanceEnd == nil, !rawWeights, !grid else {
            throw ValidationError("--guidance-start/--guidance-end, --raw-weights and --grid apply to training "
                                  + "checkpoints; an official folder samples as MiroPipeline does")
        }
        if bestOf > 1 {
            guard let selectBy else {
                throw ValidationError("--best-of on an official folder needs --select-by, one of \(RewardRegistry.names.joined(separator: ", "))")
            }
            _ = try FlagCheck.usage { try RewardRegistry.specs(selectBy, files: try rewardModel.locations()) }
            if decoder == "preview" { throw ValidationError("--best-of scores decoded images: use --decoder vae or taesd, not preview") }
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
        if let decoder, !["vae", "taesd", "preview"].contains(decoder) {
            throw ValidationError("--decoder must be vae, taesd or preview, got '\(decoder)'")
        }
        guard decoded.provenance?.textEncoder != TextEncoderKind.shapes.rawValue else { return }
        if textEmbedding != nil && (!prompts.isEmpty || promptFile != nil) {
            throw ValidationError("give prompts or --text-embedding, not both")
        }
        if textEmbedding == nil && prompts.isEmpty && promptFile == nil {
            throw ValidationError("give prompts (encoded with FLAN-T5-XL, see --text-encoder) or a precomputed embedding with "
                                  + "--text-embedding E.npy ((n_tokens, \(decoded.config.network.labelDim)) or (1, n_tokens, "
                                  + "\(decoded.config.network.labelDim)))")
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
            let encoderFolder = try ComponentLocator().locate(.textEncoder, given: textEncoder, checkpoint: folder.directory,
                                                       repo: folder.config.textEncoderRepo ?? "google/flan-t5-xl")
            let t1 = Date()
            let encoder = try T5PromptEncoder(folder: encoderFolder)
            logger.info("text encoder \(encoderFolder.path) loaded in \(String(format: "%.1f", Date().timeIntervalSince(t1)))s")
            for prompt in promptList {
                let (embedding, truncated) = try encoder.encode(prompt, maxLength: pipeline.maxTextLength)
                if truncated {
                    logger.warning("prompt cut to max_text_len \(pipeline.maxTextLength) tokens, as MiroPipeline does: \(prompt)")
                }
                inputs.append((prompt, embedding))
            }
        }
        guard !inputs.isEmpty else {
            throw ValidationError("give prompts or the prompt's precomputed T5 embedding with --text-embedding E.npy ((n_tokens, "
                                  + "\(folder.model.config.labelDim)) or (1, n_tokens, \(folder.model.config.labelDim)))")
        }
        let latentDecoder = try makeDecoder(folder: folder, logger: logger)

        var settings = pipeline.settings()
        settings.steps = steps ?? settings.steps
        settings.guidance = guidance ?? settings.guidance
        settings.rewardTargets = try RewardTargets.parse(rewards, option: "--reward")
        settings.negativeRewardTargets = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
        // --best-of: n × N candidates in one batch per prompt (one noise draw); image k keeps the best of its N.
        settings.numImagesPerPrompt = n * bestOf
        // the --select-by reward, loaded when the first candidates are decoded
        let selectSpec = try bestOf > 1 ? RewardRegistry.specs(selectBy ?? "", files: try rewardModel.locations()).first : nil
        var selectModel: (any RewardModel)?
        if selectSpec != nil, latentDecoder == nil {
            throw ValidationError("--best-of scores decoded images, and no VAE or TAESD was found (see --vae / --decoder)")
        }
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
            if let latentDecoder {
                let start = Date()
                var images = try pipeline.decode(latents, decoder: latentDecoder)
                logger.info("decoded \(images.count) image(s) with \(latentDecoder.name) in \(String(format: "%.1f", Date().timeIntervalSince(start)))s")
                var choices: [BestOfSelection.Choice]?
                if let selectSpec {
                    let model = try selectModel ?? selectSpec.make()
                    selectModel = model
                    let chosen = try BestOfSelection.choose(images, caption: input.label, groupSize: bestOf, model: model)
                    print("best of \(bestOf) by \(selectSpec.name): candidates " + chosen.map { "\($0.index) (\(String(format: "%.4f", $0.score)))" }
                        .joined(separator: ", "))
                    images = chosen.map { images[$0.index] }
                    choices = chosen
                }
                try saveDecoded(images, decoder: latentDecoder, folder: folder, label: input.label, settings: s, outDir: outDir,
                                choices: choices)
            } else {
                try saveImages(latents, folder: folder, label: input.label, settings: s, outDir: outDir)
            }
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

    /// The decoder `--decoder` names (nil: the preview path). Without --decoder, the SDXL VAE when one is found,
    /// else the preview (exported Shapes models decode through their pixel statistics and need none).
    private func makeDecoder(folder: ReleaseFolder, logger: Logger) throws -> (any LatentDecoder)? {
        if folder.model.config.numInputChannels != 4 || decoder == "preview" { return nil }
        let locator = ComponentLocator()
        let t0 = Date()
        let made: any LatentDecoder
        switch decoder {
        case "taesd":
            made = try TinyLatentDecoder(url: try locator.locate(.taesd, given: taesd, checkpoint: folder.directory,
                                                                 repo: "madebyollin/taesdxl"))
        case "vae":
            made = try VAELatentDecoder(url: try locator.locate(.vae, given: vae, checkpoint: folder.directory,
                                                                repo: folder.config.vaeRepo ?? "stabilityai/sdxl-vae"))
        default:
            do {
                made = try VAELatentDecoder(url: try locator.locate(.vae, given: vae, checkpoint: folder.directory,
                                                                    repo: folder.config.vaeRepo ?? "stabilityai/sdxl-vae"))
            } catch let error as InputError where vae == nil {
                logger.notice("no SDXL VAE: writing approximate previews (give --vae or --decoder vae to require one). \(error)")
                return nil
            }
        }
        logger.info("decoder \(made.name) loaded in \(String(format: "%.1f", Date().timeIntervalSince(t0)))s")
        return made
    }

    /// Decoded 8-bit images, written byte for byte as MiroPipeline returns them.
    private func saveDecoded(_ images: [UInt8Image], decoder: any LatentDecoder, folder: ReleaseFolder, label: String,
                             settings: ReleasePipeline.Settings, outDir: URL, choices: [BestOfSelection.Choice]? = nil) throws {
        let approximate = decoder is TinyLatentDecoder
        for (k, image) in images.enumerated() {
            let suffix = approximate ? ".taesd" : ""
            let url = try OutputFiles.unique(in: outDir, base: "\(OutputFiles.slug(label)).\(k).\(settings.seed)\(suffix)", ext: "png")
            let metadata = GenerationMetadata(
                prompt: label, steps: settings.steps, guidance: settings.guidance, seed: settings.seed, batchIndex: k,
                width: image.width, height: image.height, model: folder.directory.path, rewardTargets: settings.rewardTargets,
                negativeRewardTargets: settings.negativeRewardTargets, negativeText: "uncond_embedding.npy",
                version: Miro.version)
            var fields: [String: Any] = ["decoder": decoder.name, "decoder_kind": approximate ? "taesd" : "vae"]
            if let choice = choices?[k] {
                fields["best_of"] = bestOf
                fields["select_by"] = selectBy
                fields["candidate"] = choice.index
                fields["candidate_scores"] = choice.scores
            }
            let miro = try metadata.miroChunk(extra: fields)
            let png = try PNG.encode(bytes: image.bytes, width: image.width, height: image.height, alpha: false,
                                     text: [metadata.parameters, miro])
            try PNG.writeAtomically(png, to: url)
            print("saved \(url.path)")
        }
    }
}

