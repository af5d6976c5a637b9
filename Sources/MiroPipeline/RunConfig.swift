import Foundation
import MiroData
import MiroModels

/// Everything that defines a run, stored as JSON in every checkpoint (`miro.config`) and as
/// `run.json` in the run directory.
public struct RunConfig: Codable, Sendable, Equatable {
    public struct Dataset: Codable, Sendable, Equatable {
        public var name = DatasetKind.shapes
        /// Shapes: samples to generate, and the world's seed.
        public var count = 8000
        public var seed: UInt64 = 0
        /// Shards only (optional so that configurations written before they existed still decode).
        public var shards: ShardSettings? = nil
        public init() {}
    }

    /// Where and how a run reads enriched webdataset shards (method §2.4–§2.5, §4.1).
    public struct ShardSettings: Codable, Sendable, Equatable {
        /// Tar files, in the order given (globs are expanded by the CLI before they get here).
        public var paths: [String]
        /// The bins cache (`coherence_bins_64_bins_…json`, `miro bins` writes it).
        public var binsCache: String
        /// Probability of training on the synthetic caption (embedding and scores); release: 0.5.
        public var syntheticProbability = 0.5
        /// Samples whose JSON width or height is below this are skipped (official: 256).
        public var minImageSize = 256
        /// Text tokens after padding/truncation (official collate: 256).
        public var maxTextTokens = 256
        /// Reader threads and the sample shuffle buffer.
        public var workers = 2
        public var shuffleBuffer = 256
        /// Rank and world size when several processes share the shards.
        public var rank = 0
        public var worldSize = 1

        public init(paths: [String], binsCache: String) {
            self.paths = paths
            self.binsCache = binsCache
        }
    }

    public struct TextEncoder: Codable, Sendable, Equatable {
        public var name = TextEncoderKind.shapes
        public var width = 64
        public var maxTokens = 16
        public init() {}
    }

    public var train = TrainConfig()
    public var network = MIROConfig.tiny
    public var dataset = Dataset()
    public var textEncoder = TextEncoder()
    /// Filled in from the data when the run starts.
    public var normalization: PixelNormalization? = nil

    public init() {}

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Decodes and validates (`validate(source:)`) a stored run configuration: a checkpoint may come from
    /// anywhere, and what decodes here is safe to build, train and sample from.
    public static func decode(_ text: String, source: String) throws -> RunConfig {
        let config: RunConfig
        do {
            config = try JSONDecoder().decode(RunConfig.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw InputError("\(source): cannot read the run configuration: \(ReleaseConfigJSON.describe(error))")
        } catch {
            throw InputError("\(source): cannot read the run configuration: \(error)")
        }
        try config.validate(source: source)
        return config
    }

    /// Checks every value that sizes an allocation, an index or a loop (network sizes, text encoder,
    /// pixel statistics, batch and step counts, probabilities); throws an `InputError` naming `source`
    /// and the key (`textEncoder.width`, `normalization.std`, `network.patch_size`, ...).
    public func validate(source: String) throws {
        func fail(_ key: String, _ m: String) throws -> Never {
            throw InputError("\(source): run configuration key '\(key)' \(m)")
        }
        do {
            try network.validate()
        } catch let error as MIROModelError {
            if case .invalidConfig(let m) = error { throw InputError("\(source): run configuration: network.\(m)") }
            throw InputError("\(source): run configuration 'network': \(error)")
        }
        // The Shapes encoder's table and positions are width × maxTokens floats; its tokens are the network's input.
        let w = textEncoder.width
        if w < 2 || w % 2 != 0 || w > MIROConfig.maximumSize { try fail("textEncoder.width", "must be even and in 2...\(MIROConfig.maximumSize), got \(w)") }
        if textEncoder.name == .shapes && w != network.labelDim {
            try fail("textEncoder.width", "\(w) differs from network.label_dim \(network.labelDim)")
        }
        if !(1...MIROPipelineConfig.maximumTextLength).contains(textEncoder.maxTokens) {
            try fail("textEncoder.maxTokens", "must be in 1...\(MIROPipelineConfig.maximumTextLength), got \(textEncoder.maxTokens)")
        }
        if let n = normalization {
            let c = network.numInputChannels
            if n.mean.count != c { try fail("normalization.mean", "has \(n.mean.count) values; network.num_input_channels is \(c)") }
            if n.std.count != c { try fail("normalization.std", "has \(n.std.count) values; network.num_input_channels is \(c)") }
            if let bad = n.mean.first(where: { !$0.isFinite }) { try fail("normalization.mean", "holds \(bad)") }
            if let bad = n.std.first(where: { !($0.isFinite && $0 > 0) }) { try fail("normalization.std", "must be positive, holds \(bad)") }
            if !(n.sigmaData.isFinite && n.sigmaData > 0) { try fail("normalization.sigmaData", "must be a positive number, got \(n.sigmaData)") }
        }
        if dataset.count < 1 || dataset.count > 1 << 28 { try fail("dataset.count", "must be in 1...\(1 << 28), got \(dataset.count)") }
        if let s = dataset.shards {
            if !(0...1).contains(s.syntheticProbability) { try fail("dataset.shards.syntheticProbability", "must be in [0, 1], got \(s.syntheticProbability)") }
            if s.minImageSize < 0 { try fail("dataset.shards.minImageSize", "must not be negative, got \(s.minImageSize)") }
            if !(1...MIROPipelineConfig.maximumTextLength).contains(s.maxTextTokens) {
                try fail("dataset.shards.maxTextTokens", "must be in 1...\(MIROPipelineConfig.maximumTextLength), got \(s.maxTextTokens)")
            }
            if !(1...256).contains(s.workers) { try fail("dataset.shards.workers", "must be in 1...256, got \(s.workers)") }
            if !(0...1 << 24).contains(s.shuffleBuffer) { try fail("dataset.shards.shuffleBuffer", "must be in 0...\(1 << 24), got \(s.shuffleBuffer)") }
            if s.worldSize < 1 { try fail("dataset.shards.worldSize", "must be at least 1, got \(s.worldSize)") }
            if !(0..<s.worldSize).contains(s.rank) { try fail("dataset.shards.rank", "must be in 0..<\(s.worldSize), got \(s.rank)") }
        }
        try train.validate(source: source)
    }

    /// Model presets by name, for the Shapes world's 32×32 RGB pixels (patch 4: 64 data tokens).
    public static func preset(_ name: String, rewardKeys: [String], labelDim: Int) throws -> MIROConfig {
        var c = try latentPreset(name, rewardKeys: rewardKeys, labelDim: labelDim)
        c.numInputChannels = 3
        c.patchSize = 4
        return c
    }

    /// Model presets by name for SDXL latents (4×32×32), with the presets' own patch sizes — the
    /// `miro` preset is the released architecture.
    public static func latentPreset(_ name: String, rewardKeys: [String], labelDim: Int) throws -> MIROConfig {
        var c: MIROConfig
        switch name {
        case "tiny": c = MIROConfig.tiny(rewardKeys: rewardKeys, inputChannels: 4, labelDim: labelDim)
        case "small": c = MIROConfig.small
        case "miro": c = MIROConfig.miro
        default: throw InputError("unknown preset '\(name)'; choose tiny, small or miro")
        }
        c.coherenceKeys = rewardKeys
        c.labelDim = labelDim
        return c
    }
}

/// Where a run's training data comes from; stored by name in `run.json` and checkpoints.
public enum DatasetKind: String, Codable, Sendable, CaseIterable {
    /// The built-in Shapes world, generated in memory.
    case shapes
    /// Enriched webdataset tars (the official layout).
    case shards
}

/// How a run's captions become text tokens; stored by name in `run.json` and checkpoints.
public enum TextEncoderKind: String, Codable, Sendable, CaseIterable {
    /// The Shapes world's own encoder (`ShapesTextEncoder`).
    case shapes
    /// Embeddings stored in the data (FLAN-T5-XL in the enriched shards).
    case precomputed
}

extension MIROConfig {
    /// This configuration with some keys replaced: `json` is an object of official `network` keys
    /// (config.json's spelling), e.g. `{"data_dim": 128, "num_blocks": 3}`. Unknown keys, values of
    /// the wrong type and sizes the network cannot be built with are errors naming `source`.
    public func overriding(json: String, source: String) throws -> MIROConfig {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)), let overrides = object as? [String: Any] else {
            throw InputError("\(source): expected a JSON object of network keys, e.g. {\"data_dim\": 128}")
        }
        var merged = (try JSONSerialization.jsonObject(with: JSONEncoder().encode(self))) as? [String: Any] ?? [:]
        let unknown = Set(overrides.keys).subtracting(merged.keys)
        guard unknown.isEmpty else {
            throw InputError("\(source): unknown network keys \(unknown.sorted()); valid: \(merged.keys.sorted())")
        }
        merged.merge(overrides) { _, new in new }
        let config: MIROConfig
        do {
            config = try JSONDecoder().decode(MIROConfig.self, from: JSONSerialization.data(withJSONObject: merged))
            try config.validate()
        } catch {
            throw InputError("\(source): \(error)")
        }
        return config
    }
}

extension TrainConfig {
    /// `preset` with `networkOverride` (`--network`) applied; unchanged without one.
    public func network(from preset: MIROConfig) throws -> MIROConfig {
        guard let networkOverride else { return preset }
        return try preset.overriding(json: networkOverride, source: "--network")
    }
}

