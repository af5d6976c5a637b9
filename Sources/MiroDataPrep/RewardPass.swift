// Port of data/preprocess_data.py (nicolas-dufour/miro @547003a): `stage_rewards` / `_compute_reward_scores`
// (and `stage_vqa`), one reward at a time, with per-shard results instead of the per-tar CSV.
import Foundation
import Logging
import MiroFormats
import MiroImage
import MiroRewards

/// One reward's scores for one shard: key → (original caption score, synthetic caption score), and the samples
/// that were skipped. Stored as `<work>/scores/<shard>.<reward>.json`.
struct ShardScores {
    var reward: String
    var scores: [(key: String, original: Float, synthetic: Float)] = []
    var skipped: [SkippedSample] = []

    func json(shard: String) -> PythonJSON {
        .object([
            ("shard", .string(shard)), ("reward", .string(reward)),
            ("scores", .array(scores.map { .array([.string($0.key), .float(Double($0.original)), .float(Double($0.synthetic))]) })),
            ("skipped", .array(skipped.map { .array([.string($0.key), .string($0.reason.rawValue), .string($0.detail)]) })),
        ])
    }

    static func read(_ url: URL, reward: String) throws -> ShardScores {
        func bad(_ why: String) -> DataPrepError {
            .output(path: url.path, reason: "unreadable scores (\(why)); delete it and its marker in done/ to recompute")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw bad("missing") }
        guard let root = try? PythonJSON.parse([UInt8](data)), root["reward"]?.string == reward,
              let scores = root["scores"]?.array, let skipped = root["skipped"]?.array else { throw bad("not a scores file of \(reward)") }
        var out = ShardScores(reward: reward)
        for row in scores {
            guard let a = row.array, a.count == 3, let key = a[0].string, let o = a[1].double, let s = a[2].double else { throw bad("bad row") }
            out.scores.append((key, Float(o), Float(s)))
        }
        for row in skipped {
            guard let a = row.array, a.count == 3, let key = a[0].string, let r = a[1].string.flatMap(PrepSkipReason.init(rawValue:)),
                  let detail = a[2].string else { throw bad("bad skipped row") }
            out.skipped.append(SkippedSample(key: key, reason: r, detail: detail))
        }
        return out
    }
}

/// Scores every unfinished shard with each reward in turn, loading one model at a time.
struct RewardPass {
    let shards: [InputShard]
    let rewards: [RewardSpec]
    let batchSize: Int
    let decoder: ImageDecoding
    /// `--synthetic-captions`: the TSV that replaces the JSON's synthetic captions.
    let table: SyntheticCaptionTable?
    let folder: OutputFolder
    let logger: Logger
    let progress: ((PrepProgress) -> Void)?

    static func unit(shard: String, reward: String) -> String { "\(shard).\(reward).scores" }
    func scoresURL(shard: String, reward: String) -> URL { folder.scores.appendingPathComponent("\(shard).\(reward).json") }

    /// Runs the pass; returns how many (shard, reward) results were computed now (the rest were already done).
    @discardableResult
    func run() throws -> Int {
        var computed = 0
        for reward in rewards {
            let todo = shards.filter { !folder.isDone(Self.unit(shard: $0.name, reward: reward.name)) }
            if todo.isEmpty {
                logger.info("\(reward.name): every shard already scored")
                continue
            }
            logger.info("\(reward.name): loading the model (\(todo.count) of \(shards.count) shards to score)")
            let model: any RewardModel
            do { model = try reward.make() } catch {
                throw DataPrepError.input(path: reward.name, reason: "cannot load the reward model (\(error))")
            }
            let total = todo.reduce(0) { $0 + $1.sampleCount }
            let start = Date()
            var done = 0
            for shard in todo {
                let result = try score(shard, reward: reward, model: model) { n in
                    done += n
                    progress?(PrepProgress(phase: reward.name, done: done, total: total, elapsed: Date().timeIntervalSince(start)))
                }
                try folder.write(Data((result.json(shard: shard.name).dumps() + "\n").utf8),
                                 to: scoresURL(shard: shard.name, reward: reward.name))
                try folder.markDone(Self.unit(shard: shard.name, reward: reward.name),
                                    .object([("scored", .int(result.scores.count)), ("skipped", .int(result.skipped.count))]))
                computed += 1
                logger.info("\(reward.name): \(shard.name) scored", metadata: ["samples": "\(result.scores.count)", "skipped": "\(result.skipped.count)"])
            }
        }
        return computed
    }

    /// One shard with one model, in batches of `batchSize` in shard order (`wds.batched(partial=True)`).
    func score(_ shard: InputShard, reward: RewardSpec, model: any RewardModel, advanced: (Int) -> Void) throws -> ShardScores {
        var result = ShardScores(reward: reward.name)
        var pending: [(key: String, image: RGBImage, captions: SampleCaptions)] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            let images = pending.map(\.image)
            let originals = pending.map(\.captions.original)
            let synthetics = reward.syntheticCaption == .imageOnly ? originals : pending.map { $0.captions.synthetic(reward.syntheticCaption) }
            let original: [Float], synthetic: [Float]
            if synthetics == originals {
                // the same inputs give the same scores: one pass (image-only rewards; data without synthetic captions)
                original = try model.score(images: images, captions: originals)
                synthetic = original
            } else if let shared = model as? any CaptionSetsRewardModel {
                // both captions against one image pass (the vision tower is most of the work)
                let both = try shared.score(images: images, captionSets: [originals, synthetics])
                (original, synthetic) = (both[0], both[1])
            } else {
                original = try model.score(images: images, captions: originals)
                synthetic = try model.score(images: images, captions: synthetics)
            }
            guard original.count == pending.count, synthetic.count == pending.count else {
                throw DataPrepError.input(path: reward.name, reason: "the model returned \(original.count) and \(synthetic.count) scores for \(pending.count) images")
            }
            for (i, p) in pending.enumerated() { result.scores.append((p.key, original[i], synthetic[i])) }
            advanced(pending.count)
            pending.removeAll(keepingCapacity: true)
        }
        try InputShards.forEachSample(shard) { raw in
            switch Self.decode(raw, decoder: decoder, table: table) {
            case .failure(let skip):
                result.skipped.append(skip)
                logger.warning("skipping sample", metadata: ["shard": "\(shard.name)", "key": "\(raw.key)", "reason": "\(skip.reason.rawValue): \(skip.detail)"])
                advanced(1)
            case .success(let (sample, image)):
                pending.append((raw.key, image, sample.captions))
                if pending.count == batchSize { try flush() }
            }
        }
        try flush()
        return result
    }

    /// The checks of `CheckedSample.check`, then the image decoded.
    static func decode(_ raw: RawSample, decoder: ImageDecoding, table: SyntheticCaptionTable?) -> Result<(CheckedSample, RGBImage), SkippedSample> {
        switch CheckedSample.check(raw, table: table) {
        case .failure(let skip): return .failure(skip)
        case .success(let sample):
            do {
                let image = try decoder.decode(sample.imageBytes, "\(raw.key).\(sample.imageSuffix)")
                guard image.width > 0, image.height > 0 else {
                    return .failure(SkippedSample(key: raw.key, reason: .undecodableImage, detail: "the image is empty"))
                }
                return .success((sample, image))
            } catch {
                return .failure(SkippedSample(key: raw.key, reason: .undecodableImage, detail: "\(error)"))
            }
        }
    }

    /// Every reward's scores of `shard`, by key, and the union of the samples they skipped.
    func load(shard: String) throws -> (scores: [String: [(original: Float, synthetic: Float)]], skipped: [String: SkippedSample]) {
        var byKey: [String: [(original: Float, synthetic: Float)]] = [:]
        var skipped: [String: SkippedSample] = [:]
        for reward in rewards {
            let r = try ShardScores.read(scoresURL(shard: shard, reward: reward.name), reward: reward.name)
            for row in r.scores { byKey[row.key, default: []].append((row.original, row.synthetic)) }
            for s in r.skipped where skipped[s.key] == nil { skipped[s.key] = s }
        }
        return (byKey, skipped)
    }

    /// The JSON keys a sample gains: `<name>` and `synthetic_<name>` per reward, and the two synthetic captions
    /// (stage `rewards` stores them in its CSV, and stage `vae` merges them), in `rewards` order.
    func additions(_ values: [(original: Float, synthetic: Float)], captions: SampleCaptions) -> [(key: String, value: PythonJSON)] {
        var out: [(key: String, value: PythonJSON)] = []
        for (reward, v) in zip(rewards, values) {
            out.append((reward.name, .float(Double(v.original))))
            out.append(("synthetic_" + reward.name, .float(Double(v.synthetic))))
        }
        if !rewards.isEmpty {
            out.append(("synthetic_caption", .string(captions.long)))
            out.append(("short_synthetic_caption", .string(captions.short)))
        }
        return out
    }
}
