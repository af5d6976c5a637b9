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

extension OptimizerKind: ExpressibleByArgument {}
extension RewardDropoutStrategy: ExpressibleByArgument {}
