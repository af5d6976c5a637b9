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
    @Option(help: "Optimizer steps (1…\(Self.maxSteps)).") var steps = 1500
    @Option(help: "Batch size (1…\(Self.maxBatchSize)).") var batchSize = 32
    @Option(help: "Optimizer: lamb (official) or adamw.") var optimizer = OptimizerKind.lamb
    @Option(help: "Peak learning rate.") var lr = 2e-3
    @Option(help: "Linear warm-up steps, 0…--steps (default: 100, or --steps when fewer).") var warmup: Int?
    @Option(help: "EMA decay.") var emaDecay = 0.995
    @Option(help: "Shapes world samples to generate and train on (--batch-size…\(Self.maxDatasetSize)).") var datasetSize = 8000
    @Option(help: "Dataset seed.") var datasetSeed: UInt64 = 0
    @Option(help: "Training seed (initialisation, noise, data order). Random if omitted; always printed and stored.")
    var seed: UInt64?
    @Option(help: "Reward dropout probability (official release: 0).") var rewardDropout = 0.0
    @Option(help: "Reward dropout strategy: none, binomial, uniform.") var rewardDropoutStrategy = RewardDropoutStrategy.binomial
    @Flag(help: "Train the baseline without reward information (constant reward inputs).") var unconditional = false
    @Option(help: ArgumentHelp("Arithmetic: fp32, or bf16-mixed (forward passes in bfloat16 under autocast; float32 "
                               + "weights, norms and loss).")) var precision = Precision.fp32

    /// Bounds of the size flags: far above any CPU run, and low enough that nothing sized by them overflows
    /// (the Shapes set holds `--dataset-size` images and text embeddings in memory).
    static let maxSteps = 100_000_000, maxBatchSize = 65_536, maxDatasetSize = 200_000

    /// `--warmup`, with its default: 100 steps, never more than `--steps`.
    var warmupSteps: Int { warmup ?? min(100, steps) }

    func validate() throws {
        try FlagCheck.range(steps, 1...Self.maxSteps, "--steps")
        try FlagCheck.range(batchSize, 1...Self.maxBatchSize, "--batch-size")
        try FlagCheck.range(datasetSize, batchSize...Self.maxDatasetSize, "--dataset-size", unit: " (at least the batch size)")
        try FlagCheck.range(warmup, 0...steps, "--warmup", unit: " (at most --steps)")
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard (0..<1).contains(emaDecay) else { throw ValidationError("--ema-decay must be in [0, 1)") }
        guard (0...1).contains(rewardDropout) else { throw ValidationError("--reward-dropout must be in [0, 1]") }
        guard ["tiny", "small", "miro"].contains(preset) else { throw ValidationError("--preset must be tiny, small or miro") }
        _ = try networkOverride()
    }

    /// `--network` as JSON text (read from the file unless it starts with "{"), its values checked key by key.
    func networkOverride() throws -> String? {
        guard let network else { return nil }
        let text: String
        if network.trimmingCharacters(in: .whitespaces).hasPrefix("{") { text = network } else {
            guard !network.isEmpty, let data = FileManager.default.contents(atPath: network),
                  let contents = String(data: data, encoding: .utf8) else {
                throw ValidationError("--network \(network): not a JSON object and not a readable UTF-8 file")
            }
            text = contents
        }
        try Self.checkNetworkValues(text, preset: RunConfig.preset(preset, rewardKeys: ShapesRewards.keys, labelDim: RunConfig().textEncoder.width))
        return text
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
        c.train.warmupSteps = warmupSteps
        c.train.emaDecay = emaDecay
        c.train.seed = resolvedSeed
        c.train.rewardDropout = rewardDropout
        c.train.rewardDropoutStrategy = rewardDropoutStrategy
        c.train.unconditional = unconditional
        c.train.precision = precision
        return c
    }

    /// The largest number a `--network` key may hold: sizes beyond it cannot be allocated anyway.
    static let maxNetworkValue = 1 << 20

    /// Names the key of a `--network` object whose value cannot be one of that key's values (a size such as
    /// 1e20 or 12.5 that is no integer, a string for a number, anything above `maxNetworkValue`), where decoding
    /// the whole object would only say the JSON is "not valid". Unknown keys and the configuration's own rules
    /// are left to `MIROConfig.overriding(json:source:)`.
    static func checkNetworkValues(_ text: String, preset: MIROConfig) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw ValidationError("--network: not a JSON object of network keys, e.g. {\"data_dim\": 128}")
        }
        guard let base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(preset)) as? [String: Any] else { return }
        for key in object.keys.sorted() where base[key] != nil {
            let value = object[key]!, preset = base[key]!  // keys of both
            if let number = value as? NSNumber, !isBoolean(number), abs(number.doubleValue) > Double(maxNetworkValue) {
                throw ValidationError("--network \(key): \(number) is out of range (network values are at most \(maxNetworkValue))")
            }
            var merged = base
            merged[key] = value
            guard (try? JSONDecoder().decode(MIROConfig.self, from: JSONSerialization.data(withJSONObject: merged))) != nil else {
                let example = (preset as? NSNumber).flatMap { isBoolean($0) ? "\($0.boolValue)" : nil } ?? "\(preset)"
                throw ValidationError("--network \(key): \(value) is not a valid value (expected \(kind(of: preset)), e.g. \(example))")
            }
        }
    }

    /// What JSONSerialization gives for `true`/`false` (on Linux an NSNumber whose type is `char`).
    private static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    private static func kind(of value: Any) -> String {
        switch value {
        case is String: "a string"
        case is [Any]: "a list"
        case let n as NSNumber where isBoolean(n): "true or false"
        case let n as NSNumber where ["d", "f"].contains(String(cString: n.objCType)): "a number"
        case is NSNumber: "a whole number"
        default: "a value of the preset's kind"
        }
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
    @Option(help: "Reader threads (1…256).") var workers = 2
    @Option(help: "Sample shuffle buffer (0: none; at most 1000000, and capped at two epochs of the data).") var shuffleBuffer = 256

    var rewardKeys: [String] { Self.rewardList(rewards) }

    /// `--rewards a,b,c` as names (blanks trimmed); the seven rewards of the release when omitted.
    static func rewardList(_ text: String?) -> [String] {
        text.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? MIROConfig.releasedRewardKeys
    }

    func validate() throws {
        guard (0...1).contains(syntheticProb) else { throw ValidationError("--synthetic-prob must be in [0, 1]") }
        try FlagCheck.range(workers, 1...256, "--workers")
        try FlagCheck.range(shuffleBuffer, 0...1_000_000, "--shuffle-buffer")
        try FlagCheck.range(minImageSize, 0...1_000_000, "--min-image-size")
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
extension Precision: ExpressibleByArgument {}
