import Foundation
import MiroFormats
import MiroRewardModels
import Testing

@Suite(.serialized)
struct CacheLoadingTests {
    @Test("CLIPModel.load(repoId:) reads a snapshot laid out as the hub cache does (symlinks into blobs)")
    func loadFromCache() throws {
        let root = try temporaryDirectory()
        let repo = root.appendingPathComponent("models--tiny--pickscore")
        let commit = String(repeating: "c", count: 40)
        let snapshot = repo.appendingPathComponent("snapshots/\(commit)")
        let blobs = repo.appendingPathComponent("blobs")
        let fm = FileManager.default
        try fm.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try fm.createDirectory(at: blobs, withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        let source = try Fixtures.url("clip-gelu-bin")
        for (i, name) in ["config.json", "pytorch_model.bin"].enumerated() {
            let blob = blobs.appendingPathComponent("blob\(i)")
            try fm.copyItem(at: source.appendingPathComponent(name), to: blob)
            try fm.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path, withDestinationPath: "../../blobs/blob\(i)")
        }
        let model = try CLIPModel.load(repoId: "tiny/pickscore", cache: HuggingFaceCache(root: root))
        let image = try model.imageFeatures(pixelValues: Fixtures.reference("pixels.32"))
        #expect(try relativeError(image, Fixtures.reference("gelu.image_embeds")) < 1e-4)

        let missing = try #require(thrownDescription { _ = try CLIPModel.load(repoId: "yuvalkirstain/PickScore_v1", cache: HuggingFaceCache(root: root)) })
        #expect(missing.contains("is not in the Hugging Face cache"), "\(missing)")
    }
}
