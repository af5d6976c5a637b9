import ArgumentParser
import Foundation
import MiroDataPrep
import MiroPipeline

/// `miro prepare`: raw image–caption pairs → enriched shards in the official layout (data/preprocess_data.py,
/// all stages), resumable; `miro train --data OUT` follows directly.
struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn image–caption data into enriched training shards (VAE latents, T5 embeddings, rewards, index, bins).",
        discussion: """
            INPUTS as for `miro annotate`. Per sample: the SDXL-VAE posterior mean/std (float16) of the centre-cropped \
            image resized to --image-size, FLAN-T5 embeddings (float16, cut to the real tokens) of the cleaned caption \
            and of the long synthetic caption, the original image, caption and JSON (with the --rewards scores), \
            members in sorted order; then wids-index.json and, with rewards, the bins cache. Computed in float32 \
            before the float16 cast (the official script runs under bf16 autocast). Killed, the same command resumes: \
            finished shards are not redone and the output equals an uninterrupted run byte for byte. Samples with an \
            undecodable image, no caption or malformed JSON are skipped and counted (prepare-summary.json).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Webdataset .tar shards, folders of shards, or folders of name.jpg|png + name.txt.") var inputs: [String] = []
    @Option(help: "Output folder (new, empty, or a previous run of this same command).") var out: String
    @Option(help: ArgumentHelp("The FLAN-T5-XL folder (default: $MIRO_TEXT_ENCODER, then the Hugging Face cache of google/flan-t5-xl)."))
    var textEncoder: String?
    @Option(help: "The SDXL VAE folder or file (default: $MIRO_VAE, then the Hugging Face cache of stabilityai/sdxl-vae).")
    var vae: String?
    @Option(help: "Comma-separated reward keys to score (none: no reward keys, no bins cache).") var rewards: String?
    @Option(help: "Samples per model call (1…4096; official: 64).") var batchSize = 64
    @Option(help: "Samples per output shard for folder inputs (1…1000000).") var shardSize = 1000
    @Option(help: "Headerless TSV of synthetic captions (file_name, short, …, long), as --synthetic_captions; default: each sample's JSON.")
    var syntheticCaptions: String?
    @Option(help: "VAE input side, a multiple of 8 (the trainer reads 256).") var imageSize = 256
    @Flag(help: "Do not write the bins cache.") var noBins = false
    @OptionGroup var rewardModel: RewardModelOptions
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give input shards or folders") }
        try FlagCheck.range(batchSize, 1...4096, "--batch-size")
        try FlagCheck.range(shardSize, 1...1_000_000, "--shard-size")
        guard (8...4096).contains(imageSize), imageSize % 8 == 0 else { throw ValidationError("--image-size must be a multiple of 8 in 8…4096 (got \(imageSize))") }
        if let rewards { _ = try FlagCheck.usage { try RewardRegistry.specs(rewards, files: try rewardModel.locations()) } }
    }

    func run() throws {
        let logger = global.makeLogger("miro.prepare")
        threadOptions.apply()
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let textFolder = try ComponentLocator().locate(.textEncoder, given: textEncoder, checkpoint: here, repo: "google/flan-t5-xl")
        let vaeFolder = try ComponentLocator().locate(.vae, given: vae, checkpoint: here, repo: "stabilityai/sdxl-vae")
        var options = Preparer.Options()
        options.rewards = try rewards.map { list in
            try FlagCheck.usage { try RewardRegistry.specs(list, files: try rewardModel.locations(), batchSize: batchSize) }
        } ?? []
        options.batchSize = batchSize
        options.folderShardSize = shardSize
        options.syntheticCaptions = try syntheticCaptions.map { try SyntheticCaptionTable(url: URL(fileURLWithPath: $0)) }
        options.imageSize = imageSize
        options.buildBins = !noBins
        let bars = PhaseBars()
        let preparer = Preparer(inputs: inputs.map { URL(fileURLWithPath: $0) }, output: URL(fileURLWithPath: out),
                                models: .folders(textEncoder: textFolder, vae: vaeFolder), options: options,
                                decoder: RewardRegistry.imageDecoding, transform: RewardRegistry.vaeTransform, logger: logger,
                                progress: { bars.update($0) })
        let t0 = Date()
        let report = try preparer.run()
        bars.finish()
        print("prepared \(report.written) of \(report.samples) samples in \(report.shards) shards (\(report.skippedCount) skipped) "
              + "in \(formatDuration(Date().timeIntervalSince(t0))); \(report.computedShards) shards computed now, the rest were already done")
        print("wrote \(out) (train with: miro train --data \(out))")
    }
}
