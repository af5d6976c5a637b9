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

/// Options shared by `train`, `demo` and `experiment`: the data and the optimisation.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Model preset: tiny (CPU demo), small, miro.") var preset = "tiny"
    @Option(help: ArgumentHelp("Network keys replacing the preset's: a JSON object in config.json's spelling, inline or "
                               + "in a file, e.g. '{\"data_dim\": 128, \"num_blocks\": 3}'.", valueName: "json-or-file"))
    var network: String?
    @Option(help: "Optimizer steps.") var steps = 1500
    @Option(help: "Batch size.") var batchSize = 32
    @Option(help: "Optimizer: lamb (official) or adamw.") var optimizer = OptimizerKind.lamb
    @Option(help: "Peak learning rate.") var lr = 2e-3
    @Option(help: "Linear warm-up steps.") var warmup = 100
    @Option(help: "EMA decay.") var emaDecay = 0.995
    @Option(help: "Shapes world samples to generate and train on.") var datasetSize = 8000
    @Option(help: "Dataset seed.") var datasetSeed: UInt64 = 0
    @Option(help: "Training seed (initialisation, noise, data order). Random if omitted; always printed and stored.")
    var seed: UInt64?
    @Option(help: "Reward dropout probability (official release: 0).") var rewardDropout = 0.0
    @Option(help: "Reward dropout strategy: none, binomial, uniform.") var rewardDropoutStrategy = RewardDropoutStrategy.binomial
    @Flag(help: "Train the baseline without reward information (constant reward inputs).") var unconditional = false

    func validate() throws {
        guard steps >= 1, batchSize >= 1, datasetSize >= batchSize else {
            throw ValidationError("--steps and --batch-size must be ≥ 1, and --dataset-size at least the batch size")
        }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard (0..<1).contains(emaDecay) else { throw ValidationError("--ema-decay must be in [0, 1)") }
        guard (0...1).contains(rewardDropout) else { throw ValidationError("--reward-dropout must be in [0, 1]") }
        guard ["tiny", "small", "miro"].contains(preset) else { throw ValidationError("--preset must be tiny, small or miro") }
    }

    /// `--network` as JSON text (read from the file unless it starts with "{").
    func networkOverride() throws -> String? {
        guard let network else { return nil }
        if network.trimmingCharacters(in: .whitespaces).hasPrefix("{") { return network }
        do { return try String(contentsOfFile: network, encoding: .utf8) } catch {
            throw ValidationError("--network \(network): not a JSON object and not a readable file (\(error.localizedDescription))")
        }
    }

    func runConfig(seed resolvedSeed: UInt64) throws -> RunConfig {
        var c = RunConfig()
        c.dataset.count = datasetSize
        c.dataset.seed = datasetSeed
        c.train.preset = preset
        c.train.networkOverride = try networkOverride()
        c.network = try c.train.network(from: RunConfig.preset(preset, rewardKeys: ShapesRewards.keys, labelDim: c.textEncoder.width))
        c.train.steps = steps
        c.train.batchSize = batchSize
        c.train.optimizer = optimizer
        c.train.learningRate = lr
        c.train.warmupSteps = warmup
        c.train.emaDecay = emaDecay
        c.train.seed = resolvedSeed
        c.train.rewardDropout = rewardDropout
        c.train.rewardDropoutStrategy = rewardDropoutStrategy
        c.train.unconditional = unconditional
        return c
    }
}

/// Where `miro train --data` reads enriched webdataset shards (method §2.4–§2.5).
struct ShardOptions: ParsableArguments {
    @Option(name: .customLong("data"), parsing: .upToNextOption,
            help: ArgumentHelp("Enriched webdataset shards: .tar files or directories (with a wids-index.json, built "
                + "when missing). Without --data, train on the built-in Shapes world."))
    var paths: [String] = []
    @Option(help: "Bins cache (default: the `miro bins` file name in the first data directory).") var bins: String?
    @Option(help: ArgumentHelp("Comma-separated reward keys to condition on (default: the seven of the release; on the "
                               + "Shapes world a subset of its four, e.g. quality_score for a single-reward model).")) var rewards: String?
    @Option(help: "Probability of the synthetic caption (embedding and scores); release: 0.5.") var syntheticProb = 0.5
    @Option(help: "Skip samples smaller than this (JSON width/height).") var minImageSize = 256
    @Option(help: "Reader threads.") var workers = 2
    @Option(help: "Sample shuffle buffer (0: none).") var shuffleBuffer = 256

    var rewardKeys: [String] { Self.rewardList(rewards) }

    /// `--rewards a,b,c` as names (blanks trimmed); the seven rewards of the release when omitted.
    static func rewardList(_ text: String?) -> [String] {
        text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? MIROConfig.releasedRewardKeys
    }

    func validate() throws {
        guard (0...1).contains(syntheticProb) else { throw ValidationError("--synthetic-prob must be in [0, 1]") }
        guard workers >= 1, shuffleBuffer >= 0, minImageSize >= 0 else {
            throw ValidationError("--workers must be ≥ 1, --shuffle-buffer and --min-image-size ≥ 0")
        }
    }

    /// The shard settings, with the bins cache resolved to an existing file.
    func settings() throws -> RunConfig.ShardSettings {
        var s = try RunConfig.ShardSettings.resolving(paths: paths, binsCache: bins, rewardKeys: rewardKeys,
                                                      syntheticProbability: syntheticProb)
        s.minImageSize = minImageSize
        s.workers = workers
        s.shuffleBuffer = shuffleBuffer
        return s
    }
}

/// `miro train`: trains a MIRO model on the built-in Shapes world or on enriched webdataset shards,
/// with logs, grids and checkpoints.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a reward-conditioned model on the built-in Shapes world or on enriched webdataset shards.",
        discussion: "Writes run.json, metrics.jsonl, samples/step-N.png and checkpoints/step-N.safetensors into --run. "
            + "Ctrl-C saves a checkpoint and exits; --resume continues exactly where the last checkpoint stopped "
            + "(mid-epoch for shards). With --data, presets keep their latent geometry (4×32×32 SDXL latents; "
            + "`--preset miro` is the released architecture) and the text width comes from the data.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var shards: ShardOptions
    @Option(name: .customLong("run"), help: "Run directory.") var runDirectory = "runs/shapes-tiny"
    @Flag(help: "Continue from the newest checkpoint in --run.") var resume = false
    @Option(help: "Stop (with a checkpoint) after this many minutes.") var minutes: Double?
    @Option(help: "Log every N steps.") var logEvery = 25
    @Option(help: "Write a sample grid every N steps (0: never).") var sampleEvery = 500
    @Option(help: "Checkpoint every N steps.") var saveEvery = 500
    @Option(help: "Keep only the newest K checkpoints.") var keepLast = 3
    @Option(help: "libtorch intra-op threads (default: half the cores, or OMP_NUM_THREADS).") var threads: Int?

    func validate() throws {
        guard keepLast >= 1, logEvery >= 1, saveEvery >= 1, sampleEvery >= 0 else {
            throw ValidationError("--keep-last, --log-every and --save-every must be ≥ 1")
        }
        if let minutes, !(minutes > 0) { throw ValidationError("--minutes must be positive") }
    }

    func run() throws {
        let logger = global.makeLogger("miro.train")
        if let threads { Engine.threads = threads } else { Engine.useDefaultThreads() }
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
        logger.info("seed \(seed) | preset \(training.preset) | \(training.steps) steps × batch \(training.batchSize) | run \(runDirectory)")
        let trainer = try TrainingSession.start(config: config, run: URL(fileURLWithPath: runDirectory), resume: resume, logger: logger)
        try TrainingSession.loop(trainer, minutes: minutes, logger: logger)
    }
}

extension TrainingSession {
    /// The loop with Ctrl-C and a time budget, and the closing log lines.
    static func loop(_ trainer: Trainer, minutes: Double?, logger: Logger) throws {
        Interrupt.install()
        let start = Date()
        switch try loop(trainer, minutes: minutes, interrupted: { Interrupt.requested }, logger: logger) {
        case .interrupted: logger.info("stopped by Ctrl-C at step \(trainer.step); resume with --resume")
        case .timeBudget: logger.info("time budget reached at step \(trainer.step)")
        case .finished: break
        }
        logger.info("trained \(trainer.step) steps in \(formatDuration(Date().timeIntervalSince(start)))")
    }
}

extension OptimizerKind: ExpressibleByArgument {}
extension RewardDropoutStrategy: ExpressibleByArgument {}
