// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.4–§2.5): the `TextWIDSDataset`
// arguments that decide which members are read, which samples are filtered out, and what a sample yields.
import Foundation

/// How the synthetic-caption swap treats the reward scores (method.md §2.5).
public enum SyntheticScoreSwap: String, Sendable, Codable, CaseIterable {
    /// Scores are swapped together with the embedding, reading `synthetic_<name>` (the keys the preprocessing
    /// writes and the offline bins script reads). The default: a synthetic caption gets its own scores.
    case correctedKeys
    /// The official loader as shipped: `_apply_synthetic_selection` looks up `synthetic_{name}_score` and
    /// `{name}_score` (e.g. `synthetic_clip_score_score`), keys no shard contains, so the **original caption's**
    /// scores stay paired with the synthetic embedding. Offered to reproduce that behaviour exactly.
    case officialAsShipped
}

/// What an enriched sample must contain and how it is turned into conditioning (method.md §2.4–§2.5).
/// Defaults are the release recipe (`multi_cad_synth`), except `syntheticProb`, which the official dataset
/// defaults to 0 and the release experiment sets to 0.5.
public struct EnrichedSampleConfig: Sendable, Codable, Equatable {
    /// The 7 rewards in the fixed order of the released model (method.md §4.3).
    public static let officialRewardNames = [
        "clip_score", "aesthetic_score", "image_reward_score", "pick_a_score_score",
        "hpsv2_score", "vqa_score", "sciscore_score",
    ]

    /// Reward keys read from the sample JSON, in batch column order (`coherence_scores`).
    public var rewardNames: [String] = officialRewardNames
    /// `text_embedding_name`: members `{key}.{name}_embeddings.npy` and `{key}.synthetic_{name}_embeddings.npy`.
    public var textEmbeddingName = "flan_t5_xl"
    /// `vae_embedding_name_mean` / `_std`: members `{key}.{name}.npy`.
    public var vaeMeanName = "vae_embeddings_mean_256"
    public var vaeStdName = "vae_embeddings_std_256"
    /// Shape of the VAE mean and std arrays (4 × 32 × 32 for 256-px images).
    public var latentShape = [4, 32, 32]
    /// Width D of the text embeddings (2048 for FLAN-T5-XL). nil: taken from the first sample of the first shard.
    /// A sample with another D is skipped as corrupt; the first sample disagreeing is a configuration error.
    public var textDim: Int? = 2048
    /// Text tokens per sample in a batch: longer embeddings are truncated, shorter ones zero-padded, with a mask
    /// (`dict_collate_and_pad(["flan_t5_xl"], max_length=256)`).
    public var maxTextTokens = 256
    /// `min_image_size`: samples whose JSON `width` or `height` is below it are filtered out.
    public var minImageSize = 256
    /// `clip_filter_threshold` / `aesthetic_threshold` (0 in the release; note that, as officially, a score
    /// below 0 — or NaN — fails even a 0 threshold).
    public var clipFilterThreshold = 0.0
    public var aestheticThreshold = 0.0
    /// Skip samples without an image member (`jpg`/`jpeg`/`png`/`webp`) or a `txt` caption, as the official
    /// loader does even when it returns neither.
    public var requireImageAndCaption = true
    /// `synthetic_embedding_prob`: probability of replacing the caption embedding (and scores) by the synthetic
    /// caption's. The decision is a hash of (seed, epoch, shard, key), so it does not depend on thread timing.
    public var syntheticProb = 0.0
    /// Which score keys the swap uses.
    public var syntheticScores: SyntheticScoreSwap = .correctedKeys

    public init() {}

    /// The release recipe (7 rewards, 50 % synthetic captions, D = 2048, 256 tokens).
    public static var release: EnrichedSampleConfig {
        var c = EnrichedSampleConfig()
        c.syntheticProb = 0.5
        return c
    }

    var jsonSuffix: String { "json" }
    var vaeMeanSuffix: String { vaeMeanName + ".npy" }
    var vaeStdSuffix: String { vaeStdName + ".npy" }
    var textSuffix: String { textEmbeddingName + "_embeddings.npy" }
    var syntheticTextSuffix: String { "synthetic_" + textEmbeddingName + "_embeddings.npy" }
    static let imageSuffixes = ["jpg", "jpeg", "png", "webp"]

    /// Throws `invalidConfiguration` for values no loader can work with.
    public func validate() throws {
        func fail(_ m: String) -> WebDatasetError { .invalidConfiguration(m) }
        guard !latentShape.isEmpty, latentShape.allSatisfy({ $0 > 0 }) else { throw fail("latentShape \(latentShape) must be positive") }
        if let d = textDim, d <= 0 { throw fail("textDim \(d) must be positive") }
        guard maxTextTokens > 0 else { throw fail("maxTextTokens \(maxTextTokens) must be positive") }
        guard (0...1).contains(syntheticProb) else { throw fail("syntheticProb \(syntheticProb) must be in [0, 1]") }
        guard Set(rewardNames).count == rewardNames.count else { throw fail("rewardNames \(rewardNames) repeat a name") }
        guard !textEmbeddingName.isEmpty, !vaeMeanName.isEmpty, !vaeStdName.isEmpty else { throw fail("member names must not be empty") }
    }
}

/// Why a sample was skipped. The first two are *filters* (normal, expected); the rest mean a corrupt or
/// incomplete sample (logged as warnings with shard and key).
public enum SkipReason: String, Sendable, Codable, CaseIterable {
    /// JSON `width` or `height` below `minImageSize`.
    case belowMinSize = "below_min_size"
    /// JSON `clip_score` / `aesthetic_score` below its threshold.
    case belowScoreThreshold = "below_score_threshold"
    /// A required member is absent (VAE mean/std, text embedding, or image/caption when required).
    case missingMember = "missing_member"
    /// A member's data is cut short (truncated archive).
    case truncatedMember = "truncated_member"
    /// The `.json` member is not valid JSON (or not UTF-8).
    case malformedJSON = "malformed_json"
    /// The JSON parses but a field the filter reads has the wrong type (the official filter raises there).
    case badMetadata = "bad_metadata"
    /// An `.npy` member has a bad magic, header, dtype or too few data bytes.
    case badNPY = "bad_npy"
    /// An array has the wrong shape (VAE latents ≠ `latentShape`, text not (n, D)).
    case wrongShape = "wrong_shape"
    /// The index lists more samples for a shard than the shard holds (stale index or truncated shard).
    case missingSample = "missing_sample"
    /// The shard cannot be opened or scanned at all; every planned sample of it counts.
    case unreadableShard = "unreadable_shard"

    /// Filters are expected; everything else is corruption.
    public var isFilter: Bool { self == .belowMinSize || self == .belowScoreThreshold }
}

/// A skipped sample: why, and where.
public struct SampleSkip: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: SkipReason
    public var shard: String
    public var key: String
    public var detail: String

    public var description: String { "shard \(shard), sample '\(printableName(key))': \(reason.rawValue): \(detail)" }
}

/// Counts of skipped samples by reason. Part of the loader cursor: a resumed run continues the counts.
public struct SkipCounters: Sendable, Codable, Equatable {
    /// Count per `SkipReason.rawValue`; reasons never seen are absent.
    public private(set) var counts: [String: Int] = [:]

    public init() {}

    public mutating func add(_ reason: SkipReason, _ n: Int = 1) {
        guard n != 0 else { return }
        counts[reason.rawValue, default: 0] += n
    }

    public mutating func add(_ other: SkipCounters) {
        for (k, v) in other.counts { counts[k, default: 0] += v }
    }

    public func count(_ reason: SkipReason) -> Int { counts[reason.rawValue] ?? 0 }

    /// Samples dropped by the size / score filters.
    public var filtered: Int { SkipReason.allCases.filter(\.isFilter).reduce(0) { $0 + count($1) } }
    /// Corrupt or incomplete samples.
    public var corrupt: Int { SkipReason.allCases.filter { !$0.isFilter }.reduce(0) { $0 + count($1) } }
    public var isEmpty: Bool { counts.isEmpty }

    /// Flat counters for training logs: `skipped_filtered`, `skipped_corrupt` and one `skipped_<reason>` each.
    public var logCounters: [String: Int] {
        var out = ["skipped_filtered": filtered, "skipped_corrupt": corrupt]
        for (k, v) in counts { out["skipped_" + k] = v }
        return out
    }
}
