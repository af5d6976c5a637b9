import ArgumentParser
import Foundation
import MiroDataPrep
import MiroFormats
import MiroImage
import MiroPipeline
import MiroRewardModels
import MiroRewards
import MiroShapes

/// `--reward-model NAME=PATH` (repeatable): where a neural reward's files are, for every command that scores.
struct RewardModelOptions: ParsableArguments {
    @Option(name: .customLong("reward-model"), help: ArgumentHelp(
        "Where a reward's files are, NAME=PATH (repeatable; default: $MIRO_REWARD_<NAME>, then the Hugging Face cache). "
        + "aesthetic_score: the MLP file sac+logos+ava1-l14-linearMSE.pth (CLIP-L/14 from openai_clip_score's folder or "
        + "the cache), or a folder holding both; hpsv2_score: HPS_v2.1_compressed.pt with open_clip's "
        + "bpe_simple_vocab_16e6.txt.gz beside it, or their folder; image_reward_score: a folder with ImageReward.pt, "
        + "med_config.json (and vocab.txt); pick_a_score_score, sciscore_score, openai_clip_score: a transformers folder.",
        valueName: "name=path"))
    var rewardModels: [String] = []

    /// NAME → path, flags over environment variables; names checked against the registry.
    func locations(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: URL] {
        var out: [String: URL] = [:]
        for name in RewardRegistry.neuralNames {
            if let path = environment["MIRO_REWARD_" + name.uppercased()], !path.isEmpty { out[name] = URL(fileURLWithPath: path) }
        }
        for entry in rewardModels {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex, entry.index(after: eq) != entry.endIndex else {
                throw ValidationError("--reward-model wants NAME=PATH, got '\(entry)'")
            }
            let name = String(entry[..<eq]), path = String(entry[entry.index(after: eq)...])
            guard RewardRegistry.neuralNames.contains(name) else {
                throw ValidationError("--reward-model: '\(name)' has no files to locate (neural rewards: "
                                      + RewardRegistry.neuralNames.joined(separator: ", ") + ")")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("--reward-model \(name): \(path) does not exist")
            }
            out[name] = URL(fileURLWithPath: path)
        }
        return out
    }
}

/// Reward names → how to build them, for `--rewards` of annotate, prepare, eval, sample --select-by and
/// bench rewards. Neural rewards load their files only when their turn comes (one model in memory at a time).
enum RewardRegistry {
    /// Images in: JPEG and PNG as Pillow decodes them (`.convert("RGB")`), at full resolution.
    static let imageDecoding = ImageDecoding { bytes, name in try ImageDecoder.decode(bytes, name: name).rgbImage }

    /// The VAE stage of data/preprocess_data.py: centre crop to a square, then Pillow bilinear (antialiased) to `size`.
    static let vaeTransform = VAEImageTransform { image, size in
        try RGBImage8(image).centreCroppedToSquareAndResized(to: size).rgbImage
    }

    /// The neural rewards (MiroRewardModels), with the caption their synthetic twin scores (rewards.md §1).
    static let neural: [(name: String, caption: SyntheticCaption)] = [
        ("aesthetic_score", .imageOnly), ("image_reward_score", .short), ("pick_a_score_score", .short),
        ("hpsv2_score", .short), ("sciscore_score", .short),
        // not a training reward of MIRO (its clip_score is Jina-CLIP, scored on the long caption): the OpenAI
        // CLIP-L/14 score of its evaluation package, on the caption Jina-CLIP would score
        ("openai_clip_score", .long),
    ]
    static var neuralNames: [String] { neural.map(\.name) }

    /// The Shapes world's rewards that look at the image only (they work on any image).
    static let programmatic: [RewardSpec] = [
        RewardSpec(name: "colorfulness_score", syntheticCaption: .imageOnly) { ColorfulnessReward() },
        RewardSpec(name: "compressibility_score", syntheticCaption: .imageOnly) { CompressibilityReward() },
        RewardSpec(name: "quality_score", syntheticCaption: .imageOnly) { QualityReward() },
    ]

    static var names: [String] { neuralNames + programmatic.map(\.name) }

    /// `a,b,c` → specs, in the order given; an unknown name is an error listing the known ones.
    static func specs(_ list: String, files: [String: URL] = [:], batchSize: Int = 16) throws -> [RewardSpec] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw InputError("--rewards names no reward (known: \(self.names.joined(separator: ", ")))") }
        guard Set(names).count == names.count else { throw InputError("--rewards names a reward twice: \(list)") }
        return try names.map { name in
            if let spec = programmatic.first(where: { $0.name == name }) { return spec }
            guard let entry = neural.first(where: { $0.name == name }) else {
                throw InputError("--rewards: unknown reward '\(name)' (known: \(self.names.joined(separator: ", ")))")
            }
            let path = files[name], clipL14 = files["openai_clip_score"]
            return RewardSpec(name: name, syntheticCaption: entry.caption) {
                try load(name, path: path, clipL14: clipL14, batchSize: batchSize)
            }
        }
    }

    /// Loads one neural reward from `path` (see `RewardModelOptions`) or the Hugging Face cache.
    static func load(_ name: String, path: URL?, clipL14: URL?, batchSize: Int) throws -> any RewardModel {
        let fm = FileManager.default
        func isFolder(_ url: URL) -> Bool {
            var directory: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &directory) && directory.boolValue
        }
        switch name {
        case "aesthetic_score":
            guard let path else {
                throw InputError("aesthetic_score needs its MLP file: --reward-model aesthetic_score=PATH/\(AestheticReward.mlpFileName) "
                                 + "(github.com/christophschuhmann/improved-aesthetic-predictor)")
            }
            var mlp = path, clip = clipL14
            if isFolder(path) {
                let candidates = [AestheticReward.mlpFileName, "sac+logos+ava1-l14-linearMSE.safetensors"].map { path.appendingPathComponent($0) }
                guard let file = candidates.first(where: { fm.fileExists(atPath: $0.path) }) else {
                    throw InputError("\(path.path) holds no \(AestheticReward.mlpFileName)")
                }
                mlp = file
                if fm.fileExists(atPath: path.appendingPathComponent("config.json").path) { clip = path }
            }
            if let clip {
                return try AestheticReward.load(clipFolder: clip, mlpFile: mlp, preprocessor: CLIPImagePreprocessing.openAICLIP,
                                                batchSize: batchSize)
            }
            return try AestheticReward.load(mlpFile: mlp, preprocessor: CLIPImagePreprocessing.openAICLIP, batchSize: batchSize)
        case "hpsv2_score":
            let bpeName = "bpe_simple_vocab_16e6.txt.gz"
            guard let path else {
                throw InputError("hpsv2_score needs --reward-model hpsv2_score=PATH: \(CLIPSimilarityReward.Kind.hpsv21FileName) "
                                 + "(huggingface.co/xswu/HPSv2) with open_clip's \(bpeName) beside it (in the open_clip_torch wheel)")
            }
            let folder = isFolder(path) ? path : path.deletingLastPathComponent()
            let checkpoint = isFolder(path) ? path.appendingPathComponent(CLIPSimilarityReward.Kind.hpsv21FileName) : path
            return try CLIPSimilarityReward.loadHPSv2(checkpoint: checkpoint, bpeGZ: folder.appendingPathComponent(bpeName),
                                                      preprocessor: HPSv2Preprocessing.hpsv2, batchSize: batchSize)
        case "image_reward_score":
            return try ImageRewardScore.load(folder: path ?? ImageReward.locateFolder(), preprocessor: CLIPImagePreprocessing.openAICLIP,
                                             batchSize: batchSize)
        default:
            guard let kind = CLIPSimilarityReward.Kind(rawValue: name) else { throw InputError("unknown reward '\(name)'") }
            guard let path else {
                return try CLIPSimilarityReward.load(kind: kind, preprocessor: CLIPImagePreprocessing.huggingFaceCLIP, batchSize: batchSize)
            }
            guard fm.fileExists(atPath: path.appendingPathComponent("config.json").path) else {
                throw InputError("--reward-model \(name)=\(path.path): no config.json there (a transformers CLIP folder, e.g. \(kind.modelRepository))")
            }
            // the tokenizer files: the folder's own, else the repository the reference's processor comes from
            var tokenizer = path
            if !fm.fileExists(atPath: path.appendingPathComponent("vocab.json").path), let repo = kind.tokenizerRepository {
                do {
                    tokenizer = try HuggingFaceCache().snapshot(repoId: repo)
                } catch {
                    throw InputError("\(path.path) has no vocab.json + merges.txt, and the tokenizer's repository is not at hand: \(error)")
                }
            }
            return try CLIPSimilarityReward.load(kind: kind, modelFolder: path, tokenizerFolder: tokenizer,
                                                 preprocessor: CLIPImagePreprocessing.huggingFaceCLIP, batchSize: batchSize)
        }
    }
}
