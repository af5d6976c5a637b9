import ArgumentParser
import Foundation
import Logging
import MiroData
import MiroEngine
import MiroEval
import MiroFormats
import MiroModels
import MiroRewards
import MiroTraining

/// `miro bench data`: how fast the enriched-webdataset loader delivers training batches, next to how
/// fast a training step of a preset consumes them, measured in the same process (method §2.5).
struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Time the enriched-webdataset loader against the training step that consumes its batches.",
        discussion: """
            Without --data, writes synthetic enriched shards with the real geometry (float16 VAE mean/std \
            4×32×32, FLAN-T5-XL-wide text embeddings of 20–120 tokens, both captions, 7 scores) into a temporary \
            directory. The loader runs as in training (reader threads, shuffle buffer, collation to 256 tokens, \
            batch recycling); then --compare-preset training steps run on the same batch size and thread count, \
            and the ratio loader/step samples/s is printed (it should be well above 1 for the GPU never to wait \
            on a CPU loader; here both run on the same CPU).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("data"), parsing: .upToNextOption, help: "Shard .tar files or directories (default: synthetic).")
    var paths: [String] = []
    @Option(help: "Batch size.") var batch = 8
    @Option(help: "Loader reader threads.") var workers = 2
    @Option(help: "Timed batches.") var batches = 40
    @Option(help: "Synthetic shards: count, samples per shard, text width.") var shards = 4
    @Option var samplesPerShard = 64
    @Option var textDim = 2048
    @Option(help: "Preset whose training step is timed for comparison (none: skip).") var comparePreset = "small"
    @Option(help: "Timed training steps.") var steps = 3
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        try FlagCheck.range(batch, 1...65_536, "--batch")
        try FlagCheck.range(workers, 1...256, "--workers")
        try FlagCheck.range(batches, 1...1_000_000, "--batches")
        try FlagCheck.range(shards, 1...10_000, "--shards")
        try FlagCheck.range(samplesPerShard, 1...100_000, "--samples-per-shard")
        try FlagCheck.range(textDim, 1...65_536, "--text-dim")
        try FlagCheck.range(steps, 1...10_000, "--steps")
        // The synthetic shards hold up to 120 tokens of text per sample in float16.
        _ = try FlagCheck.product([shards, samplesPerShard, textDim, 120 * 2], atMost: 64 << 30, "synthetic shard bytes")
        guard ["none", "tiny", "small", "miro"].contains(comparePreset) else {
            throw ValidationError("--compare-preset must be none, tiny, small or miro")
        }
    }

    func run() throws {
        let logger = global.makeLogger("miro.bench")
        ThreadOptions.apply(threadOptions.threads)
        var temporary: URL? = nil
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        var roots = paths
        if roots.isEmpty {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("miro-bench-data-\(UUID().uuidString)")
            temporary = dir
            try SyntheticShards(count: shards, samplesPerShard: samplesPerShard, textDim: textDim).write(to: dir)
            roots = [dir.path]
        }
        let keys = MIROConfig.releasedRewardKeys
        let resolved = try ShardTrainingData.resolve(roots, logger: logger)
        let values = Dictionary(uniqueKeysWithValues: keys.map { ($0, (0..<200).map { Double($0) / 200 }) })
        let bins = RewardBins.fit(values: values)  // any bins: the loader's cost does not depend on them
        var config = ShardLoaderConfiguration()
        config.batchSize = batch
        config.numWorkers = workers
        config.sample.textDim = nil
        config.sample.syntheticProb = 0.5
        let loader = try ShardLoader(shards: resolved, bins: bins, configuration: config, logger: logger)
        defer { loader.close() }
        // Warm-up: fill the shuffle buffer and the page cache.
        for _ in 0..<3 { loader.recycle(try loader.next()) }
        let start = Date()
        for _ in 0..<batches {
            let b = try loader.next()
            // As in training: wrap the arrays in tensors (one copy each), then hand them back.
            let text: Tensor = try Tensor(b.text, shape: [b.batchSize, b.maxTextTokens, b.textDim])
            let mean: Tensor = try Tensor(b.vaeMean, shape: [b.batchSize] + b.latentShape)
            let std: Tensor = try Tensor(b.vaeStd, shape: [b.batchSize] + b.latentShape)
            withExtendedLifetime((text, mean, std)) {}
            loader.recycle(b)
        }
        let loaderRate = Double(batches * batch) / Date().timeIntervalSince(start)

        var stepRate: Double? = nil
        if comparePreset != "none", let network = BenchTrain.network(comparePreset) {
            var net = network
            net.labelDim = loader.textDim
            let bench = try TrainStepBenchmark(network: net, geometry: .init(batchSize: batch), logger: logger)
            try bench.runStep()  // warm-up
            var times: [Double] = []
            for _ in 0..<steps { times.append(try bench.runStep().total) }
            stepRate = Double(batch) / times.sorted()[times.count / 2]
        }
        let ratio = stepRate.map { loaderRate / $0 }
        if json {
            var object: [String: Any] = ["loader_samples_per_s": loaderRate, "batch": batch, "workers": workers,
                                         "text_dim": loader.textDim, "compare_preset": comparePreset]
            if let stepRate { object["train_step_samples_per_s"] = stepRate }
            if let ratio { object["ratio"] = ratio }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "loader: %.1f samples/s (batch %d, %d reader threads, text width %d, %d batches)",
                         loaderRate, batch, workers, loader.textDim, batches))
            if let stepRate, let ratio {
                print(String(format: "train step (%@): %.1f samples/s (median of %d)", comparePreset, stepRate, steps))
                print(String(format: "loader / step: %.1f×", ratio))
            }
        }
    }
}

/// Enriched shards with random content and the real geometry, in the official member layout
/// (method §2.4), written as plain ustar archives with a `wids-index.json`.
struct SyntheticShards {
    var count: Int
    var samplesPerShard: Int
    var textDim: Int

    func write(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 0)  // SystemRandomNumberGenerator is a syscall per draw
        var shardlist: [WIDSShard] = []
        for s in 0..<count {
            var members: [(name: String, data: [UInt8])] = []
            func add(_ name: String, _ content: Data) { members.append((name, [UInt8](content))) }
            for i in 0..<samplesPerShard {
                let key = String(format: "%06d%03d", s, i)
                var scores: [String: Double] = ["width": 512, "height": 384]
                for k in MIROConfig.releasedRewardKeys {
                    scores[k] = Double.random(in: 0...1, using: &rng)
                    scores["synthetic_" + k] = Double.random(in: 0...1, using: &rng)
                }
                let json = try JSONSerialization.data(withJSONObject: scores, options: [.sortedKeys])
                add("\(key).json", json)
                add("\(key).txt", Data("a synthetic caption".utf8))
                add("\(key).jpg", Data(count: 2048))  // never decoded; the loader requires an image member
                for name in ["vae_embeddings_mean_256", "vae_embeddings_std_256"] {
                    add("\(key).\(name).npy", try Self.npy(shape: [4, 32, 32], rng: &rng))
                }
                for name in ["flan_t5_xl_embeddings", "synthetic_flan_t5_xl_embeddings"] {
                    add("\(key).\(name).npy", try Self.npy(shape: [Int.random(in: 20...120, using: &rng), textDim], rng: &rng))
                }
            }
            let name = String(format: "%06d.tar", s)
            try TarWriter.archive(members).write(to: dir.appendingPathComponent(name))
            shardlist.append(WIDSShard(url: name, nsamples: samplesPerShard))
        }
        try WIDSIndex(shardlist: shardlist).write(to: dir.appendingPathComponent(WIDSIndex.fileName))
    }

    static func npy(shape: [Int], rng: inout SplitMix64) throws -> Data {
        let n = shape.reduce(1, *)
        var bits = [UInt16](repeating: 0, count: n)
        // Float16 bit patterns of ±0.125…2 (no NaNs or infinities): realistic bytes for the decoder.
        for i in 0..<n { bits[i] = UInt16.random(in: 0x3000...0x3FFF, using: &rng) | (Bool.random(using: &rng) ? 0x8000 : 0) }
        let payload = bits.withUnsafeBytes { Data($0) }
        return try NPYArray(dtype: .f2, shape: shape, data: payload).serialize()
    }
}
