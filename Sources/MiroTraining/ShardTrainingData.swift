// Port of the training-time data path of miro/data/datamodule.py + miro/models/preprocessing.py
// (`PrecomputedSDLatentPreconditioning` with vae_sample and channel-wise normalisation), method §2.5, §5.1.

import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroModels
import MiroPipeline
import MiroRewards

/// Enriched webdataset shards as training data: the `ShardLoader` stream of VAE posteriors, T5
/// embeddings and binned rewards, turned into model inputs.
///
///     x₀ = (μ + σ·ε) · scale + bias,   ε ~ N(0, I) from the trainer's data generator,
///     scale = 0.5 / σ_c, bias = −μ_c · scale   (SDXL channel-wise constants, method §5.1)
///
/// which is `PrecomputedSDLatentPreconditioning(vae_sample=True, channel_wise_normalisation=True)`,
/// the released recipe.
public final class ShardTrainingData: TrainingData {
    public let settings: RunConfig.ShardSettings
    public let shards: [ResolvedShard]
    public let bins: RewardBins
    public let rewardKeys: [String]
    public let batchSize: Int
    /// Width of the stored text embeddings, read from the data.
    public let textDim: Int
    /// `data_preprocessing` of the release: channel-wise SDXL normalisation.
    let latentNormalization: LatentScaleBias
    let logger: Logger

    public var normalization: PixelNormalization? { nil }

    /// Resolves `settings.paths` (tar files, or directories holding a `wids-index.json` — built and
    /// written there when missing) and reads the bins cache.
    public init(settings: RunConfig.ShardSettings, rewardKeys: [String], batchSize: Int, logger: Logger) throws {
        self.settings = settings
        self.rewardKeys = rewardKeys
        self.batchSize = batchSize
        self.logger = logger
        shards = try Self.resolve(settings.paths, logger: logger)
        bins = try RewardBins.readCache(URL(fileURLWithPath: settings.binsCache), expectedRewards: rewardKeys)
        latentNormalization = try LatentScaleBias.official(channelWise: true)
        textDim = try ShardLoader.probeTextDim(shards: shards, sample: Self.sampleConfiguration(settings, rewardKeys))
    }

    /// What a sample holds and how it is filtered and swapped.
    static func sampleConfiguration(_ s: RunConfig.ShardSettings, _ rewardKeys: [String]) -> EnrichedSampleConfig {
        var c = EnrichedSampleConfig()
        c.rewardNames = rewardKeys
        c.syntheticProb = s.syntheticProbability
        c.minImageSize = s.minImageSize
        c.maxTextTokens = s.maxTextTokens
        c.textDim = nil  // taken from the data
        return c
    }

    /// The loader settings of a stream seeded with `seed` (the seed orders the shuffle buffer and the
    /// synthetic-caption draws).
    func loaderConfiguration(seed: UInt64) -> ShardLoaderConfiguration {
        var c = ShardLoaderConfiguration()
        c.sample = Self.sampleConfiguration(settings, rewardKeys)
        c.batchSize = batchSize
        c.numWorkers = settings.workers
        c.shuffleBufferSize = settings.shuffleBuffer
        c.rank = settings.rank
        c.worldSize = settings.worldSize
        c.seed = seed
        return c
    }

    /// Tar files as given; a directory contributes the shards of its `wids-index.json`.
    public static func resolve(_ paths: [String], logger: Logger) throws -> [ResolvedShard] {
        var out: [ResolvedShard] = []
        var unreadable: [String] = []
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw TrainingError.badConfig("no such shard or directory: \(path)")
            }
            if isDirectory.boolValue {
                out += try WIDSIndex.shards(roots: [url], logger: logger)
            } else {
                // As in a directory's index: a tar that cannot be read at all is skipped (0 samples) and logged.
                do {
                    out.append(ResolvedShard(file: url, nsamples: try WIDSIndex.countSamples(in: url)))
                } catch {
                    unreadable.append("\(error)")
                    logger.warning("skipping unreadable shard: \(error)", metadata: ["shard": "\(url.path)"])
                    out.append(ResolvedShard(file: url, nsamples: 0))
                }
            }
        }
        guard !out.isEmpty else { throw TrainingError.badConfig("no shards in \(paths.joined(separator: " "))") }
        guard out.contains(where: { $0.nsamples > 0 }) else {
            let why = unreadable.isEmpty ? "" : ": " + unreadable.prefix(5).joined(separator: "; ")
            throw TrainingError.badConfig("no samples in the \(out.count) shard(s) of \(paths.joined(separator: " "))\(why)")
        }
        if !unreadable.isEmpty {
            logger.warning("skipped \(unreadable.count) unreadable shard(s)", metadata: ["skipped_shards": "\(unreadable.count)"])
        }
        return out
    }

    public func stream(seed: UInt64) throws -> any BatchStream {
        try ShardBatchStream(data: self, seed: seed, cursor: nil)
    }
}

/// The shard loader behind the trainer's `BatchStream` interface.
final class ShardBatchStream: BatchStream {
    let data: ShardTrainingData
    let seed: UInt64
    var loader: ShardLoader

    init(data: ShardTrainingData, seed: UInt64, cursor: WebDatasetCursor?) throws {
        self.data = data
        self.seed = seed
        loader = try Self.open(data, seed: seed, cursor: cursor)
    }

    static func open(_ data: ShardTrainingData, seed: UInt64, cursor: WebDatasetCursor?) throws -> ShardLoader {
        try ShardLoader(shards: data.shards, bins: data.bins, configuration: data.loaderConfiguration(seed: seed),
                        logger: data.logger, resumingFrom: cursor)
    }

    deinit { loader.close() }

    func next(batchSize: Int, unconditional: Bool, generator: Generator) throws -> (x0: Tensor, conditioning: MIROConditioning) {
        guard batchSize == data.batchSize else {
            throw TrainingError.badConfig("the shard stream was opened for batch \(data.batchSize), asked for \(batchSize)")
        }
        // Corrupt samples are logged by the loader (with shard and key) and counted in `counters`.
        let batch = try loader.next()
        let b = batch.batchSize
        let latent = [b] + batch.latentShape
        let mean = try Tensor(batch.vaeMean, shape: latent)
        let std = try Tensor(batch.vaeStd, shape: latent)
        // latents = torch.randn_like(mean) * std + mean; latents * scale + bias
        let sample = try Tensor.randn(latent, generator: generator) * std + mean
        let x0 = try data.latentNormalization.normalize(sample)
        let k = batch.rewardNames.count
        let rewards = unconditional ? try Tensor.ones([b, k]) : try Tensor(batch.rewards, shape: [b, k])
        let conditioning = MIROConditioning(
            text: try Tensor(batch.text, shape: [b, batch.maxTextTokens, batch.textDim]),
            textMask: try Tensor(batch.textMask, shape: [b, batch.maxTextTokens]),
            rewards: rewards)
        // Hands the batch's arrays back for reuse: fresh 100 MB text blocks cost more in page faults than
        // the whole collation (measured ~7× throughput at D = 2048, B = 64).
        loader.recycle(batch)
        return (x0, conditioning)
    }

    var epoch: Int { loader.epoch }

    var counters: [String: Int] { loader.skipped.logCounters }

    func cursorJSON() throws -> String { try loader.cursor.jsonString() }

    func restore(cursorJSON: String) throws {
        let cursor: WebDatasetCursor
        do {
            cursor = try WebDatasetCursor.decode(jsonString: cursorJSON)
        } catch {
            throw TrainingError.badConfig("checkpoint data cursor is not a webdataset cursor: \(error)")
        }
        loader.close()
        loader = try Self.open(data, seed: seed, cursor: cursor)
    }
}

extension RunConfig.ShardSettings {
    /// Settings for `paths` (tar files or directories) with the bins cache resolved to an existing file:
    /// `binsCache`, or the file `miro bins` writes for these rewards and synthetic-caption probability in the
    /// first data directory. Paths are made absolute, so a run finds its data again when resumed from another
    /// directory.
    public static func resolving(paths: [String], binsCache: String?, rewardKeys: [String],
                                 syntheticProbability: Double) throws -> RunConfig.ShardSettings {
        guard let firstPath = paths.first else { throw InputError("no shards given") }
        let binsPath: String
        if let binsCache {
            binsPath = binsCache
        } else {
            let first = URL(fileURLWithPath: firstPath)
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: first.path, isDirectory: &isDirectory)
            let root = isDirectory.boolValue ? first : first.deletingLastPathComponent()
            let name = RewardBins.cacheFileName(rewardNames: rewardKeys, numBins: 64, synthProb: syntheticProbability)
            binsPath = root.appendingPathComponent(name).path
        }
        guard FileManager.default.fileExists(atPath: binsPath) else {
            throw InputError("no bins cache at \(binsPath); build it with `miro bins \(paths.joined(separator: " "))` "
                + "(same --synthetic-prob) or pass --bins FILE")
        }
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        var s = RunConfig.ShardSettings(paths: paths.map(absolute), binsCache: absolute(binsPath))
        s.syntheticProbability = syntheticProbability
        return s
    }
}
