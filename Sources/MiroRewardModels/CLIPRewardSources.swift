/// Where MIRO takes each CLIP-family reward's files from (miro data/preprocess_data.py, utils/rewards/*.py
/// @547003a; rewards.md §3), and loaders that find them in the local Hugging Face cache. Nothing is downloaded:
/// a missing repository is an error that says which one to fetch.

import Foundation
import MiroFormats

extension CLIPSimilarityReward.Kind {
    /// The Hugging Face repository of the model weights.
    public var modelRepository: String {
        switch self {
        case .pickScore: "yuvalkirstain/PickScore_v1"
        case .sciScore: "Jialuo21/SciScore"
        case .hpsv2: "xswu/HPSv2"
        case .openAICLIP: "openai/clip-vit-large-patch14"
        }
    }

    /// The repository whose `vocab.json` / `merges.txt` the reference's processor reads (PickScore takes its
    /// processor from the LAION CLIP-H repository); nil for HPSv2, which uses open_clip's bundled BPE file.
    public var tokenizerRepository: String? {
        switch self {
        case .pickScore: "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
        case .sciScore: "Jialuo21/SciScore"
        case .hpsv2: nil
        case .openAICLIP: "openai/clip-vit-large-patch14"
        }
    }

    /// The checkpoint file inside `modelRepository` for HPSv2 (v2.1, the version MIRO's annotation uses; its eval
    /// package's `HPS_v2_compressed.pt` is v2.0 and gives other numbers).
    public static let hpsv21FileName = "HPS_v2.1_compressed.pt"
}

extension CLIPSimilarityReward {
    /// Loads `kind` from the local Hugging Face cache (model and tokenizer repositories as MIRO uses them). HPSv2
    /// also needs open_clip's `bpe_simple_vocab_16e6.txt.gz` (`bpeGZ`; the hpsv2 wheel lacks it).
    public static func load(kind: Kind, cache: HuggingFaceCache = HuggingFaceCache(), bpeGZ: URL? = nil,
                            preprocessor: any RewardImagePreprocessor, batchSize: Int = 64) throws -> CLIPSimilarityReward {
        let model = try snapshot(kind.modelRepository, cache)
        switch kind {
        case .hpsv2:
            guard let bpeGZ else {
                throw RewardModelError.input("hpsv2_score needs open_clip's bpe_simple_vocab_16e6.txt.gz (it ships in the open_clip_torch wheel)")
            }
            return try loadHPSv2(checkpoint: model.appendingPathComponent(Kind.hpsv21FileName), bpeGZ: bpeGZ,
                                 preprocessor: preprocessor, batchSize: batchSize)
        case .pickScore, .sciScore, .openAICLIP:
            let tokenizer = try kind.tokenizerRepository.map { try snapshot($0, cache) }
            return try load(kind: kind, modelFolder: model, tokenizerFolder: tokenizer, preprocessor: preprocessor,
                            batchSize: batchSize)
        }
    }
}

extension AestheticReward {
    /// The OpenAI CLIP-L/14 repository the aesthetic head sits on.
    public static let clipRepository = "openai/clip-vit-large-patch14"
    /// The MLP's file name; it lives in github.com/christophschuhmann/improved-aesthetic-predictor, not on the hub.
    public static let mlpFileName = "sac+logos+ava1-l14-linearMSE.pth"

    /// OpenAI CLIP-L/14 from the local Hugging Face cache and the MLP from `mlpFile`.
    public static func load(cache: HuggingFaceCache = HuggingFaceCache(), mlpFile: URL,
                            preprocessor: any RewardImagePreprocessor, batchSize: Int = 64) throws -> AestheticReward {
        try load(clipFolder: snapshot(clipRepository, cache), mlpFile: mlpFile, preprocessor: preprocessor, batchSize: batchSize)
    }
}

/// The snapshot folder of `repoId`, with the cache's error as a `RewardModelError`.
func snapshot(_ repoId: String, _ cache: HuggingFaceCache, revision: String = "main") throws -> URL {
    do {
        return try cache.snapshot(repoId: repoId, revision: revision)
    } catch {
        throw RewardModelError.file(path: cache.root.path, reason: "\(error)")
    }
}
