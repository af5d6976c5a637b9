import Foundation
import MiroEngine
import MiroFormats
import MiroRewardModels
import MiroTokenizers
import Testing

@Suite(.serialized)
struct CacheLoadingTests {
    /// Puts `files` (name → source file) into `root` as the hub cache lays out `repoId` (refs/main, snapshots/<hash>
    /// with symlinks into blobs).
    static func addRepository(_ repoId: String, files: [String: URL], to root: URL) throws {
        let repo = root.appendingPathComponent("models--" + repoId.replacingOccurrences(of: "/", with: "--"))
        let commit = String(repeating: "c", count: 40)
        let snapshot = repo.appendingPathComponent("snapshots/\(commit)")
        let blobs = repo.appendingPathComponent("blobs")
        let fm = FileManager.default
        try fm.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try fm.createDirectory(at: blobs, withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        for (i, (name, source)) in files.sorted(by: { $0.key < $1.key }).enumerated() {
            let blob = blobs.appendingPathComponent("blob\(i)")
            try fm.copyItem(at: source, to: blob)
            try fm.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path, withDestinationPath: "../../blobs/blob\(i)")
        }
    }

    @Test("CLIPModel.load(repoId:) reads a snapshot laid out as the hub cache does (symlinks into blobs)")
    func loadFromCache() throws {
        let root = try temporaryDirectory()
        let source = try Fixtures.url("clip-gelu-bin")
        try Self.addRepository("tiny/pickscore", files: ["config.json": source.appendingPathComponent("config.json"),
                                                         "pytorch_model.bin": source.appendingPathComponent("pytorch_model.bin")], to: root)
        let model = try CLIPModel.load(repoId: "tiny/pickscore", cache: HuggingFaceCache(root: root))
        let image = try model.imageFeatures(pixelValues: Fixtures.reference("pixels.32"))
        #expect(try relativeError(image, Fixtures.reference("gelu.image_embeds")) < 1e-4)

        let missing = try #require(thrownDescription { _ = try CLIPModel.load(repoId: "yuvalkirstain/PickScore_v1", cache: HuggingFaceCache(root: root)) })
        #expect(missing.contains("is not in the Hugging Face cache"), "\(missing)")
    }

    @Test("PickScore from the cache: weights from yuvalkirstain/PickScore_v1, tokenizer files from the LAION CLIP-H repository")
    func pickScoreFromCache() throws {
        let root = try temporaryDirectory()
        let source = try Fixtures.url("clip-gelu-bin")
        try Self.addRepository("yuvalkirstain/PickScore_v1", files: ["config.json": source.appendingPathComponent("config.json"),
                                                                     "pytorch_model.bin": source.appendingPathComponent("pytorch_model.bin")], to: root)
        let tokenizerFiles = try CLIPTokenizer.writeHuggingFaceFiles(fromBPEGZ: Fixtures.bpeGZ.path, into: temporaryDirectory().path)
        try Self.addRepository("laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
                               files: ["vocab.json": URL(fileURLWithPath: tokenizerFiles.vocabJSON),
                                       "merges.txt": URL(fileURLWithPath: tokenizerFiles.mergesTXT)], to: root)
        let pixels = try Fixtures.reference("pixels.32")
        let reward = try CLIPSimilarityReward.load(kind: .pickScore, cache: HuggingFaceCache(root: root), preprocessor: FixedPixels(pixels))
        let scores = try reward.score(pixelValues: pixels, ids: Fixtures.reference("ids.gelu"), mask: Fixtures.reference("mask.gelu"))
        #expect(try relativeError(scores, Fixtures.reference("gelu.pick_a_score_score")) < 1e-4)
        #expect(try reward.tokenize(["a photo of a cat"]).ids.toArray(Int64.self) == [49406, 320, 1125, 539, 320, 2368, 49407])

        // HPSv2 from the cache is built as ViT-H-14: the tiny checkpoint under that name is refused by tensor.
        try Self.addRepository("xswu/HPSv2", files: [CLIPSimilarityReward.Kind.hpsv21FileName: Fixtures.url("openclip-tiny-fp16.pt")], to: root)
        let hps = try #require(thrownDescription {
            _ = try CLIPSimilarityReward.load(kind: .hpsv2, cache: HuggingFaceCache(root: root), bpeGZ: Fixtures.bpeGZ,
                                              preprocessor: FixedPixels(Tensor.zeros([1, 3, 224, 224])))
        })
        #expect(hps.contains("HPS_v2.1_compressed.pt") && hps.contains("has shape"), "\(hps)")
    }
}
