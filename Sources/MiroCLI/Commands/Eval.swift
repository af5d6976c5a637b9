import ArgumentParser
import Foundation
import MiroData
import MiroEngine
import MiroEval
import MiroImage
import MiroPipeline
import MiroShapes
import MiroTraining

/// Sampling settings shared by `eval`, `demo` and `experiment`.
struct EvalOptions: ParsableArguments {
    @Option(help: "Euler steps for evaluation samples (1…\(Self.maxSteps); default 20, with --prompts the folder's own 50).")
    var evalSteps: Int?
    @Option(help: "Guidance weight for evaluation samples (0: reward-conditioned sampling without CFG; default 1, with --prompts 7).")
    var evalGuidance: Double?
    @Option(help: "Images per ShapesEval prompt, 1…\(Self.maxPerPrompt) (GenEval uses 4).") var perPrompt = 4
    @Option(help: "Seed of the evaluation noise.") var evalSeed: UInt64 = 2024
    @Option(help: "First guided Euler step of evaluation samples (earlier steps run conditional-only).") var guidanceStart = 0
    @Option(help: "Last guided Euler step, inclusive (default: the last).") var guidanceEnd: Int?

    func settings() -> ShapesPipeline.Settings {
        var s = ShapesPipeline.Settings()
        s.steps = evalSteps ?? 20
        s.guidance = evalGuidance ?? 1.0
        s.seed = evalSeed
        s.guidanceStartStep = guidanceStart
        s.guidanceEndStep = guidanceEnd
        return s
    }

    /// Bounds: an evaluation holds all its images (48 prompts × --per-prompt) in memory at once.
    static let maxSteps = 10_000, maxPerPrompt = ShapesEvaluation.maxPerPrompt

    func validate() throws {
        try FlagCheck.range(evalSteps, 1...Self.maxSteps, "--eval-steps")
        try FlagCheck.range(perPrompt, 1...Self.maxPerPrompt, "--per-prompt")
        if let evalGuidance, !(evalGuidance >= 0 && evalGuidance.isFinite) {
            throw ValidationError("--eval-guidance must be ≥ 0 (got \(evalGuidance))")
        }
        try FlagCheck.range(guidanceStart, 0...Self.maxSteps, "--guidance-start")
        try FlagCheck.range(guidanceEnd, guidanceStart...Self.maxSteps, "--guidance-end", unit: " (from --guidance-start)")
    }
}

/// `miro eval --checkpoint DIR --suite shapes [--json PATH]`, or `miro eval --suite shapes --calibrate` (no model:
/// ShapesEval's ceiling and floors on rendered images), or a prompt set scored with reward models (EvalPrompts.swift).
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint: ShapesEval (GenEval-style, per category) and mean rewards; or calibrate ShapesEval; or generate a prompt set and score it with reward models (--prompts / --score).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "A checkpoint file or a run directory (not with --calibrate).") var checkpoint: String?
    @Option(help: "Benchmark suite (only 'shapes' for now).") var suite = "shapes"
    @Option(help: "Also write the result as JSON here (checked before the evaluation runs): {\"overall\", \"categories\": {...}, \"rewards\": {...}}.")
    var json: String?
    @Option(name: .customLong("reward"), help: "Positive target NAME=VALUE (repeatable; default all 1).") var rewards: [String] = []
    @Option(name: .customLong("negative-reward"), help: ArgumentHelp(
        "Negative target NAME=VALUE (repeatable; default all 0); also the sweep's negative unless --isolated."))
    var negativeRewards: [String] = []
    @Option(help: ArgumentHelp("Compare image by image with an earlier --json of another model (same --per-prompt "
                               + "and --eval-seed): differences with their standard errors.", valueName: "json"))
    var compareTo: String?
    @OptionGroup var evaluation: EvalOptions
    @Flag(help: "Also run the reward-target sweep: each reward's target at 0 / 0.5 / 1, the others at 1.") var sweep = false
    @Option(help: "With --sweep: images per target (the ShapesEval prompts in turn; same noise at every target).")
    var sweepImages = RewardSweep.defaultImages
    @Flag(help: ArgumentHelp("With --sweep: per-reward isolation — the negative branch holds the other rewards at 1 "
                             + "and only the swept one at 0 (default negative: all 0).")) var isolated = false
    @Option(help: ArgumentHelp("Also run the denoising probe and write its sheet here (PNG): fresh Shapes images noised "
                               + "to several γ and the model's one-step x̂₀ of each, the MSE per γ, the patch "
                               + "coupling by distance, position use and how much each conditioning input is used.", valueName: "png"))
    var denoise: String?
    @Flag(help: ArgumentHelp("Calibrate ShapesEval instead of evaluating a model: --per-prompt clean renders of every "
                             + "prompt, the same with their 4×4 patches shuffled, noise and blur, each scored without "
                             + "and with the detection threshold (docs/shapeseval-calibration.md); --eval-seed seeds the "
                             + "images, --json writes the result."))
    var calibrate = false
    @Option(help: ArgumentHelp("Prompt-set evaluation of an official folder (--checkpoint): a prompt file (.jsonl with \"prompt\" "
                               + "as GenEval's metadata, .tsv/.csv with a Prompt column as PartiPrompts, or one prompt per line); "
                               + "--per-prompt images each go to --out in MIRO's generate_geneval layout, then --rewards scores them.",
                               valueName: "file"))
    var prompts: String?
    @Option(help: "With --prompts: the output folder (resumable: finished prompts and rewards are kept).") var out: String?
    @Option(name: .customLong("rewards"), help: ArgumentHelp("With --prompts or --score: reward models to score with, comma-separated "
                                                           + "(annotate's names: aesthetic_score, pick_a_score_score, ...).", valueName: "list"))
    var rewardList: String?
    @Option(help: ArgumentHelp("Score the images of an existing folder in MIRO's generate_geneval layout (NNNNN/metadata.jsonl + "
                               + "NNNNN/samples/*.png|jpg) without generating.", valueName: "dir"))
    var score: String?
    @Option(help: "With --prompts / --score: images per reward-model call (1…4096).") var batchSize = 16
    @Option(help: "With --prompts: the FLAN-T5-XL folder (default as miro sample finds it).") var textEncoder: String?
    @Option(help: "With --prompts: the SDXL VAE folder or file (default as miro sample finds it).") var vae: String?
    @OptionGroup var rewardModel: RewardModelOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if promptSetMode { return try validatePromptSet() }
        guard suite == "shapes" else { throw ValidationError("unknown --suite '\(suite)'; available: shapes") }
        if calibrate {
            // The calibration samples no model: a flag about sampling or about a model would silently do nothing.
            let modelFlags: [(String, Bool)] = [
                ("--checkpoint", checkpoint != nil), ("--reward", !rewards.isEmpty), ("--negative-reward", !negativeRewards.isEmpty),
                ("--compare-to", compareTo != nil), ("--sweep", sweep), ("--isolated", isolated), ("--denoise", denoise != nil),
            ]
            if let (flag, _) = modelFlags.first(where: \.1) {
                throw ValidationError("--calibrate scores rendered images, not a model; drop \(flag)")
            }
            if let json { try PathCheck.writable(json, "--json", as: .file) }
            return
        }
        guard let checkpoint else { throw ValidationError("--checkpoint is required (or --calibrate, which needs no model)") }
        try PathCheck.checkpoint(checkpoint)
        try FlagCheck.usage {
            _ = try RewardTargets.parse(rewards, option: "--reward")
            _ = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
        }
        if isolated && !sweep { throw ValidationError("--isolated applies to --sweep; add --sweep") }
        try FlagCheck.range(sweepImages, 2...RewardSweep.maxImages, "--sweep-images")
        // Every output and input is checked here, so that none fails after the whole evaluation ran.
        if let json { try PathCheck.writable(json, "--json", as: .file) }
        if let denoise { try PathCheck.writable(denoise, "--denoise", as: .file) }
        if let json, let denoise, URL(fileURLWithPath: json).standardizedFileURL == URL(fileURLWithPath: denoise).standardizedFileURL {
            throw ValidationError("--json and --denoise name the same file \(json)")
        }
        if let compareTo {
            try PathCheck.readableFile(compareTo, "--compare-to")
            let reference = try FlagCheck.usage { try ShapesEvaluation.read(URL(fileURLWithPath: compareTo)) }
            let images = try FlagCheck.product([ShapesEval.prompts().count, evaluation.perPrompt], atMost: Int.max, "images")
            guard reference.images == images else {
                throw ValidationError("--compare-to \(compareTo) holds \(reference.images) images, this evaluation makes \(images) "
                                      + "(--per-prompt \(evaluation.perPrompt)); use the --per-prompt it was made with")
            }
        }
    }

    func run() throws {
        let logger = global.makeLogger("miro.eval")
        if calibrate { return try runCalibration() }
        if promptSetMode { return try runPromptSet() }
        guard let checkpoint else { throw ValidationError("--checkpoint is required") }  // validate() ran; kept for safety
        threadOptions.apply()
        let pipeline = try ShapesPipeline(checkpoint: URL(fileURLWithPath: checkpoint))
        var settings = evaluation.settings()
        settings.rewardTargets = try RewardTargets.parse(rewards, option: "--reward")
        settings.negativeRewardTargets = try RewardTargets.parse(negativeRewards, option: "--negative-reward")
        try pipeline.validate(settings.rewardTargets, option: "--reward")
        try pipeline.validate(settings.negativeRewardTargets, option: "--negative-reward")
        let bar = ProgressBar("ShapesEval", total: ShapesEval.prompts().count * evaluation.perPrompt)
        let (result, _) = try ShapesEvaluation.run(pipeline, settings: settings, perPrompt: evaluation.perPrompt) { done, _ in
            bar.update(done)
        }
        bar.finish()
        print(result.table(title: "checkpoint \(checkpoint) (step \(pipeline.step))"))
        if let compareTo {
            let reference = try ShapesEvaluation.read(URL(fileURLWithPath: compareTo))
            print(try EvaluationComparison(result, against: reference).table(name: "this", referenceName: "reference"))
        }
        if let json {
            let url = URL(fileURLWithPath: json)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(try result.json().utf8).write(to: url, options: .atomic)
            print("wrote \(json)")
        }
        if let denoise {
            var quiet = logger  // the probe draws' generation lines are noise here
            quiet.logLevel = .warning
            let probe = try DenoiseProbe.run(pipeline, logger: quiet)
            let url = URL(fileURLWithPath: denoise)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try PNG.write(try ImageGrid.tile(probe.sheet, columns: probe.columns, scale: 3), to: url)
            print(probe.table())
            print(try PatchCoupling.measure(pipeline, logger: quiet).summary)
            print(try PositionUse.measure(pipeline, logger: quiet).summary)
            print(try ConditioningUse.measure(pipeline, logger: quiet).table())
            print("wrote \(denoise) (row 1: clean; then per γ: the noisy input, brightened, and x̂₀)")
        }
        if sweep {
            var sweepSettings = evaluation.settings()
            sweepSettings.negativeRewardTargets = settings.negativeRewardTargets
            print(try RewardSweep.run(pipeline, settings: sweepSettings, targets: [0, 0.5, 1],
                                      images: sweepImages, isolated: isolated).table())
        }
    }

    /// `--calibrate`: ShapesEval's ceiling and floors, printed and optionally written as JSON.
    func runCalibration() throws {
        let calibration = try ShapesEvalCalibration.run(perPrompt: evaluation.perPrompt, seed: evaluation.evalSeed)
        print(calibration.table())
        if let json {
            let url = URL(fileURLWithPath: json)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(try calibration.json().utf8).write(to: url, options: .atomic)
            print("wrote \(json)")
        }
    }
}
