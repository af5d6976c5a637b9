// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.4–§2.5, §4.2): `_selective_decode`,
// `_passes_filter`, `_apply_synthetic_selection` and `__getitem__` of `TextWIDSDataset`.
import Foundation
import MiroFormats
import MiroRewards

/// Where a sample came from: enough to read it again by random access (a resumed shuffle buffer).
public struct SampleRef: Sendable, Codable, Equatable {
    /// Epoch in which the sample was read (it seeds the synthetic-swap decision).
    public var epoch: Int
    /// Index of the shard in the loader's shard list.
    public var shard: Int
    /// Index of the sample in the shard (`ShardIndex.samples`).
    public var index: Int
    /// The sample key, checked when the sample is read back.
    public var key: String
}

/// A validated sample whose arrays are still raw little-endian bytes (decoded into floats only when a batch is
/// assembled). Every check that can reject a sample has already passed: decoding cannot fail.
struct RawSample: Sendable {
    var ref: SampleRef
    var vaeMean: NPYPayload
    var vaeStd: NPYPayload
    /// The chosen caption embedding, (tokens, D).
    var text: NPYPayload
    /// Conditioning value per configured reward (NaN where missing).
    var rewards: [Float]
    /// Whether the synthetic caption (embedding and scores) was used.
    var synthetic: Bool

    var textTokens: Int { text.shape[0] }
}

/// A decoded sample (one row of a batch before padding).
public struct EnrichedSample: Sendable, Equatable {
    public var ref: SampleRef
    /// VAE posterior mean and std, `latentShape`, C order.
    public var vaeMean: [Float]
    public var vaeStd: [Float]
    /// The caption embedding, `textTokens × textDim`, unpadded.
    public var text: [Float]
    public var textTokens: Int
    public var textDim: Int
    /// Conditioning value per configured reward (`RewardBins` value, NaN where the score is missing).
    public var rewards: [Float]
    /// Whether the synthetic caption's embedding (and, with `.correctedKeys`, scores) was used.
    public var usedSyntheticCaption: Bool

    init(_ raw: RawSample) {
        ref = raw.ref
        vaeMean = raw.vaeMean.floats()
        vaeStd = raw.vaeStd.floats()
        text = raw.text.floats()
        textTokens = raw.text.shape[0]
        textDim = raw.text.shape.count > 1 ? raw.text.shape[1] : 0
        rewards = raw.rewards
        usedSyntheticCaption = raw.synthetic
    }
}

/// The synthetic-swap decision: a pure function of (seed, epoch, shard, key), so it is the same whichever thread
/// reads the sample and whenever, and a resumed run recomputes it. (Officially it is the worker process's global
/// `random.random()`, which depends on the order each worker happens to read samples in.)
public enum SyntheticSwap {
    /// A uniform number in [0, 1) for the sample; the swap happens when it is below the probability.
    public static func uniform(seed: UInt64, epoch: Int, shard: Int, key: String) -> Double {
        var h = SplitMix64.mix(seed ^ 0x5EED_5A3D_C0DE_0001)
        h = SplitMix64.mix(h ^ UInt64(bitPattern: Int64(epoch)))
        h = SplitMix64.mix(h ^ (UInt64(bitPattern: Int64(shard)) &* 0x9E37_79B9_7F4A_7C15))
        h = SplitMix64.mix(h ^ FNV1a.hash(key))
        return Double(h >> 11) * 0x1p-53
    }

    public static func decide(probability p: Double, seed: UInt64, epoch: Int, shard: Int, key: String) -> Bool {
        p > 0 && uniform(seed: seed, epoch: epoch, shard: shard, key: key) < p
    }
}

/// Validates and reads enriched samples. Stateless and `Sendable`: reader threads share one.
///
/// The skip decision uses only structural checks — member complete, JSON parses, `.npy` header and size valid,
/// shapes right, filter fields — never the float values, and the checks run in the official order:
/// 1. every needed member present must be complete and decode (`_selective_decode` decodes the JSON and every
///    needed `.npy` before anything else; the synthetic embedding is needed only when `syntheticProb > 0`);
/// 2. the size / score filter (`_passes_filter`) on the *original* metadata;
/// 3. image and caption presence;
/// 4. the synthetic swap, then the required VAE / text members and their shapes;
/// 5. the reward values.
///
/// Deviations, all for samples the official loader would crash on or retry forever: a non-numeric or `null`
/// score gives NaN (officially `torch.tensor(None)` raises and the sample is replaced); a VAE array of another
/// shape is skipped (officially it breaks the batch collation). Failed samples are skipped rather than
/// replaced by a random sample of the same shard (the official retry draws from the global `random`).
struct SampleDecoder: Sendable {
    let config: EnrichedSampleConfig
    let bins: RewardBins?
    let seed: UInt64
    /// The resolved text width (nil only for a stand-alone reader without a configured D).
    let textDim: Int?

    enum Outcome {
        case sample(RawSample)
        case skipped(SampleSkip)
    }

    func load(archive: TarArchive, sample: ShardSample, shard: Int, index: Int, epoch: Int) -> Outcome {
        let key = sample.key
        func skip(_ reason: SkipReason, _ detail: String) -> Outcome {
            .skipped(SampleSkip(reason: reason, shard: archive.name, key: key, detail: detail))
        }
        let members = sample.members
        let p = config.syntheticProb
        var npySuffixes = [config.vaeMeanSuffix, config.vaeStdSuffix, config.textSuffix]
        if p > 0 { npySuffixes.append(config.syntheticTextSuffix) }

        // 1. Needed members present must be complete and decodable.
        for suffix in [config.jsonSuffix] + npySuffixes {
            if let m = members[suffix], !m.isComplete {
                return skip(.truncatedMember, "member '\(m.name)' has \(m.available) of \(m.size) bytes (truncated archive)")
            }
        }
        var metadata: [String: PythonJSON] = [:]
        if let m = members[config.jsonSuffix] {
            let value: PythonJSON
            do { value = try PythonJSON.parse(try archive.read(m)) } catch let e as PythonJSONError {
                return skip(.malformedJSON, "member '\(m.name)': \(e)")
            } catch {
                return skip(.truncatedMember, "member '\(m.name)': \(error)")
            }
            // `metadata.get(...)` on a list or string raises in the official filter.
            guard let o = value.object else { return skip(.malformedJSON, "member '\(m.name)' is not a JSON object") }
            metadata = o
        }
        var headers: [String: NPYMemberHeader] = [:]
        for suffix in npySuffixes {
            guard let m = members[suffix] else { continue }
            do { headers[suffix] = try readHeader(archive, m) } catch let e as NPYFormatProblem {
                return skip(.badNPY, "member '\(m.name)': \(e.message)")
            } catch {
                return skip(.truncatedMember, "member '\(m.name)': \(error)")
            }
        }

        // 2. Filter on the original metadata.
        switch Self.filter(metadata, config: config) {
        case .pass: break
        case .filtered(let reason, let detail): return skip(reason, detail)
        case .bad(let detail): return skip(.badMetadata, detail)
        }

        // 3. Image and caption presence.
        if config.requireImageAndCaption {
            guard EnrichedSampleConfig.imageSuffixes.contains(where: { members[$0] != nil }) else {
                return skip(.missingMember, "no image member (jpg, jpeg, png or webp)")
            }
            guard members["txt"] != nil else { return skip(.missingMember, "no txt caption member") }
        }

        // 4. Swap, required members, shapes.
        let synthetic = headers[config.syntheticTextSuffix] != nil && headers[config.textSuffix] != nil
            && SyntheticSwap.decide(probability: p, seed: seed, epoch: epoch, shard: shard, key: key)
        for suffix in [config.vaeMeanSuffix, config.vaeStdSuffix, config.textSuffix] where headers[suffix] == nil {
            return skip(.missingMember, "no '\(suffix)' member")
        }
        for suffix in [config.vaeMeanSuffix, config.vaeStdSuffix] where headers[suffix]!.shape != config.latentShape {
            return skip(.wrongShape, "'\(suffix)' has shape \(headers[suffix]!.shape), expected \(config.latentShape)")
        }
        for suffix in [config.textSuffix, config.syntheticTextSuffix] {
            guard let h = headers[suffix] else { continue }
            guard h.shape.count == 2, textDim == nil || h.shape[1] == textDim else {
                return skip(.wrongShape, "'\(suffix)' has shape \(h.shape), expected (tokens, \(textDim.map(String.init) ?? "D"))")
            }
        }
        let textSuffix = synthetic ? config.syntheticTextSuffix : config.textSuffix

        // 5. Rewards.
        if synthetic && config.syntheticScores == .correctedKeys {
            for name in config.rewardNames {
                // Same guard as the official swap (both keys present), with the keys the shards contain.
                if let s = metadata["synthetic_" + name], metadata[name] != nil { metadata[name] = s }
            }
        }
        let rewards: [Float] = config.rewardNames.map { name in
            guard let x = metadata[name]?.number else { return .nan }
            return bins?.conditioningValue(x, reward: name) ?? Float(x)
        }

        do {
            return .sample(RawSample(
                ref: SampleRef(epoch: epoch, shard: shard, index: index, key: key),
                vaeMean: try payload(archive, members[config.vaeMeanSuffix]!, headers[config.vaeMeanSuffix]!),
                vaeStd: try payload(archive, members[config.vaeStdSuffix]!, headers[config.vaeStdSuffix]!),
                text: try payload(archive, members[textSuffix]!, headers[textSuffix]!),
                rewards: rewards, synthetic: synthetic))
        } catch {
            return skip(.truncatedMember, "\(error)")  // the file changed under us; headers were complete
        }
    }

    // MARK: - Pieces

    private func readHeader(_ archive: TarArchive, _ m: TarMember) throws -> NPYMemberHeader {
        let size = Int(m.size)
        let probe = try archive.read(m, range: 0..<Int64(min(size, NPYMemberHeader.probeLength)))
        do {
            return try NPYMemberHeader.parse(probe, memberSize: size)
        } catch let more as NPYNeedMore {
            return try NPYMemberHeader.parse(try archive.read(m, range: 0..<Int64(more.total)), memberSize: size)
        }
    }

    private func payload(_ archive: TarArchive, _ m: TarMember, _ h: NPYMemberHeader) throws -> NPYPayload {
        let start = Int64(h.dataOffset)
        let bytes = try archive.read(m, range: start..<(start + Int64(h.dataByteCount)))
        return NPYPayload(itemSize: h.itemSize, shape: h.shape, bytes: bytes)
    }

    enum FilterResult {
        case pass
        case filtered(SkipReason, String)
        case bad(String)
    }

    /// `_passes_filter`: empty metadata, or a missing / null width or height, passes; otherwise
    /// `width >= min and height >= min and clip_score >= thr and aesthetic_score >= thr`, short-circuiting left
    /// to right, with absent scores read as 0. A comparison Python cannot make (a string, `None`) raises there;
    /// here it is `badMetadata`.
    static func filter(_ metadata: [String: PythonJSON], config: EnrichedSampleConfig) -> FilterResult {
        if metadata.isEmpty { return .pass }
        func present(_ k: String) -> PythonJSON? {
            guard let v = metadata[k], v != .null else { return nil }
            return v
        }
        guard let width = present("width"), let height = present("height") else { return .pass }
        let minSize = Double(config.minImageSize)
        for (name, v) in [("width", width), ("height", height)] {
            guard let x = v.number else { return .bad("'\(name)' is not a number") }
            if !(x >= minSize) {
                return .filtered(.belowMinSize, "\(name) \(PythonFloatRepr.string(x)) < \(config.minImageSize)")
            }
        }
        for (name, threshold) in [("clip_score", config.clipFilterThreshold), ("aesthetic_score", config.aestheticThreshold)] {
            let v = metadata[name] ?? .int(0)
            guard let x = v.number else { return .bad("'\(name)' is not a number") }
            if !(x >= threshold) {
                return .filtered(.belowScoreThreshold, "\(name) \(PythonFloatRepr.string(x)) < \(PythonFloatRepr.string(threshold))")
            }
        }
        return .pass
    }
}

/// Random access to the enriched samples of one shard: decode sample i, or learn why it is skipped.
/// For tools and tests; the loader uses the same decoder.
public final class EnrichedShardReader: Sendable {
    public let archive: TarArchive
    public let index: ShardIndex
    /// Position of this shard in a loader's shard list (it seeds the synthetic swap).
    public let shardNumber: Int
    private let decoder: SampleDecoder

    /// Opens and indexes `url`. `bins` nil passes raw scores through (`bin_coherence: false`).
    public init(url: URL, config: EnrichedSampleConfig, bins: RewardBins?, seed: UInt64 = 0, shardNumber: Int = 0) throws {
        try config.validate()
        archive = try TarArchive(url: url)
        index = ShardIndex(archive: archive)
        self.shardNumber = shardNumber
        decoder = SampleDecoder(config: config, bins: bins, seed: seed, textDim: config.textDim)
    }

    /// Number of samples (distinct keys).
    public var count: Int { index.count }
    public var keys: [String] { index.samples.map(\.key) }

    /// Sample `i` decoded, or the reason it is skipped. `epoch` seeds the synthetic swap.
    public func sample(_ i: Int, epoch: Int = 0) -> Result<EnrichedSample, SampleSkip> {
        switch decoder.load(archive: archive, sample: index.samples[i], shard: shardNumber, index: i, epoch: epoch) {
        case .sample(let raw): return .success(EnrichedSample(raw))
        case .skipped(let s): return .failure(s)
        }
    }
}
