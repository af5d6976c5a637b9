import Foundation
import MiroFormats
import MiroT5
import Testing

@Suite
struct T5CacheLoadingTests {
    @Test("T5Encoder.load(repoId:) reads a snapshot laid out as the hub cache does (symlinks into blobs)")
    func loadFromCache() throws {
        let root = try temporaryDirectory()
        let repo = root.appendingPathComponent("models--tiny--t5")
        let commit = String(repeating: "e", count: 40)
        let snapshot = repo.appendingPathComponent("snapshots/\(commit)")
        let blobs = repo.appendingPathComponent("blobs")
        let fm = FileManager.default
        try fm.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try fm.createDirectory(at: blobs, withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        let source = try Fixtures.url("t5-bf16")
        for (i, name) in ["config.json", "model.safetensors"].enumerated() {
            let blob = blobs.appendingPathComponent("blob\(i)")
            try fm.copyItem(at: source.appendingPathComponent(name), to: blob)
            try fm.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path, withDestinationPath: "../../blobs/blob\(i)")
        }
        let model = try T5Encoder.load(repoId: "tiny/t5", cache: HuggingFaceCache(root: root))
        #expect(model.config.dModel == 24)
    }
}
