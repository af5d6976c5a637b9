import ArgumentParser
import Foundation
import MiroDataPrep
import MiroImage
import MiroPipeline
import MiroRewards
import MiroShapes

/// `miro annotate`: image–caption data → shards whose JSON gains reward scores (stages `rewards` and `vqa` of
/// data/preprocess_data.py, resumable).
struct Annotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score image–caption data with reward models; write shards whose JSON gains the scores.",
        discussion: """
            INPUTS are webdataset .tar shards, folders of them, or folders of name.jpg|png + name.txt (+ name.json), \
            cut into shards of --shard-size samples. Each reward writes <name> (the original caption) and \
            synthetic_<name> (its synthetic caption: short or long, rewards.md §1) into every sample's JSON, plus \
            synthetic_caption and short_synthetic_caption. One model is in memory at a time. Every other member is \
            copied byte for byte. Samples with an undecodable image, no caption or malformed JSON are skipped and \
            counted (annotate-summary.json). Killed, the same command resumes: finished shards are not redone, and \
            the output equals an uninterrupted run byte for byte. Rewards: \(RewardRegistry.names.joined(separator: ", ")).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Webdataset .tar shards, folders of shards, or folders of name.jpg|png + name.txt.") var inputs: [String] = []
    @Option(help: "Comma-separated reward keys to compute.") var rewards: String
    @Option(help: "Output folder (new, empty, or a previous run of this same command).") var out: String
    @Option(help: "Images per model call (1…4096; official: 64).") var batchSize = 64
    @Option(help: "Samples per output shard for folder inputs (1…1000000).") var shardSize = 1000
    @Option(help: "Headerless TSV of synthetic captions (file_name, short, …, long), as --synthetic_captions; default: each sample's JSON.")
    var syntheticCaptions: String?
    @OptionGroup var rewardModel: RewardModelOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give input shards or folders") }
        try FlagCheck.range(batchSize, 1...4096, "--batch-size")
        try FlagCheck.range(shardSize, 1...1_000_000, "--shard-size")
        _ = try FlagCheck.usage { try RewardRegistry.specs(rewards, files: try rewardModel.locations()) }
    }

    func run() throws {
        let logger = global.makeLogger("miro.annotate")
        threadOptions.apply()
        let specs = try FlagCheck.usage { try RewardRegistry.specs(rewards, files: try rewardModel.locations(), batchSize: batchSize) }
        var options = Annotator.Options(rewards: specs)
        options.batchSize = batchSize
        options.folderShardSize = shardSize
        options.syntheticCaptions = try syntheticCaptions.map { try SyntheticCaptionTable(url: URL(fileURLWithPath: $0)) }
        let bars = PhaseBars()
        let annotator = Annotator(inputs: inputs.map { URL(fileURLWithPath: $0) }, output: URL(fileURLWithPath: out),
                                  options: options, decoder: RewardRegistry.imageDecoding, logger: logger,
                                  progress: { bars.update($0) })
        let t0 = Date()
        let report = try annotator.run()
        bars.finish()
        print("annotated \(report.written) of \(report.samples) samples in \(report.shards) shards (\(report.skippedCount) skipped) "
              + "in \(formatDuration(Date().timeIntervalSince(t0))); \(report.computedScores) shard scores and "
              + "\(report.computedShards) shards computed now, the rest were already done")
        print("wrote \(out)")
    }
}

/// One progress bar per phase (each reward, VAE + T5, writing): `label 120/512 [====>   ] 41.30 images/s ETA 9s`.
final class PhaseBars {
    private var phase = ""
    private var bar: ProgressBar?

    func update(_ p: PrepProgress) { update(phase: p.phase, done: p.done, total: p.total) }

    /// A new phase name finishes the current bar and starts the next.
    func update(phase name: String, done: Int, total: Int) {
        if name != phase {
            bar?.finish()
            phase = name
            bar = ProgressBar(name, total: total, unit: "images")
        }
        bar?.update(done)
    }

    func finish() {
        bar?.finish()
        bar = nil
    }
}
