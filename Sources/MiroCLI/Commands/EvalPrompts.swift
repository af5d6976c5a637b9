import ArgumentParser
import Foundation
import Logging
import MiroEngine
import MiroEval
import MiroFormats
import MiroImage
import MiroPipeline

/// `miro eval --checkpoint OFFICIAL_FOLDER --prompts FILE --rewards a,b --out DIR`: generate every prompt's images
/// with the text-to-image pipeline (T5 → MIRO → SDXL VAE) into MIRO's generate_geneval layout, then score them with
/// reward models, one at a time (rewards.md §7); `miro eval --score DIR --rewards a,b` scores a folder made here or
/// by MIRO's Python scripts. Both resume: finished prompts and finished rewards are not redone.
extension Eval {
    var promptSetMode: Bool { prompts != nil || score != nil }

    func validatePromptSet() throws {
        guard let rewardList else { throw ValidationError("--prompts / --score need --rewards (known: \(RewardRegistry.names.joined(separator: ", ")))") }
        _ = try FlagCheck.usage { try RewardRegistry.specs(rewardList, files: try rewardModel.locations()) }
        try FlagCheck.range(batchSize, 1...4096, "--batch-size")
        let shapesOnly: [(String, Bool)] = [("--sweep", sweep), ("--denoise", denoise != nil), ("--compare-to", compareTo != nil),
                                            ("--calibrate", calibrate), ("--isolated", isolated)]
        if let (flag, _) = shapesOnly.first(where: \.1) { throw ValidationError("\(flag) belongs to the Shapes suite, not to --prompts / --score") }
        if let score {
            guard prompts == nil, checkpoint == nil else { throw ValidationError("--score scores an existing folder: drop --prompts and --checkpoint") }
            try PathCheck.readableDirectory(score, "--score")
        } else {
            guard let checkpoint else { throw ValidationError("--prompts needs --checkpoint (an official folder)") }
            guard let out else { throw ValidationError("--prompts needs --out DIR (the images, rewards.jsonl and the summary go there)") }
            try PathCheck.readableDirectory(checkpoint, "--checkpoint")
            try PathCheck.writable(out, "--out", as: .directory)
            try FlagCheck.usage {
                _ = try PromptSet.load(URL(fileURLWithPath: prompts ?? ""))
                _ = try RewardTargets.parse(rewards, option: "--reward")
                _ = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
            }
        }
        if let json { try PathCheck.writable(json, "--json", as: .file) }
    }

    func runPromptSet() throws {
        let logger = global.makeLogger("miro.eval")
        threadOptions.apply()
        let folder: GenerationFolder
        if let score {
            folder = GenerationFolder(root: URL(fileURLWithPath: score))
        } else {
            folder = GenerationFolder(root: URL(fileURLWithPath: out ?? "."))
            try generate(into: folder, logger: logger)
        }
        let specs = try RewardRegistry.specs(rewardList ?? "", files: try rewardModel.locations(), batchSize: batchSize)
        let scoring = try RewardScoring(folder: folder, batchSize: batchSize) { url in
            try ImageDecoder.decode(contentsOf: url.path).rgbImage
        }
        let bars = PhaseBars()
        let report = try scoring.run(specs.map { spec in RewardScoring.Scorer(name: spec.name) { try spec.make() } }) { name, done, total in
            bars.update(phase: name, done: done, total: total)
        }
        bars.finish()
        print("\(report.images) images of \(report.prompts) prompts in \(folder.root.path); mean ± standard error over images:")
        for line in report.table { print(line) }
        if !report.unreadable.isEmpty {
            print("\(report.unreadable.count) image(s) could not be read (no score): \(report.unreadable.prefix(3).joined(separator: "; "))")
        }
        print("wrote \(scoring.resultsURL.path) and \(scoring.summaryURL.path)")
        if let json {
            try AtomicFile.write(Data((report.json.dumps(indent: 2) + "\n").utf8), to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }

    /// The images: MiroPipeline's defaults (50 steps, guidance 7) unless --eval-steps / --eval-guidance; prompt i
    /// draws its noise from --eval-seed + i; the SDXL VAE decodes (rewards on previews would mean nothing).
    private func generate(into generation: GenerationFolder, logger: Logger) throws {
        guard let checkpoint, let prompts else { return }
        let promptSet = try PromptSet.load(URL(fileURLWithPath: prompts))
        let folder = try ReleaseFolder(contentsOf: URL(fileURLWithPath: checkpoint), logger: logger)
        let pipeline = ReleasePipeline(folder: folder)
        var settings = pipeline.settings()
        settings.steps = evaluation.evalSteps ?? settings.steps
        settings.guidance = evaluation.evalGuidance ?? settings.guidance
        settings.rewardTargets = try RewardTargets.parse(rewards, option: "--reward")
        settings.negativeRewardTargets = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
        settings.numImagesPerPrompt = evaluation.perPrompt
        try pipeline.validate(settings.rewardTargets, option: "--reward")
        try pipeline.validate(settings.negativeRewardTargets, option: "--negative-reward")
        let locator = ComponentLocator()
        let encoder = try T5PromptEncoder(folder: try locator.locate(.textEncoder, given: textEncoder, checkpoint: folder.directory,
                                                                     repo: folder.config.textEncoderRepo ?? "google/flan-t5-xl"))
        let decoder = try VAELatentDecoder(url: try locator.locate(.vae, given: vae, checkpoint: folder.directory,
                                                                   repo: folder.config.vaeRepo ?? "stabilityai/sdxl-vae"))
        let targets = pipeline.rewardKeys.map { "\($0)=\(settings.rewardTargets[$0] ?? 1)" }.joined(separator: " ")
        print("generating \(promptSet.entries.count) prompts × \(settings.numImagesPerPrompt) from \(prompts) | steps \(settings.steps) | "
              + "guidance \(settings.guidance) | seed \(evaluation.evalSeed) + prompt index | rewards \(targets)")
        let hparams = PythonJSON.object([
            (key: "checkpoint", value: .string(folder.directory.path)), (key: "prompts", value: .string(promptSet.source)),
            (key: "n_samples", value: .int(settings.numImagesPerPrompt)), (key: "steps", value: .int(settings.steps)),
            (key: "cfg", value: .float(settings.guidance)), (key: "seed", value: .string(String(evaluation.evalSeed))),
            (key: "reward_targets", value: .object(settings.rewardTargets.sorted { $0.key < $1.key }.map { (key: $0.key, value: .float($0.value)) })),
            (key: "negative_reward_targets", value: .object(settings.negativeRewardTargets.sorted { $0.key < $1.key }.map { (key: $0.key, value: .float($0.value)) })),
            (key: "text_encoder", value: .string(encoder.name)), (key: "vae", value: .string(decoder.name)),
        ])
        let bar = ProgressBar("generating", total: promptSet.entries.count, unit: "prompts")
        let result = try PromptSetGeneration(folder: generation, perPrompt: settings.numImagesPerPrompt, hparams: hparams)
            .run(promptSet, generate: { index, prompt in
                var s = settings
                s.seed = evaluation.evalSeed &+ UInt64(index)
                let out = try pipeline.generate(prompt: prompt, encoder: encoder, decoder: decoder, settings: s)
                if out.truncated { logger.warning("prompt \(index) cut to max_text_len \(pipeline.maxTextLength) tokens, as MiroPipeline does") }
                return try out.images.enumerated().map { k, image in
                    let metadata = GenerationMetadata(
                        prompt: prompt, steps: s.steps, guidance: s.guidance, seed: s.seed, batchIndex: k, width: image.width,
                        height: image.height, model: folder.directory.path, rewardTargets: s.rewardTargets,
                        negativeRewardTargets: s.negativeRewardTargets, negativeText: "uncond_embedding.npy", version: Miro.version)
                    return try PNG.encode(bytes: image.bytes, width: image.width, height: image.height, alpha: false,
                                          text: [metadata.parameters])
                }
            }, progress: { done, _ in bar.update(done) })
        bar.finish()
        print("generated \(result.generated) prompt(s); \(result.skipped) were already complete")
    }
}
