// Port of data/preprocess_data.py (nicolas-dufour/miro @547003a): stage `vae` (`stage_vae`: VAE posterior
// statistics, FLAN-T5 embeddings trimmed to the mask, the JSON merge, the enriched tar), after stages `rewards`
// and `vqa` (through `RewardPass`), then `_build_wids_index` and scripts/build_coherence_bins_cache.py.
import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroIO
import MiroImage
import MiroT5
import MiroTokenizers
import MiroVAE

/// `miro prepare`: raw image–caption pairs → enriched shards in the official layout, ready for `miro train
/// --data OUT`:
///
/// | member | content |
/// |---|---|
/// | `jpg` (or the input's `png`, …) | the original image bytes |
/// | `txt` | the original, uncleaned caption |
/// | `json` | the metadata, with the reward keys when rewards are given |
/// | `<text>_embeddings.npy` | T5 `last_hidden_state` of the cleaned caption, cut to its mask (`</s>` kept), float16 |
/// | `synthetic_<text>_embeddings.npy` | the same for the long synthetic caption |
/// | `vae_embeddings_mean_<S>.npy`, `…std_<S>.npy` | the VAE posterior mean / std of the centre-cropped S² image, float16 |
///
/// Members are written in sorted order (webdataset's `TarWriter`), and `wids-index.json` plus, with rewards, the
/// bins cache complete the folder. Only the 256 stage is computed (`--no_vae_512` officially; the trainer reads
/// 256). The official script encodes under bf16 autocast; this computes in float32 before the float16 cast.
///
/// Resumable like `Annotator`: rewards per (shard, reward), then one marker per output shard.
public final class Preparer {
    public struct Options: Sendable {
        public var rewards: [RewardSpec] = []
        public var batchSize = 64
        public var folderShardSize = 1000
        /// The VAE input side (256: members `vae_embeddings_mean_256.npy`).
        public var imageSize = 256
        /// `--text_max_length` (2048).
        public var textMaxLength = 2048
        /// `--embeddings_npy_name` without `_embeddings` (`flan_t5_xl`).
        public var textEmbeddingName = "flan_t5_xl"
        /// Write the bins cache (only with rewards).
        public var buildBins = true
        /// `--synthetic-captions file.tsv`; nil: the captions of each sample's JSON.
        public var syntheticCaptions: SyntheticCaptionTable? = nil

        public init() {}
    }

    /// The text encoder and VAE, built when the VAE stage starts (after every reward model is released).
    public struct Models: Sendable {
        /// Names the models in the manifest (their folders), so a rerun with other models is refused.
        public var identity: String
        public var load: @Sendable () throws -> (tokenizer: T5Tokenizer, encoder: T5Encoder, vae: AutoencoderKL)

        public init(identity: String, load: @escaping @Sendable () throws -> (tokenizer: T5Tokenizer, encoder: T5Encoder, vae: AutoencoderKL)) {
            self.identity = identity
            self.load = load
        }

        /// A FLAN-T5 folder (config.json, weights, tokenizer files) and a diffusers `AutoencoderKL` folder or file.
        public static func folders(textEncoder: URL, vae: URL) -> Models {
            Models(identity: "text_encoder=\(textEncoder.standardizedFileURL.path) vae=\(vae.standardizedFileURL.path)") {
                let tokenizer: T5Tokenizer
                do { tokenizer = try T5Tokenizer.load(folder: textEncoder.path) } catch {
                    throw DataPrepError.input(path: textEncoder.path, reason: "cannot load the tokenizer (\(error))")
                }
                return (tokenizer, try T5Encoder.load(folder: textEncoder), try AutoencoderKL.load(vae))
            }
        }
    }

    public static let summaryName = "prepare-summary.json"

    let inputs: [URL]
    let output: URL
    let models: Models
    let options: Options
    let decoder: ImageDecoding
    let transform: VAEImageTransform
    let logger: Logger
    let progress: ((PrepProgress) -> Void)?

    public init(inputs: [URL], output: URL, models: Models, options: Options, decoder: ImageDecoding = .png,
                transform: VAEImageTransform = .cropOnly, logger: Logger, progress: ((PrepProgress) -> Void)? = nil) {
        self.inputs = inputs
        self.output = output
        self.models = models
        self.options = options
        self.decoder = decoder
        self.transform = transform
        self.logger = logger
        self.progress = progress
    }

    var textSuffix: String { options.textEmbeddingName + "_embeddings.npy" }
    var meanSuffix: String { "vae_embeddings_mean_\(options.imageSize).npy" }
    var stdSuffix: String { "vae_embeddings_std_\(options.imageSize).npy" }

    public func run() throws -> PrepReport {
        try Annotator.validate(options.rewards, batchSize: options.batchSize, requireRewards: false)
        guard (8...8192).contains(options.imageSize) else {
            throw DataPrepError.input(path: "--image-size", reason: "must be in 8…8192, got \(options.imageSize)")
        }
        guard options.textMaxLength >= 1 else { throw DataPrepError.input(path: "--text-max-length", reason: "must be positive") }
        let shards = try InputShards.plan(inputs, folderShardSize: options.folderShardSize)
        let manifest = Annotator.manifest(
            command: "prepare", shards: shards, rewards: options.rewards, batchSize: options.batchSize,
            folderShardSize: options.folderShardSize,
            extra: [("models", .string(models.identity)), ("image_size", .int(options.imageSize)),
                    ("text_max_length", .int(options.textMaxLength)), ("text_embedding_name", .string(options.textEmbeddingName)),
                    ("bins", .bool(options.buildBins)),
                    ("synthetic_captions", .string(options.syntheticCaptions?.identity ?? "json"))])
        let folder = try OutputFolder.open(output, command: "prepare", manifest: manifest,
                                           ownNames: Set(shards.map(\.name) + [Self.summaryName, WIDSIndex.fileName]))
        let pass = RewardPass(shards: shards, rewards: options.rewards, batchSize: options.batchSize, decoder: decoder,
                              table: options.syntheticCaptions, folder: folder, logger: logger, progress: progress)
        var report = PrepReport()
        report.computedScores = try pass.run()

        let todo = shards.filter { !folder.isWritten($0.name) }
        if !todo.isEmpty {
            logger.info("loading the text encoder and the VAE (\(todo.count) of \(shards.count) shards to encode)")
            let loaded = try models.load()
            let total = todo.reduce(0) { $0 + $1.sampleCount }
            let start = Date()
            var done = 0
            for shard in todo {
                let (written, skipped) = try encode(shard, pass: pass, models: loaded) { n in
                    done += n
                    progress?(PrepProgress(phase: "vae+t5", done: done, total: total, elapsed: Date().timeIntervalSince(start)))
                }
                try folder.markDone(shard.name, .object([("written", .int(written)), ("skipped", .int(skipped.count))]))
                report.computedShards += 1
                logger.info("wrote \(shard.name)", metadata: ["samples": "\(written)", "skipped": "\(skipped.count)"])
            }
        }
        // Counts from the markers and scores, so that a resumed run reports (and writes) the same summary.
        for shard in shards {
            let info = try PythonJSON.parse([UInt8](try Data(contentsOf: folder.marker(shard.name))))
            let skips = try skippedSamples(shard, pass: pass)
            report.add(shard, written: info["written"]?.integer ?? 0, skips: skips)
        }
        // The index and the bins are cheap and derived from the shards: always rebuilt, atomically.
        let index = try WIDSIndex.build(directory: output, logger: logger)
        try folder.write(index.jsonData(), to: output.appendingPathComponent(WIDSIndex.fileName))
        if options.buildBins, !options.rewards.isEmpty {
            var builder = BinsCacheBuilder()
            builder.rewardNames = options.rewards.map(\.name)
            try builder.build(root: output, logger: logger)
        }
        try report.writeSummary(command: "prepare", rewards: options.rewards.map(\.name), folder: folder, name: Self.summaryName,
                                logger: logger)
        return report
    }

    /// The samples of `shard` that are left out: from the reward scores when there are rewards, else recorded in
    /// the shard's own skip file.
    func skippedSamples(_ shard: InputShard, pass: RewardPass) throws -> [SkippedSample] {
        if !options.rewards.isEmpty { return try pass.load(shard: shard.name).skipped.values.sorted { $0.key < $1.key } }
        return try ShardScores.read(skipFile(shard), reward: "").skipped.sorted { $0.key < $1.key }
    }

    func skipFile(_ shard: InputShard) -> URL {
        output.appendingPathComponent(".miro-prepare/scores/\(shard.name).skipped.json")
    }

    typealias Loaded = (tokenizer: T5Tokenizer, encoder: T5Encoder, vae: AutoencoderKL)

    /// One output shard: batches of decoded, cropped images and captions through the VAE and T5, samples written
    /// in input order with their members sorted.
    func encode(_ shard: InputShard, pass: RewardPass, models: Loaded, advanced: (Int) -> Void) throws -> (Int, [SkippedSample]) {
        let scored = options.rewards.isEmpty ? nil : try pass.load(shard: shard.name)
        var skipped: [SkippedSample] = []
        var written = 0
        let url = output.appendingPathComponent(shard.name)
        do {
            try AtomicFile.write(to: url) { handle in
                let writer = TarWriter(handle: handle, name: url.path)
                var batch: [(sample: CheckedSample, image: RGBImage)] = []
                func flush() throws {
                    guard !batch.isEmpty else { return }
                    let encoded = try encodeBatch(batch.map(\.image), captions: batch.map(\.sample.captions), models: models)
                    for (i, item) in batch.enumerated() {
                        let sample = item.sample
                        let additions = scored.map { pass.additions($0.scores[sample.raw.key] ?? [], captions: sample.captions) } ?? []
                        if let scored, (scored.scores[sample.raw.key] ?? []).count != options.rewards.count {
                            throw DataPrepError.output(path: url.path, reason: "sample '\(sample.raw.key)' lacks reward scores: the input changed since it was scored")
                        }
                        var members: [(String, [UInt8])] = [
                            (sample.imageSuffix, sample.imageBytes),
                            ("txt", Array(sample.captions.originalText.utf8)),
                            ("json", Array(SampleJSON.merged(sample.metadata, adding: additions).dumps().utf8)),
                            (textSuffix, encoded.text[i]), ("synthetic_" + textSuffix, encoded.synthetic[i]),
                            (meanSuffix, encoded.mean[i]), (stdSuffix, encoded.std[i]),
                        ]
                        members.sort { pythonStringLess($0.0, $1.0) }
                        for (suffix, data) in members { try writer.add(name: sample.raw.key + "." + suffix, data: data) }
                        written += 1
                    }
                    advanced(batch.count)
                    batch.removeAll(keepingCapacity: true)
                }
                try InputShards.forEachSample(shard) { raw in
                    if let skip = scored?.skipped[raw.key] {
                        skipped.append(skip)
                        advanced(1)
                        return
                    }
                    switch RewardPass.decode(raw, decoder: decoder, table: options.syntheticCaptions) {
                    case .failure(let skip):
                        skipped.append(skip)
                        logger.warning("skipping sample", metadata: ["shard": "\(shard.name)", "key": "\(raw.key)", "reason": "\(skip.reason.rawValue): \(skip.detail)"])
                        advanced(1)
                    case .success(let (sample, image)):
                        batch.append((sample, try transform.apply(image, options.imageSize)))
                        if batch.count == options.batchSize { try flush() }
                    }
                }
                try flush()
                try writer.finish()
            }
        } catch let e as DataPrepError {
            throw e
        } catch {
            throw DataPrepError.output(path: url.path, reason: "cannot write the shard (\(error))")
        }
        if options.rewards.isEmpty {
            let record = ShardScores(reward: "", scores: [], skipped: skipped)
            try AtomicFile.write(Data((record.json(shard: shard.name).dumps() + "\n").utf8), to: skipFile(shard))
        }
        return (written, skipped)
    }

    /// The `.npy` bytes of each sample's T5 embeddings (original and long synthetic caption) and VAE mean / std.
    func encodeBatch(_ images: [RGBImage], captions: [SampleCaptions], models: Loaded)
        throws -> (text: [[UInt8]], synthetic: [[UInt8]], mean: [[UInt8]], std: [[UInt8]]) {
        try withoutGrad {
            let side = options.imageSize
            var pixels = [Float](repeating: 0, count: images.count * 3 * side * side)
            for (b, image) in images.enumerated() {
                guard image.width == side, image.height == side else {
                    throw DataPrepError.input(path: "image transform", reason: "returned \(image.width)×\(image.height), not \(side)×\(side)")
                }
                // HWC [0, 1] → CHW, `Normalize(mean=0.5, std=0.5)`.
                for c in 0..<3 {
                    for p in 0..<(side * side) {
                        pixels[(b * 3 + c) * side * side + p] = (image.pixels[3 * p + c] - 0.5) / 0.5
                    }
                }
            }
            let posterior = try models.vae.encode(try Tensor(pixels, shape: [images.count, 3, side, side]))
            let mean = try (0..<images.count).map { try Self.npy(try posterior.mean.slice(0, $0, $0 + 1).squeezed(0)) }
            let std = try (0..<images.count).map { try Self.npy(try posterior.std.slice(0, $0, $0 + 1).squeezed(0)) }
            return (try encodeText(captions.map(\.original), models: models),
                    try encodeText(captions.map { SampleCaptions.clean($0.long) }, models: models), mean, std)
        }
    }

    /// `text_tokenizer(texts, padding="longest", max_length=, truncation=True)`, the encoder, each row cut to
    /// `attention_mask.sum()` tokens.
    func encodeText(_ texts: [String], models: Loaded) throws -> [[UInt8]] {
        let batch: (ids: [[Int32]], mask: [[Int32]])
        do { batch = try models.tokenizer.encode(batch: texts, maxLength: options.textMaxLength, padding: .longest, truncation: true) } catch {
            throw DataPrepError.input(path: "captions", reason: "cannot tokenize (\(error))")
        }
        let length = batch.ids.first?.count ?? 0
        let ids = try Tensor(batch.ids.flatMap { $0.map(Int64.init) }, shape: [texts.count, length])
        let mask = try Tensor(batch.mask.flatMap { $0.map(Int64.init) }, shape: [texts.count, length])
        let hidden = try models.encoder(ids: ids, mask: mask)
        return try batch.mask.enumerated().map { i, row in
            let real = row.reduce(0) { $0 + Int($1) }
            return try Self.npy(try hidden.slice(0, i, i + 1).squeezed(0).slice(0, 0, real))
        }
    }

    /// float16 `.npy` bytes, as `np.save` of `tensor.half().numpy()`.
    static func npy(_ t: Tensor) throws -> [UInt8] {
        [UInt8](try TensorFiles.npyArray(try t.to(.float16).contiguous()).serialize())
    }
}
