import Foundation
import MiroImage
import Testing

/// `miro sample --checkpoint OFFICIAL_FOLDER "prompt"` end to end against the real `MiroPipeline.__call__`: the
/// tiny random pipeline of scripts/make_pipeline_fixtures.py (Tests/MiroPipelineTests/Fixtures/pipeline, read
/// from the source tree: this target has no resources of its own), the PNGs' pixels against the uint8 images
/// Python returned for the same prompt, seed and settings.
@Suite(.serialized)
struct SamplePromptParityTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MiroPipelineTests/Fixtures/pipeline")

    /// The data of a uint8 `.npy` (the header is skipped: its data ends the file).
    static func npyBytes(_ url: URL, count: Int) throws -> [UInt8] {
        let data = try Data(contentsOf: url)
        try #require(data.count > count)
        return [UInt8](data.suffix(count))
    }

    /// cases.json "cat": 12 tokens, two images per prompt, seed 7, 4 steps, guidance 3, two reward targets.
    @Test func promptToPNGMatchesThePythonPipeline() throws {
        let source = Self.fixtures.appendingPathComponent("miro_tiny")
        try #require(FileManager.default.fileExists(atPath: source.path), "regenerate with scripts/make_pipeline_fixtures.py")
        let dir = try CLI.scratch()
        let checkpoint = dir.appendingPathComponent("miro_tiny")
        try FileManager.default.copyItem(at: source, to: checkpoint)
        let out = dir.appendingPathComponent("out")
        let result = try CLI.run([
            "sample", "--checkpoint", checkpoint.path, "A photo of a cat sitting on a red chair.",
            "--text-encoder", checkpoint.appendingPathComponent("text_encoder").path,
            "--vae", checkpoint.appendingPathComponent("vae").path, "--decoder", "vae",
            "--seed", "7", "--steps", "4", "--guidance", "3", "-n", "2",
            "--reward", "aesthetic_score=0.9", "--reward", "clip_score=0.6", "--out", out.path,
        ])
        try #require(result.status == 0, "\(result.output)")
        let pngs = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".png") }.sorted()
        try #require(pngs.count == 2, "\(pngs)")
        let per = 32 * 32 * 3
        let want = try Self.npyBytes(Self.fixtures.appendingPathComponent("cat.images.npy"), count: 2 * per)
        var worst = 0
        for (k, name) in pngs.enumerated() {
            let png = try PNGReader.decode(Data(contentsOf: out.appendingPathComponent(name)))
            #expect(png.width == 32 && png.height == 32 && png.channels == 3, "\(name)")
            let expected = want[(k * per)..<((k + 1) * per)]
            for (g, w) in zip(png.bytes, expected) { worst = max(worst, abs(Int(g) - Int(w))) }
        }
        // measured: 0 (the PNGs hold exactly the bytes MiroPipeline returned)
        #expect(worst <= 1)
    }
}
