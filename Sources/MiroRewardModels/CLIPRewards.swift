/// The CLIP-family rewards of MIRO's annotation (miro data/preprocess_data.py, utils/rewards/aesthetic.py,
/// utils/rewards/hpsv2.py @547003a) and the OpenAI CLIP score of its eval package (eval/rewards/reward_models.py),
/// each storing the value MIRO stores under its JSON key (rewards.md §1, §3):
///
/// | name                 | model                          | text                               | stored value              |
/// |----------------------|--------------------------------|------------------------------------|---------------------------|
/// | `aesthetic_score`    | OpenAI CLIP-L/14 + LAION MLP   | none                               | MLP(î with 0-norm guard)/10 |
/// | `pick_a_score_score` | PickScore v1 (HF ViT-H-14)     | HF tokenizer, pad to longest, 77   | exp(logit_scale)·cos/100  |
/// | `sciscore_score`     | SciScore (HF ViT-H-14)         | HF tokenizer, pad to longest, 77   | exp(logit_scale)·cos/100  |
/// | `hpsv2_score`        | HPS v2.1 (open_clip ViT-H-14)  | open_clip tokenizer, 77, pad 0     | cos (no scale)            |
/// | `openai_clip_score`  | OpenAI CLIP-L/14 (HF)          | HF tokenizer, pad to longest, 77   | exp(logit_scale)·cos/100  |
///
/// `openai_clip_score` is *not* MIRO's `clip_score` (Jina-CLIP-v2); never store one under the other's name.
///
/// Precision: everything here runs in float32 on the CPU. MIRO runs these models on CUDA under fp16 autocast
/// (the OpenAI CLIP of the aesthetic head has fp16 weights), so its stored values carry fp16 rounding
/// (steps of ≈ 1.6e-4 for PickScore, 1.2e-4–2.4e-4 for HPSv2, ≈ 4e-4 for aesthetic; rewards.md §2.1) and tie
/// often; these float32 values are the exact-arithmetic versions and differ from MIRO's by up to those steps.
///
/// Captions are scored as given: MIRO's `_clean` (`"<PERSON>"` removed) and its choice of original / short
/// synthetic caption happen before a reward is called (the annotation command's job).

import Foundation
import MiroEngine
import MiroImage
import MiroRewards
import MiroTokenizers

/// Pixels for a batch of images through a reward's preprocessor: `[n, 3, size, size]`.
func pixelBatch(_ images: ArraySlice<RGBImage>, _ preprocessor: any RewardImagePreprocessor) throws -> Tensor {
    let size = preprocessor.size
    let per = 3 * size * size
    var values: [Float] = []
    values.reserveCapacity(images.count * per)
    for (offset, image) in images.enumerated() {
        let pixels = try preprocessor.pixelValues(image)
        guard pixels.count == per else {
            throw RewardModelError.input("the preprocessor gave \(pixels.count) values for image \(offset) of the batch; expected 3 × \(size) × \(size)")
        }
        values += pixels
    }
    return try Tensor(values, shape: [images.count, 3, size, size])
}

/// The checks every CLIP reward makes when it is put together: the preprocessor's output fits the vision tower.
func checkSetup(preprocessor: any RewardImagePreprocessor, model: CLIPModel, batchSize: Int) throws {
    guard preprocessor.size == model.config.visionConfig.imageSize else {
        throw RewardModelError.input("the preprocessor makes \(preprocessor.size)² images; the CLIP vision tower takes \(model.config.visionConfig.imageSize)²")
    }
    guard batchSize > 0 else { throw RewardModelError.input("batch size must be positive, got \(batchSize)") }
}

/// `[start, end)` ranges of at most `size` elements covering `0..<count`.
func batchRanges(count: Int, size: Int) -> [Range<Int>] {
    stride(from: 0, to: count, by: max(size, 1)).map { $0 ..< min($0 + max(size, 1), count) }
}

/// `aesthetic_score`: the LAION improved aesthetic predictor on OpenAI CLIP ViT-L/14 image embeddings.
///
///     f = get_image_features(pixels);  f̂ = f / ‖f‖ (‖f‖ = 0 → 1);  stored = MLP(f̂) / 10
///
/// The caption is not used (MIRO's `synthetic_aesthetic_score` is a copy of this value).
public final class AestheticReward: RewardModel, @unchecked Sendable {
    // @unchecked: the model's tensors are only read after loading (inference; no mutation through this type).
    public let name = "aesthetic_score"
    public let clip: CLIPModel
    public let mlp: AestheticMLP
    public let preprocessor: any RewardImagePreprocessor
    public let batchSize: Int

    public init(clip: CLIPModel, mlp: AestheticMLP, preprocessor: any RewardImagePreprocessor, batchSize: Int = 64) throws {
        guard clip.config.projectionDim == mlp.inputSize else {
            throw RewardModelError.input("the CLIP projection_dim \(clip.config.projectionDim) differs from the aesthetic MLP's input size \(mlp.inputSize)")
        }
        try checkSetup(preprocessor: preprocessor, model: clip, batchSize: batchSize)
        self.clip = clip
        self.mlp = mlp
        self.preprocessor = preprocessor
        self.batchSize = batchSize
    }

    /// OpenAI CLIP-L/14 from a transformers folder (`openai/clip-vit-large-patch14`) and the MLP file
    /// (`sac+logos+ava1-l14-linearMSE.pth` or its safetensors conversion).
    public static func load(clipFolder: URL, mlpFile: URL, preprocessor: any RewardImagePreprocessor, batchSize: Int = 64) throws -> AestheticReward {
        try AestheticReward(clip: CLIPModel.load(folder: clipFolder), mlp: AestheticMLP.load(mlpFile),
                            preprocessor: preprocessor, batchSize: batchSize)
    }

    public func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try checkPairing(images: images, captions: captions)
        var out: [Float] = []
        for range in batchRanges(count: images.count, size: batchSize) {
            out += try score(pixelValues: pixelBatch(images[range], preprocessor))
        }
        return out
    }

    /// The stored values (rating / 10) for ready pixel values `[B, 3, S, S]`.
    public func score(pixelValues: Tensor) throws -> [Float] {
        try (ratings(pixelValues: pixelValues) / 10).floats()
    }

    /// The raw ratings `[B]` (≈ 1…10; the eval package's `aesthetic` scorer reports these).
    public func ratings(pixelValues: Tensor) throws -> Tensor {
        try mlp.rating(AestheticMLP.normalized(clip.imageFeatures(pixelValues: pixelValues)))
    }
}

/// The image–text similarity rewards: PickScore, SciScore, HPSv2 and the OpenAI CLIP score.
public final class CLIPSimilarityReward: CaptionSetsRewardModel, @unchecked Sendable {
    // @unchecked: the model's tensors are only read after loading (inference; no mutation through this type).

    /// Which reward: its JSON key, its tokenisation and its formula.
    public enum Kind: String, CaseIterable, Sendable {
        /// PickScore v1: `processor(..., padding=True, truncation=True, max_length=77)`, diag(logits_per_image)/100.
        case pickScore = "pick_a_score_score"
        /// SciScore: the same call and `exp(logit_scale)·diag(t̂·îᵀ)/100`.
        case sciScore = "sciscore_score"
        /// HPS v2.1: open_clip tokenizer (77, zero padding), raw cosine `diag(î·t̂ᵀ)`.
        case hpsv2 = "hpsv2_score"
        /// The eval package's `clip_openai`: HF processor `padding=True, truncation=True`, diag(logits)/100.
        case openAICLIP = "openai_clip_score"

        /// How the reference pads a batch of captions.
        public var padding: CLIPTokenizer.Padding { self == .hpsv2 ? .maxLength : .longest }
        /// The tokenizer the reference uses.
        public var tokenizerFlavor: CLIPTokenizer.Flavor { self == .hpsv2 ? .openCLIP : .huggingFace }
        /// Whether the stored value is `exp(logit_scale)·cos/100` (true) or the bare cosine (HPSv2).
        public var usesLogitScale: Bool { self != .hpsv2 }
    }

    public let kind: Kind
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let preprocessor: any RewardImagePreprocessor
    public let batchSize: Int
    public var name: String { kind.rawValue }

    public init(kind: Kind, model: CLIPModel, tokenizer: CLIPTokenizer, preprocessor: any RewardImagePreprocessor,
                batchSize: Int = 64) throws {
        guard tokenizer.flavor == kind.tokenizerFlavor else {
            let wanted = kind.tokenizerFlavor == .openCLIP ? "open_clip's (CLIPTokenizer.openCLIP(bpeGZ:))"
                                                           : "transformers' (CLIPTokenizer.huggingFace(vocabJSON:mergesTXT:))"
            throw RewardModelError.input("\(kind.rawValue) tokenizes with \(wanted) tokenizer, as its reference does")
        }
        try checkSetup(preprocessor: preprocessor, model: model, batchSize: batchSize)
        self.kind = kind
        self.model = model
        self.tokenizer = tokenizer
        self.preprocessor = preprocessor
        self.batchSize = batchSize
    }

    /// PickScore / SciScore / OpenAI CLIP score from a transformers folder; the tokenizer's `vocab.json` and
    /// `merges.txt` come from `tokenizerFolder` (PickScore takes its processor from
    /// `laion/CLIP-ViT-H-14-laion2B-s32B-b79K`), or from the model folder when nil. Pad token `<|endoftext|>`.
    public static func load(kind: Kind, modelFolder: URL, tokenizerFolder: URL? = nil,
                            preprocessor: any RewardImagePreprocessor, batchSize: Int = 64) throws -> CLIPSimilarityReward {
        guard kind != .hpsv2 else {
            throw RewardModelError.input("hpsv2_score loads an open_clip checkpoint: use CLIPSimilarityReward.loadHPSv2")
        }
        let files = tokenizerFolder ?? modelFolder
        let tokenizer: CLIPTokenizer
        do {
            tokenizer = try CLIPTokenizer.huggingFace(vocabJSON: files.appendingPathComponent("vocab.json").path,
                                                      mergesTXT: files.appendingPathComponent("merges.txt").path)
        } catch {
            throw RewardModelError.file(path: files.path, reason: "tokenizer files: \(error)")
        }
        return try CLIPSimilarityReward(kind: kind, model: CLIPModel.load(folder: modelFolder), tokenizer: tokenizer,
                                        preprocessor: preprocessor, batchSize: batchSize)
    }

    /// HPS v2.1: `HPS_v2.1_compressed.pt` (open_clip ViT-H-14 names, `{'state_dict': …}`) and open_clip's
    /// `bpe_simple_vocab_16e6.txt.gz`.
    public static func loadHPSv2(checkpoint: URL, bpeGZ: URL, config: OpenCLIPModelConfig = .vitH14,
                                 preprocessor: any RewardImagePreprocessor, batchSize: Int = 64) throws -> CLIPSimilarityReward {
        let tokenizer: CLIPTokenizer
        do {
            tokenizer = try CLIPTokenizer.openCLIP(bpeGZ: bpeGZ.path)
        } catch {
            throw RewardModelError.file(path: bpeGZ.path, reason: "tokenizer file: \(error)")
        }
        return try CLIPSimilarityReward(kind: .hpsv2, model: CLIPModel.load(openCLIPCheckpoint: checkpoint, config: config),
                                        tokenizer: tokenizer, preprocessor: preprocessor, batchSize: batchSize)
    }

    /// The ids `[B, L]` (int64) and mask `[B, L]` the reference feeds the text tower: truncated to 77 with the end
    /// token kept, padded as `kind.padding` says.
    public func tokenize(_ captions: [String]) throws -> (ids: Tensor, mask: Tensor) {
        guard !captions.isEmpty else { throw RewardModelError.input("no captions to tokenize") }
        let rows = try tokenizer.encode(batch: captions, length: CLIPTokenizer.contextLength, padding: kind.padding)
        let length = rows.first?.ids.count ?? 0
        let ids = try Tensor(rows.flatMap { $0.ids.map(Int64.init) }, shape: [rows.count, length])
        let mask = try Tensor(rows.flatMap { $0.attentionMask.map(Int64.init) }, shape: [rows.count, length])
        return (ids, mask)
    }

    public func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try score(images: images, captionSets: [captions])[0]
    }

    /// Each batch's image features once, then every caption list against them.
    public func score(images: [RGBImage], captionSets: [[String]]) throws -> [[Float]] {
        for captions in captionSets { try checkPairing(images: images, captions: captions) }
        var out = [[Float]](repeating: [], count: captionSets.count)
        for range in batchRanges(count: images.count, size: batchSize) {
            let image = try model.imageFeatures(pixelValues: pixelBatch(images[range], preprocessor))
            for (k, captions) in captionSets.enumerated() {
                let (ids, mask) = try tokenize(Array(captions[range]))
                out[k] += try Self.storedValues(kind: kind, model: model, imageFeatures: image, ids: ids, mask: mask)
            }
        }
        return out
    }

    /// The stored values for ready pixel values `[B, 3, S, S]` and their captions.
    public func score(pixelValues: Tensor, captions: [String]) throws -> [Float] {
        let (ids, mask) = try tokenize(captions)
        return try score(pixelValues: pixelValues, ids: ids, mask: mask)
    }

    /// The stored values for ready pixel values and token ids (row i of each is one pair). HPSv2 ignores `mask`
    /// (open_clip's text tower has only the causal mask; with EOT pooling the padding cannot reach the pooled token).
    public func score(pixelValues: Tensor, ids: Tensor, mask: Tensor?) throws -> [Float] {
        try Self.storedValues(kind: kind, model: model, pixelValues: pixelValues, ids: ids, mask: mask)
    }

    /// What `score(pixelValues:ids:mask:)` computes, for a bare model (the benchmark times this with random weights).
    public static func storedValues(kind: Kind, model: CLIPModel, pixelValues: Tensor, ids: Tensor, mask: Tensor?) throws -> [Float] {
        guard pixelValues.rank >= 1, ids.rank >= 1, pixelValues.size(0) == ids.size(0) else {
            throw RewardModelError.input("\(pixelValues.shape) pixel values and \(ids.shape) token ids do not pair row by row")
        }
        return try storedValues(kind: kind, model: model, imageFeatures: model.imageFeatures(pixelValues: pixelValues), ids: ids, mask: mask)
    }

    /// The stored values from image features already computed (`get_image_features`, unnormalised).
    static func storedValues(kind: Kind, model: CLIPModel, imageFeatures image: Tensor, ids: Tensor, mask: Tensor?) throws -> [Float] {
        guard image.rank == 2, ids.rank == 2, image.size(0) == ids.size(0) else {
            throw RewardModelError.input("\(image.shape) image features and \(ids.shape) token ids do not pair row by row")
        }
        let text = try model.textFeatures(ids: ids, mask: kind == .hpsv2 ? nil : mask)
        return try withoutGrad {
            // diag(î · t̂ᵀ) without the off-diagonal products
            let cosine = try (CLIPModel.normalized(image) * CLIPModel.normalized(text)).sum([-1])
            guard kind.usesLogitScale else { return try cosine.floats() }
            // logits_per_image = logit_scale.exp() * cos;  stored = diag(logits) / 100
            return try (cosine * model.logitScaleParameter.exp() / 100).floats()
        }
    }
}
