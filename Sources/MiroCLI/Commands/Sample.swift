import ArgumentParser
import Foundation
import MiroData
import MiroEngine
import MiroImage
import MiroModels
import MiroOptim
import MiroPipeline
import MiroShapes
import MiroTraining

/// `miro sample`: images from a checkpoint with chosen reward targets (method §7). A training checkpoint
/// (Shapes world) or an official folder (config.json + model.safetensors, see SampleRelease.swift).
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images from a checkpoint with chosen reward targets.",
        discussion: "Multi-reward CFG: v = (1+w)·v(c⁺, s⁺) − w·v(c⁻, s⁻). Rewards not named default to 1 (positive) "
            + "and 0 (negative). PNGs carry an A1111-style 'parameters' text chunk and a 'miro' JSON chunk.\n\n"
            + "Official folders (config.json + model.safetensors + uncond_embedding.npy, e.g. from `miro export` or "
            + "huggingface.co/nicolas-dufour/miro) sample as MiroPipeline does: prompts go through FLAN-T5-XL (--text-encoder; "
            + "prompts longer than config.json's max_text_len are cut, with a warning), the latents through the SDXL VAE "
            + "(--vae) or TAESDXL (--decoder taesd). Instead of a prompt, --text-embedding E.npy gives a precomputed "
            + "embedding ((n_tokens, 2048) or (1, n_tokens, 2048), like the flan_t5_xl_embeddings.npy members of the "
            + "enriched shards). The negative branch is the folder's uncond_embedding.npy. Output: PNGs and the latents "
            + "as .npy. Exported Shapes models take prompts through their own text encoder.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "A checkpoint file, a run directory (its newest checkpoint) or an official folder.") var checkpoint: String
    @Argument(help: "Prompts.") var prompts: [String] = []
    @Option(help: "A text file with one prompt per line (blank lines and lines starting with # are skipped).")
    var promptFile: String?
    @Option(name: .customLong("reward"), help: "Positive target NAME=VALUE in [0, 1] (repeatable).") var rewards: [String] = []
    @Option(name: .customLong("negative-reward"), help: "Negative target NAME=VALUE (repeatable).") var negativeRewards: [String] = []
    @Option(help: "Guidance weight w (default: 1 for Shapes checkpoints, where the official 7 over-drives small models; official folders: sampler_defaults.guidance_scale, else 7).")
    var guidance: Double?
    @Option(help: "Euler steps, 1…\(Self.maxSteps) (default: 25; official folders: sampler_defaults.num_steps, else 50).") var steps: Int?
    @Option(help: "Noise seed (random if omitted; always printed and stored in the PNGs).") var seed: UInt64?
    @Option(name: [.short, .customLong("num-images-per-prompt")], help: "Images per prompt (1…\(Self.maxImagesPerPrompt)).") var n = 1
    @Option(help: "Official folders: the prompt's precomputed T5 embedding (.npy).") var textEmbedding: String?
    @Option(help: "Official folders: a variant subfolder (MiroPipeline.from_pretrained(variant=...)).") var variant: String?
    @Option(help: "Official folders: where to write the latents (B, 4, res, res) float32 .npy (default: <out>/<name>.<seed>.latents.npy).")
    var saveLatents: String?
    @Flag(help: "Official folders: do not write the approximate latent preview PNGs.") var noPreview = false
    @Option(help: ArgumentHelp("Official folders: the FLAN-T5-XL folder (config.json, weights, tokenizer; default: $MIRO_TEXT_ENCODER, "
            + "text_encoder/ beside the checkpoint, then the Hugging Face cache of config.json's text_encoder_repo)."))
    var textEncoder: String?
    @Option(help: ArgumentHelp("Official folders: the SDXL VAE (a diffusers folder or one .safetensors file; default: $MIRO_VAE, vae/ "
            + "beside the checkpoint, then the Hugging Face cache of config.json's vae_repo)."))
    var vae: String?
    @Option(help: ArgumentHelp("Official folders: the TAESDXL folder for --decoder taesd (default: $MIRO_TAESD, taesd/ beside the "
            + "checkpoint, then the Hugging Face cache of madebyollin/taesdxl)."))
    var taesd: String?
    @Option(help: ArgumentHelp("Official folders: vae (the SDXL VAE, as MiroPipeline), taesd (fast, approximate) or preview (linear, "
            + "no weights). Default: vae when one is found, else the labelled preview."))
    var decoder: String?
    @Option(help: "Negative-branch text: same (the paper's pure reward contrast) or empty (MiroPipeline's choice).")
    var negativeText = "same"
    @Option(help: "First guided step (earlier steps run conditional-only).") var guidanceStart = 0
    @Option(help: "Last guided step (inclusive).") var guidanceEnd: Int?
    @Option(help: "Test-time scaling: draw N candidates per image (1…\(Self.maxBestOf)) and keep the best by --select-by.") var bestOf = 1
    @Option(help: ArgumentHelp("Reward used by --best-of: a Shapes reward for training checkpoints (default alignment_score); "
                               + "for official folders one of miro annotate's rewards (aesthetic_score, pick_a_score_score, ...).",
                               valueName: "reward"))
    var selectBy: String?
    @OptionGroup var rewardModel: RewardModelOptions
    @Flag(help: "Also write all images as one grid PNG.") var grid = false
    @Flag(help: "Use the raw training weights instead of the EMA weights.") var rawWeights = false
    @Option(help: "Output directory (created when missing).") var out = "samples"

    /// An official folder rather than a training checkpoint.
    var isOfficialFolder: Bool { ReleaseFolder.isFolder(URL(fileURLWithPath: checkpoint)) }

    /// Bounds of the count flags; the images of one call (prompts × -n) and the candidates drawn for them
    /// (× --best-of) are bounded too, so that no job list or seed offset can overflow.
    static let maxSteps = 10_000, maxImagesPerPrompt = 10_000, maxBestOf = 1_000
    static let maxImages = 100_000, maxCandidates = 10_000_000

    func validate() throws {
        try PathCheck.checkpoint(checkpoint)
        try FlagCheck.range(steps, 1...Self.maxSteps, "--steps")
        try FlagCheck.range(n, 1...Self.maxImagesPerPrompt, "-n")
        try FlagCheck.range(bestOf, 1...Self.maxBestOf, "--best-of")
        try FlagCheck.range(guidanceStart, 0...Self.maxSteps, "--guidance-start")
        try FlagCheck.range(guidanceEnd, guidanceStart...Self.maxSteps, "--guidance-end", unit: " (from --guidance-start)")
        if let guidance { try FlagCheck.usage { try SamplingChecks.guidance(guidance, option: "--guidance") } }
        guard ShapesPipeline.NegativeText(rawValue: negativeText) != nil else {
            throw ValidationError("--negative-text must be 'empty' or 'same'")
        }
        try FlagCheck.usage {
            _ = try RewardTargets.parse(rewards, option: "--reward")
            _ = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
        }
        // --out takes every image (and an official folder's latents unless --save-latents names their file).
        if !(isOfficialFolder && saveLatents != nil && noPreview) { try PathCheck.writable(out, "--out", as: .directory) }
        if let saveLatents { try PathCheck.writable(saveLatents, "--save-latents", as: .file) }
        var promptCount = prompts.count
        if let promptFile { promptCount += try FlagCheck.usage { try PromptFile.read(promptFile) }.count }
        try FlagCheck.product([max(promptCount, 1), n], atMost: Self.maxImages, "images (prompts × -n)")
        try FlagCheck.product([max(promptCount, 1), n, bestOf], atMost: Self.maxCandidates, "candidates (prompts × -n × --best-of)")
        if isOfficialFolder { return try validateRelease() }
        if textEmbedding != nil || variant != nil || saveLatents != nil || textEncoder != nil || vae != nil || taesd != nil
            || decoder != nil {
            throw ValidationError("--text-embedding, --variant, --save-latents, --text-encoder, --vae, --taesd and --decoder "
                                  + "apply to official folders "
                                  + "(config.json + model.safetensors); \(checkpoint) is not one")
        }
        guard !prompts.isEmpty || promptFile != nil else { throw ValidationError("give prompts as arguments or --prompt-file") }
    }

    func run() throws {
        if isOfficialFolder { return try runRelease() }
        let logger = global.makeLogger("miro.sample")
        Engine.useDefaultThreads()
        var all = prompts
        if let promptFile { all += try PromptFile.read(promptFile) }
        let seed = self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let t0 = Date()
        let pipeline = try ShapesPipeline(checkpoint: URL(fileURLWithPath: checkpoint), ema: !rawWeights)
        logger.info("loaded \(checkpoint) (step \(pipeline.step)) in \(String(format: "%.1f", Date().timeIntervalSince(t0)))s")

        var settings = ShapesPipeline.Settings()
        settings.steps = steps ?? 25
        settings.guidance = guidance ?? 1
        settings.rewardTargets = try RewardTargets.parse(rewards, option: "--reward")
        settings.negativeRewardTargets = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
        settings.negativeText = ShapesPipeline.NegativeText(rawValue: negativeText) ?? .empty
        settings.guidanceStartStep = guidanceStart
        settings.guidanceEndStep = guidanceEnd
        settings.seed = seed
        try pipeline.validate(settings.rewardTargets, option: "--reward")
        try pipeline.validate(settings.negativeRewardTargets, option: "--negative-reward")
        let selectBy = self.selectBy ?? "alignment_score"
        if bestOf > 1, !pipeline.rewardKeys.contains(selectBy) && !ShapesRewards.keys.contains(selectBy) {
            throw ValidationError("--select-by '\(selectBy)' is not a reward; valid: \(ShapesRewards.keys.joined(separator: ", "))")
        }
        let full = pipeline.rewardKeys.map { k in "\(k)=\(settings.rewardTargets[k] ?? 1)" }.joined(separator: " ")
        let negFull = pipeline.rewardKeys.map { k in "\(k)=\(settings.negativeRewardTargets[k] ?? 0)" }.joined(separator: " ")
        print("seed \(seed) | steps \(settings.steps) | guidance \(settings.guidance) ((1+w)·c⁺ − w·c⁻) | rewards \(full) | negative \(negFull) | negative text \(negativeText)")

        let jobs = all.flatMap { p in (0..<n).map { (prompt: p, index: $0) } }
        let bar = ProgressBar("sampling", total: jobs.count * bestOf)
        let reward = ShapesPipeline.reward(named: selectBy)
        var images: [RGBImage] = []  // kept for --grid only
        var done = 0
        for (j, job) in jobs.enumerated() {
            var s = settings
            s.seed = seed &+ UInt64(j) &* UInt64(bestOf)  // j × best-of ≤ maxCandidates (validate)
            let (image, imageSeed) = try pipeline.bestOf(job.prompt, settings: s, count: bestOf, selectBy: reward) {
                done += 1
                bar.update(done)
            }
            if grid { images.append(image) }
            try save(image, prompt: job.prompt, index: job.index, seed: imageSeed, settings: settings, step: pipeline.step)
        }
        bar.finish(suffix: "in \(formatDuration(Date().timeIntervalSince(t0)))")
        if grid {
            let url = try OutputFiles.unique(in: URL(fileURLWithPath: out), base: "grid.\(seed)", ext: "png")
            try PNG.write(try ImageGrid.tile(images, columns: n, margin: 2, scale: 4), to: url)
            print("grid \(url.path)")
        }
    }

    private func save(_ image: RGBImage, prompt: String, index: Int, seed: UInt64, settings: ShapesPipeline.Settings, step: Int) throws {
        let url = try OutputFiles.unique(in: URL(fileURLWithPath: out), base: "\(OutputFiles.slug(prompt)).\(index).\(seed)", ext: "png")
        let metadata = GenerationMetadata(
            prompt: prompt, steps: settings.steps, guidance: settings.guidance, seed: seed, width: image.width,
            height: image.height, model: checkpoint, modelStep: step, rewardTargets: settings.rewardTargets,
            negativeRewardTargets: settings.negativeRewardTargets, negativeText: settings.negativeText.rawValue,
            version: Miro.version)
        let miro = try metadata.miroChunk(extra: [
            "guidance_start_step": settings.guidanceStartStep,
            "guidance_end_step": settings.guidanceEndStep.map { $0 as Any } ?? NSNull(), "best_of": bestOf, "select_by": selectBy,
        ])
        try PNG.write(image, to: url, text: [metadata.parameters, miro])
        print("saved \(url.path)")
    }
}

