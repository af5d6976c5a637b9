import Foundation
import MiroImage
import Testing

/// `miro text-embed` and `miro vae encode|decode` on the tiny random components of scripts/make_pipeline_fixtures.py
/// (read from the source tree, as SamplePromptParityTests does).
@Suite(.serialized)
struct ComponentCommandsTests {
    static let fixtures = SamplePromptParityTests.fixtures

    /// The float32 data of an `.npy` (its data ends the file).
    static func floats(_ url: URL, count: Int) throws -> [Float] {
        let data = try Data(contentsOf: url)
        try #require(data.count > 4 * count)
        return data.suffix(4 * count).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The prompt's embedding, trimmed to its 12 real tokens, equals transformers' `last_hidden_state` rows
    /// (cases.json "cat"; the Python pipeline's embedding fixture).
    @Test func textEmbedMatchesTransformers() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("emb")
        let result = try CLI.run(["text-embed", "--text-encoder", Self.fixtures.appendingPathComponent("miro_tiny/text_encoder").path,
                                  "A photo of a cat sitting on a red chair.", "", "--out", out.path, "--dtype", "float32"])
        try #require(result.status == 0, "\(result.output)")
        let cat = out.appendingPathComponent("a-photo-of-a-cat-sitting-on-a-red-chair.npy")
        let header = String(decoding: try Data(contentsOf: cat).prefix(128), as: UTF8.self)
        #expect(header.contains("'<f4'") && header.contains("(12, 32)"), "\(header)")
        let got = try Self.floats(cat, count: 12 * 32)
        let want = try Self.floats(Self.fixtures.appendingPathComponent("cat.embedding.npy"), count: 12 * 32)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5, "max |Δ| \(worst)")
        let empty = String(decoding: try Data(contentsOf: out.appendingPathComponent("empty.npy")).prefix(128), as: UTF8.self)
        #expect(empty.contains("(1, 32)"), "the empty prompt is its </s> alone: \(empty)")
    }

    /// PNG → posterior mean/std (float16, shard names) → PNG, through the tiny VAE (×4 down/up-sampling); a centred
    /// square of the wrong size is refused, naming the file.
    @Test func vaeEncodeDecodeRoundTrip() throws {
        let dir = try CLI.scratch()
        let vae = Self.fixtures.appendingPathComponent("miro_tiny/vae").path
        // 40×32: the centred 32×32 square starts at x = 4
        var bytes: [UInt8] = []
        for i in 0..<(40 * 32) {
            let x = i % 40, y = i / 40
            bytes += [UInt8(x * 6), UInt8(y * 8), 128]
        }
        let png = dir.appendingPathComponent("wide.png")
        try PNG.encode(bytes: bytes, width: 40, height: 32, alpha: false).write(to: png)
        let latents = dir.appendingPathComponent("latents")
        let encoded = try CLI.run(["vae", "encode", "--vae", vae, png.path, "--size", "32", "--out", latents.path])
        try #require(encoded.status == 0, "\(encoded.output)")
        for what in ["mean", "std"] {
            let file = latents.appendingPathComponent("wide.vae_embeddings_\(what)_32.npy")
            let header = String(decoding: try Data(contentsOf: file).prefix(128), as: UTF8.self)
            #expect(header.contains("'<f2'") && header.contains("(4, 8, 8)"), "\(what): \(header)")
        }
        let images = dir.appendingPathComponent("images")
        let decoded = try CLI.run(["vae", "decode", "--vae", vae, latents.appendingPathComponent("wide.vae_embeddings_mean_32.npy").path,
                                   "--out", images.path])
        try #require(decoded.status == 0, "\(decoded.output)")
        let image = try PNGReader.decode(try Data(contentsOf: images.appendingPathComponent("wide.vae_embeddings_mean_32.0.png")))
        #expect(image.width == 32 && image.height == 32)
        // Another side: centre crop then Pillow's bilinear resize (MiroImage, byte-identical to Pillow).
        let resized = try CLI.run(["vae", "encode", "--vae", vae, png.path, "--size", "64", "--out", latents.path])
        try #require(resized.status == 0, "\(resized.output)")
        let header = String(decoding: try Data(contentsOf: latents.appendingPathComponent("wide.vae_embeddings_mean_64.npy")).prefix(128), as: UTF8.self)
        #expect(header.contains("(4, 16, 16)"), "\(header)")
        let broken = dir.appendingPathComponent("broken.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16]).write(to: broken)
        let refused = try CLI.run(["vae", "encode", "--vae", vae, broken.path, "--size", "32", "--out", latents.path])
        #expect(refused.status != 0 && refused.output.contains("broken.jpg"), "\(refused.output)")
    }
}
