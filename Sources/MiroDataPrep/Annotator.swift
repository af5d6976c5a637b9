// Port of data/preprocess_data.py (nicolas-dufour/miro @547003a): stages `rewards` and `vqa` and the JSON merge
// of stage `vae` (rewards.md §2, §4.3), as one resumable command: `miro annotate`.
import Foundation
import Logging
import MiroData
import MiroFormats
import MiroImage

/// What a finished `miro annotate` / `miro prepare` run did; also written as `<command>-summary.json`.
public struct PrepReport: Sendable, Equatable {
    public var shards = 0
    /// Samples read, written, and skipped (by `PrepSkipReason` raw value).
    public var samples = 0
    public var written = 0
    public var skipped: [String: Int] = [:]
    /// The skipped samples (shard, key, reason, detail), in shard order.
    public var skippedSamples: [String] = []
    /// (shard, reward) results and output shards computed by this invocation (the rest were done before).
    public var computedScores = 0
    public var computedShards = 0

    public var skippedCount: Int { skipped.values.reduce(0, +) }

    mutating func add(_ shard: InputShard, written: Int, skips: [SkippedSample]) {
        shards += 1
        samples += shard.sampleCount
        self.written += written
        for s in skips {
            skipped[s.reason.rawValue, default: 0] += 1
            skippedSamples.append("\(shard.name) \(s.key): \(s.reason.rawValue): \(s.detail)")
        }
    }

    /// Writes the summary file into the output folder and warns about skipped samples.
    func writeSummary(command: String, rewards: [String], folder: OutputFolder, name: String, logger: Logger) throws {
        try folder.write(summaryJSON(command: command, rewards: rewards), to: folder.output.appendingPathComponent(name))
        if skippedCount > 0 { logger.warning("skipped \(skippedCount) of \(samples) samples (see \(name))") }
    }

    /// How many skipped samples the summary file names.
    public static let listedSkips = 1000

    /// The summary file: counts and the skipped samples — nothing that depends on timing or on resuming, so an
    /// interrupted run writes the same bytes as an uninterrupted one.
    func summaryJSON(command: String, rewards: [String]) -> Data {
        let json = PythonJSON.object([
            ("command", .string(command)), ("rewards", .array(rewards.map { .string($0) })),
            ("shards", .int(shards)), ("samples", .int(samples)), ("written", .int(written)),
            ("skipped", .object(skipped.keys.sorted().map { ($0, .int(skipped[$0] ?? 0)) })),
            // The first `listedSkips`; the counts above cover all of them.
            ("skipped_samples", .array(skippedSamples.prefix(Self.listedSkips).map { .string($0) })),
        ])
        return Data((json.dumps(indent: 2) + "\n").utf8)
    }
}

/// `miro annotate`: scores image–caption data with reward models and writes shards whose JSON gains the reward
/// keys (`<name>`, `synthetic_<name>`, `synthetic_caption`, `short_synthetic_caption`).
///
/// 1. For each reward in turn (one model in memory), every shard not yet scored with it: batches of
///    `batchSize` decoded images, the original caption and the reward's synthetic caption scored, the shard's
///    results written atomically to the work directory, then its marker.
/// 2. For each shard not yet written: the output shard (same members in the same order, byte-identical, except the
///    `.json`, which gains the keys; a sample without one gets one; skipped samples are left out), atomically,
///    then its marker.
/// 3. The summary.
/// A rerun after a kill skips every unit whose marker exists and redoes the one in flight; since every unit is
/// deterministic, the result equals an uninterrupted run byte for byte.
public final class Annotator {
    public struct Options: Sendable {
        public var rewards: [RewardSpec]
        /// Images per model call (`--batch_size`, 64 officially).
        public var batchSize = 64
        /// Samples per shard for folder inputs.
        public var folderShardSize = 1000
        /// `--synthetic-captions file.tsv`; nil: the captions of each sample's JSON.
        public var syntheticCaptions: SyntheticCaptionTable? = nil

        public init(rewards: [RewardSpec]) { self.rewards = rewards }
    }

    public static let summaryName = "annotate-summary.json"

    let inputs: [URL]
    let output: URL
    let options: Options
    let decoder: ImageDecoding
    let logger: Logger
    let progress: ((PrepProgress) -> Void)?

    public init(inputs: [URL], output: URL, options: Options, decoder: ImageDecoding = .png, logger: Logger,
                progress: ((PrepProgress) -> Void)? = nil) {
        self.inputs = inputs
        self.output = output
        self.options = options
        self.decoder = decoder
        self.logger = logger
        self.progress = progress
    }

    static func validate(_ rewards: [RewardSpec], batchSize: Int, requireRewards: Bool) throws {
        guard batchSize >= 1 else { throw DataPrepError.input(path: "--batch-size", reason: "must be at least 1, got \(batchSize)") }
        if requireRewards, rewards.isEmpty { throw DataPrepError.input(path: "--rewards", reason: "name at least one reward") }
        let names = rewards.map(\.name)
        guard Set(names).count == names.count else { throw DataPrepError.input(path: "--rewards", reason: "a reward is named twice: \(names)") }
        for n in names where n.isEmpty || n.contains("/") || n.hasPrefix(".") || n.hasPrefix("synthetic_") {
            throw DataPrepError.input(path: "--rewards", reason: "'\(n)' is not a usable reward key")
        }
    }

    /// The manifest: everything that decides the output bytes.
    static func manifest(command: String, shards: [InputShard], rewards: [RewardSpec], batchSize: Int, folderShardSize: Int,
                         extra: [(key: String, value: PythonJSON)] = []) -> PythonJSON {
        .object([
            ("command", .string(command)), ("format", .int(1)),
            ("rewards", .array(rewards.map { .array([.string($0.name), .string($0.syntheticCaption.rawValue)]) })),
            ("batch_size", .int(batchSize)), ("shard_size", .int(folderShardSize)),
        ] + extra + [("inputs", InputShards.fingerprint(shards))])
    }

    public func run() throws -> PrepReport {
        try Self.validate(options.rewards, batchSize: options.batchSize, requireRewards: true)
        let shards = try InputShards.plan(inputs, folderShardSize: options.folderShardSize)
        let folder = try OutputFolder.open(
            output, command: "annotate",
            manifest: Self.manifest(command: "annotate", shards: shards, rewards: options.rewards, batchSize: options.batchSize,
                                    folderShardSize: options.folderShardSize,
                                    extra: [("synthetic_captions", .string(options.syntheticCaptions?.identity ?? "json"))]),
            ownNames: Set(shards.map(\.name) + [Self.summaryName]))
        let pass = RewardPass(shards: shards, rewards: options.rewards, batchSize: options.batchSize, decoder: decoder,
                              table: options.syntheticCaptions, folder: folder, logger: logger, progress: progress)
        var report = PrepReport()
        report.computedScores = try pass.run()

        let total = shards.filter { !folder.isWritten($0.name) }.reduce(0) { $0 + $1.sampleCount }
        let start = Date()
        var done = 0
        for shard in shards {
            let unit = shard.name
            let (scores, skipped) = try pass.load(shard: shard.name)
            var written = 0
            var skippedHere: [SkippedSample] = []
            if folder.isWritten(unit) {
                logger.debug("\(shard.name): already written")
            } else {
                let url = output.appendingPathComponent(shard.name)
                do {
                    try AtomicFile.write(to: url) { handle in
                        let writer = TarWriter(handle: handle, name: url.path)
                        try InputShards.forEachSample(shard) { raw in
                            defer {
                                done += 1
                                progress?(PrepProgress(phase: "write", done: done, total: total, elapsed: Date().timeIntervalSince(start)))
                            }
                            if let skip = skipped[raw.key] { skippedHere.append(skip); return }
                            let sample: CheckedSample
                            switch CheckedSample.check(raw, table: options.syntheticCaptions) {
                            case .failure(let skip): skippedHere.append(skip); return
                            case .success(let s): sample = s
                            }
                            let values = scores[raw.key] ?? []
                            guard values.count == options.rewards.count else {
                                throw DataPrepError.output(path: url.path, reason: "sample '\(raw.key)' has \(values.count) of "
                                    + "\(options.rewards.count) reward scores: the input changed since it was scored")
                            }
                            let json = SampleJSON.merged(sample.metadata, adding: pass.additions(values, captions: sample.captions))
                            let jsonBytes = Array(json.dumps().utf8)
                            var members = raw.members.map { ($0.suffix, $0.suffix == "json" ? jsonBytes : $0.data) }
                            if !sample.hasJSON { members.append(("json", jsonBytes)) }
                            for (suffix, data) in members { try writer.add(name: raw.key + "." + suffix, data: data) }
                            written += 1
                        }
                        try writer.finish()
                    }
                } catch let e as DataPrepError {
                    throw e
                } catch {
                    throw DataPrepError.output(path: url.path, reason: "cannot write the shard (\(error))")
                }
                try folder.markDone(unit, .object([("written", .int(written)), ("skipped", .int(skippedHere.count))]))
                report.computedShards += 1
                logger.info("wrote \(shard.name)", metadata: ["samples": "\(written)", "skipped": "\(skippedHere.count)"])
            }
            // The counts come from the scores files, so a resumed run reports the same numbers.
            let skips = skipped.values.sorted { $0.key < $1.key }
            report.add(shard, written: shard.sampleCount - skips.count, skips: skips)
        }
        try report.writeSummary(command: "annotate", rewards: options.rewards.map(\.name), folder: folder, name: Self.summaryName,
                                logger: logger)
        return report
    }
}
