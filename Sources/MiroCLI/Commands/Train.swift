import ArgumentParser
import Foundation
import Logging
import MiroData
import MiroEngine
import MiroIO
import MiroModels
import MiroNN
import MiroOptim
import MiroPipeline
import MiroRewards
import MiroShapes
import MiroTraining

/// `miro train`: trains a MIRO model on the built-in Shapes world or on enriched webdataset shards,
/// with logs, grids and checkpoints.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a reward-conditioned model on the built-in Shapes world or on enriched webdataset shards.",
        discussion: "Writes run.json, metrics.jsonl, samples/step-N.png and checkpoints/step-N.safetensors into --run. "
            + "Ctrl-C (or SIGTERM, SIGHUP) saves a checkpoint and exits; --resume continues exactly where the last "
            + "checkpoint stopped (mid-epoch for shards), with the run's own settings: only --steps, --log-every, "
            + "--sample-every, --save-every, --keep-last, --minutes, --threads and --batch-splits may change (the last two "
            + "change float rounding only). With --data, presets keep their latent geometry (4×32×32 SDXL latents; "
            + "`--preset miro` is the released architecture) and the text width comes from the data.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var shards: ShardOptions
    @Option(name: .customLong("run"), help: "Run directory.") var runDirectory = "runs/shapes-tiny"
    @Flag(help: "Continue from the newest checkpoint in --run.") var resume = false
    @Flag(help: "Replace the run already in --run (its checkpoints, metrics, grids and run.json) with a new one.")
    var overwrite = false
    @Option(help: "Stop (with a checkpoint) after this many minutes.") var minutes: Double?
    @Option(help: "Log every N steps.") var logEvery = 25
    @Option(help: "Write a sample grid every N steps (0: never).") var sampleEvery = 500
    @Option(help: "Checkpoint every N steps.") var saveEvery = 500
    @Option(help: "Keep only the newest K checkpoints.") var keepLast = 3
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var batchSplitOptions: BatchSplitOptions
    @Option(help: ArgumentHelp("Profile the engine's operators over N steps, from the 20th step of this session; writes "
                               + "profile/ops.txt (self and total time per operator) and profile/trace.json (Perfetto, "
                               + "chrome://tracing) into --run.", valueName: "n"))
    var profileOps: Int?
    @Flag(help: "With --profile-ops, one row per operator and input sizes.") var profileShapes = false

    func validate() throws {
        try PathCheck.writable(runDirectory, "--run", as: .directory)
        try FlagCheck.range(keepLast, 1...10_000, "--keep-last")
        try FlagCheck.range(logEvery, 1...TrainingOptions.maxSteps, "--log-every")
        try FlagCheck.range(saveEvery, 1...TrainingOptions.maxSteps, "--save-every")
        try FlagCheck.range(sampleEvery, 0...TrainingOptions.maxSteps, "--sample-every")
        if let minutes, !(minutes > 0 && minutes.isFinite) { throw ValidationError("--minutes must be a positive number, got \(minutes)") }
        try FlagCheck.range(profileOps, 1...10_000, "--profile-ops")
        if profileShapes && profileOps == nil { throw ValidationError("--profile-shapes needs --profile-ops") }
        if resume && overwrite { throw ValidationError("--resume continues the run in --run and --overwrite replaces it; choose one") }
    }

    func run() throws {
        let logger = global.makeLogger("miro.train")
        ThreadOptions.apply(threadOptions.threads)
        let seed = training.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        var config = try training.runConfig(seed: seed)
        if !shards.paths.isEmpty {
            config.dataset.name = .shards
            config.dataset.shards = try shards.settings()
            config.textEncoder.name = .precomputed
            config.network.coherenceKeys = shards.rewardKeys
        } else if let subset = shards.rewards {
            // A specialist on some of the Shapes rewards (the paper's single-reward models).
            config.network.coherenceKeys = ShardOptions.rewardList(subset)
            try ShapesTrainingSet.checkRewardKeys(config.network.coherenceKeys)
        }
        config.train.logEvery = logEvery
        config.train.sampleEvery = sampleEvery
        config.train.saveEvery = saveEvery
        config.train.keepLast = keepLast
        let run = URL(fileURLWithPath: runDirectory)
        let given = GivenFlags.from()
        var overrides = ResumeOverrides()
        if resume, let (stored, _) = try Trainer.resumedConfig(runDirectory: run, overrides: overrides) {
            let conflicts = ResumeCheck.conflicts(requested: config, stored: stored, given: given)
            guard conflicts.isEmpty else { throw ResumeCheck.error(conflicts, run: runDirectory) }
            func ifGiven<T>(_ flag: String, _ value: T) -> T? { given.contains(flag) ? value : nil }
            overrides = ResumeOverrides(steps: ifGiven("--steps", training.steps), logEvery: ifGiven("--log-every", logEvery),
                                        sampleEvery: ifGiven("--sample-every", sampleEvery), saveEvery: ifGiven("--save-every", saveEvery),
                                        keepLast: ifGiven("--keep-last", keepLast))
            let changes = overrides.changes(from: stored)
            if !changes.isEmpty { logger.info("resume changes \(changes.joined(separator: ", "))") }
        } else {
            logger.info("seed \(seed) | preset \(training.preset) | \(training.steps) steps × batch \(training.batchSize) | run \(runDirectory)")
        }
        let trainer = try TrainingSession.start(config: config, run: run, resume: resume, overrides: overrides,
                                                overwrite: overwrite, logger: logger)
        if resume {
            let t = trainer.config.train
            logger.info("seed \(t.seed) | preset \(t.preset) | step \(trainer.step) of \(t.steps) × batch \(t.batchSize) | run \(runDirectory)")
        }
        trainer.trainingStep.batchSplits = batchSplitOptions.value
        logger.info("engine: \(Trainer.engineSummary(batchSplits: trainer.trainingStep.batchSplits))")
        if let profileOps {
            // from the 20th step: the first ones allocate what later steps reuse
            trainer.opProfile = Trainer.OpProfileRequest(start: trainer.step + 19, steps: profileOps,
                                                         directory: run.appendingPathComponent("profile"), recordShapes: profileShapes)
        }
        try TrainingSession.loop(trainer, minutes: minutes, logger: logger)
    }
}

extension TrainingSession {
    /// The loop with Ctrl-C / SIGTERM / SIGHUP and a time budget, and the closing log lines. A stop by a signal
    /// exits with 128 + the signal once the checkpoint is written, unless `exitOnSignal` is false (the demo goes
    /// on to sample and evaluate what it has).
    @discardableResult
    static func loop(_ trainer: Trainer, minutes: Double?, pauseAt: Int? = nil, logger: Logger,
                     exitOnSignal: Bool = true) throws -> Stop {
        Interrupt.install()
        let start = Date()
        let firstStep = trainer.step
        let stop = try loop(trainer, minutes: minutes, pauseAt: pauseAt, interrupted: { Interrupt.requested }, logger: logger)
        switch stop {
        case .interrupted: logger.info("stopped by \(Interrupt.signalName) at step \(trainer.step); resume with --resume")
        case .timeBudget: logger.info("time budget reached at step \(trainer.step)")
        case .finished: break
        case .paused: return stop  // the caller continues this run: no closing lines yet
        }
        let trained = trainer.step - firstStep
        let range = firstStep > 0 ? " (steps \(firstStep + 1)–\(trainer.step))" : ""
        logger.info("trained \(trained) steps\(range) in \(formatDuration(Date().timeIntervalSince(start)))")
        if stop == .interrupted && exitOnSignal { throw ExitCode(Interrupt.exitStatus) }
        return stop
    }
}
