/// Port of MIRO's `image_reward_score` (miro utils/rewards/image_reward.py, data/preprocess_data.py @547003a;
/// rewards.md §3.3):
/// ImageReward v1.0 scores prompt i against image i in one batched forward, and MIRO stores
/// `(reward + 2) / 4`, which maps the reward's usual ±2 range onto [0, 1] (values outside are kept).
///
/// Text: `tokenizer(prompt, padding="max_length", truncation=True, max_length=35)` with BLIP's tokenizer
/// (bert-base-uncased + `[DEC]`/`[ENC]`); `[CLS]` is kept. Images: the caller's `RewardImagePreprocessor`
/// (ImageReward's `_transform(224)`: PIL bicubic shortest side → 224, centre crop, CLIP mean/std).
/// MIRO scores the short synthetic caption for `synthetic_image_reward_score`; which caption to pass is the
/// caller's choice.
///
/// Precision: MIRO runs the float32 weights under CUDA fp16 autocast and rounds the stored value through numpy
/// float16; this computes in float32 throughout, so stored values differ from MIRO's by fp16 rounding (≈ 5e-4).

import Foundation
import Logging
import MiroEngine
import MiroFormats
import MiroImage
import MiroRewards
import MiroTokenizers

/// ImageReward behind the `RewardModel` protocol, under MIRO's key `image_reward_score`.
///
/// `@unchecked Sendable`: the model and tokenizer are immutable after construction and the forward only reads the
/// weights (libtorch inference on shared read-only tensors is thread-safe).
public final class ImageRewardScore: CaptionSetsRewardModel, @unchecked Sendable {
    public let name = "image_reward_score"
    public let model: ImageReward
    public let tokenizer: BLIPTokenizer
    public let preprocessor: any RewardImagePreprocessor
    /// Images per forward (MIRO's stage 1 uses 64; memory grows linearly).
    public let batchSize: Int

    /// MIRO's stored value for one standardised reward: `(reward + 2) / 4`.
    public static func storedValue(reward: Float) -> Float { (reward + 2) / 4 }

    public init(model: ImageReward, tokenizer: BLIPTokenizer, preprocessor: any RewardImagePreprocessor,
                batchSize: Int = 16) throws {
        guard batchSize >= 1 else { throw RewardModelError.input("image_reward_score: batch size must be at least 1, got \(batchSize)") }
        guard tokenizer.count <= model.config.text.vocabSize else {
            throw RewardModelError.file(
                path: tokenizer.wordPiece.path,
                reason: "the tokenizer has \(tokenizer.count) ids (vocab.txt + [DEC], [ENC]) but the text encoder only "
                    + "\(model.config.text.vocabSize) (vocab_size in med_config.json)")
        }
        guard preprocessor.size == model.config.vision.imageSize else {
            throw RewardModelError.input("image_reward_score: the preprocessor makes \(preprocessor.size)² images, "
                                         + "the vision tower takes \(model.config.vision.imageSize)²")
        }
        guard model.config.text.maxPositionEmbeddings >= BLIPTokenizer.imageRewardLength else {
            throw RewardModelError.input("image_reward_score: max_position_embeddings \(model.config.text.maxPositionEmbeddings) "
                                         + "is shorter than the \(BLIPTokenizer.imageRewardLength) prompt tokens")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.preprocessor = preprocessor
        self.batchSize = batchSize
    }

    public static let vocabFileName = "vocab.txt"

    /// Loads `ImageReward.pt` (or `.safetensors`) + `med_config.json` from `folder` and bert-base-uncased's
    /// `vocab.txt` from `vocab`; without one, from `folder` if it has a `vocab.txt`, else from the Hugging Face
    /// cache's `bert-base-uncased` snapshot (where `BertTokenizer.from_pretrained` keeps it; nothing is downloaded).
    public static func load(folder: URL, vocab: URL? = nil, preprocessor: any RewardImagePreprocessor, batchSize: Int = 16,
                            vision: BLIPVisionConfig = .large, device: Device = .cpu, cache: HuggingFaceCache = HuggingFaceCache(),
                            logger: Logger? = nil) throws -> ImageRewardScore {
        let vocabURL = try vocab ?? defaultVocabulary(folder: folder, cache: cache)
        let tokenizer: BLIPTokenizer
        do {
            tokenizer = try BLIPTokenizer(vocabTXT: vocabURL.path)
        } catch let error as TokenizerError {
            throw RewardModelError.file(path: vocabURL.path, reason: "\(error)")
        }
        let model = try ImageReward.load(folder: folder, vision: vision, device: device, logger: logger)
        return try ImageRewardScore(model: model, tokenizer: tokenizer, preprocessor: preprocessor, batchSize: batchSize)
    }

    static func defaultVocabulary(folder: URL, cache: HuggingFaceCache) throws -> URL {
        let local = folder.appendingPathComponent(vocabFileName)
        if FileManager.default.fileExists(atPath: local.path) { return local }
        guard let snapshot = try? cache.snapshot(repoId: "bert-base-uncased"),
              FileManager.default.fileExists(atPath: snapshot.appendingPathComponent(vocabFileName).path) else {
            throw RewardModelError.file(
                path: local.path,
                reason: "no vocab.txt here nor in the Hugging Face cache (bert-base-uncased); pass the bert-base-uncased vocab.txt")
        }
        return snapshot.appendingPathComponent(vocabFileName)
    }

    /// The stored `image_reward_score` of each (image, caption) pair.
    public func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try rewards(images: images, captions: captions).map(Self.storedValue)
    }

    /// The stored values against several caption lists, each batch's images through the vision tower once.
    public func score(images: [RGBImage], captionSets: [[String]]) throws -> [[Float]] {
        try rewards(images: images, captionSets: captionSets).map { $0.map(Self.storedValue) }
    }

    /// The standardised rewards (what the `image-reward` package's `score` returns and MIRO's eval reports).
    public func rewards(images: [RGBImage], captions: [String]) throws -> [Float] {
        try rewards(images: images, captionSets: [captions])[0]
    }

    func rewards(images: [RGBImage], captionSets: [[String]]) throws -> [[Float]] {
        for captions in captionSets { try checkPairing(images: images, captions: captions) }
        var out = [[Float]](repeating: [], count: captionSets.count)
        var start = 0
        while start < images.count {
            let end = min(start + batchSize, images.count)
            let size = preprocessor.size
            var pixels: [Float] = []
            pixels.reserveCapacity((end - start) * 3 * size * size)
            for image in images[start..<end] {
                let values = try preprocessor.pixelValues(image)
                guard values.count == 3 * size * size else {
                    throw RewardModelError.input("image_reward_score: the preprocessor returned \(values.count) values, expected 3×\(size)×\(size)")
                }
                pixels += values
            }
            let texts = try captionSets.map { try tokens(Array($0[start..<end])) }
            let batch = try Tensor(pixels, shape: [end - start, 3, size, size])
            for (k, values) in try model.rewards(pixels: batch, texts: texts).enumerated() { out[k] += values }
            start = end
        }
        return out
    }

    /// Stored scores for ready inputs: `pixels` `[B, 3, 224, 224]` already preprocessed, `ids`/`mask` `[B, L]` as
    /// the reference tokenizer gives them (tests feed the reference's own tensors here).
    public func score(pixels: Tensor, ids: Tensor, mask: Tensor) throws -> [Float] {
        try model.rewards(pixels: pixels, ids: ids, mask: mask).map(Self.storedValue)
    }

    /// The `[B, 35]` int64 ids and mask of `captions`.
    public func tokens(_ captions: [String]) throws -> (ids: Tensor, mask: Tensor) {
        let length = BLIPTokenizer.imageRewardLength
        let encodings = try tokenizer.encode(batch: captions, length: length)
        let ids = encodings.flatMap { $0.ids.map(Int64.init) }
        let mask = encodings.flatMap { $0.attentionMask.map(Int64.init) }
        return (try Tensor(ids, shape: [captions.count, length]), try Tensor(mask, shape: [captions.count, length]))
    }
}
