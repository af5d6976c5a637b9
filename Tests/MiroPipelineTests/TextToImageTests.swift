import Foundation
import MiroEngine
import MiroPipeline
import Testing

@Suite struct TextToImageTests {
    /// `remap_image_torch`: (clamp(x·0.5 + 0.5, 0, 1) · 255).to(uint8) truncates; values outside [−1, 1] clamp.
    @Test func remapTruncatesLikeTorch() throws {
        // one 1×2 image per channel value set: (B=1, C=3, H=1, W=2)
        let x = try Tensor([-1, 0, 1, 0.999, -2, 3] as [Float], shape: [1, 3, 1, 2])
        let images = try ImageRemap.uint8Images(x)
        #expect(images.count == 1 && images[0].width == 2 && images[0].height == 1)
        // pixel (0,0) = channels (−1, 1, −2); pixel (1,0) = (0, 0.999, 3)
        // 0 → 127.5 → 127; 0.999 → 254.87 → 254
        #expect(images[0].bytes == [0, 255, 0, 127, 254, 255])
    }

    @Test func remapRefusesWrongShapes() throws {
        let x = try Tensor.zeros([1, 4, 2, 2])
        #expect(throws: InputError.self) { try ImageRemap.uint8Images(x) }
    }
}

/// `ComponentLocator`: flag, then `$MIRO_*`, then the folder beside the checkpoint, then the Hugging Face cache; a
/// miss lists every place it looked.
@Suite struct ComponentLocatorTests {
    func folder(_ path: URL, files: [String]) throws {
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        for f in files { try Data("{}".utf8).write(to: path.appendingPathComponent(f)) }
    }

    @Test func searchOrderAndTheMissMessage() throws {
        let root = try scratchDirectory(suite: "component-locator", test: "order")
        let checkpoint = root.appendingPathComponent("miro")
        let cache = root.appendingPathComponent("hub")
        let vaeFiles = ["config.json", "diffusion_pytorch_model.safetensors"]
        try folder(checkpoint, files: ["config.json"])
        // nothing anywhere: the error names the variable, the sibling folder, the cache and how to download
        let none = ComponentLocator(environment: ["HF_HUB_CACHE": cache.path])
        let miss = try #require(throws: InputError.self) {
            try none.locate(.vae, given: nil, checkpoint: checkpoint, repo: "stabilityai/sdxl-vae")
        }
        for part in ["$MIRO_VAE: not set", checkpoint.appendingPathComponent("vae").path, cache.path,
                     "huggingface-cli download stabilityai/sdxl-vae", "--vae DIR"] {
            #expect(miss.description.contains(part), "\(part) not in: \(miss)")
        }
        // the cache snapshot
        let commit = String(repeating: "a", count: 40)
        let snapshot = cache.appendingPathComponent("models--stabilityai--sdxl-vae/snapshots/\(commit)")
        try folder(snapshot, files: vaeFiles)
        try folder(cache.appendingPathComponent("models--stabilityai--sdxl-vae/refs"), files: [])
        try Data(commit.utf8).write(to: cache.appendingPathComponent("models--stabilityai--sdxl-vae/refs/main"))
        #expect(try none.locate(.vae, given: nil, checkpoint: checkpoint, repo: "stabilityai/sdxl-vae").path == snapshot.path)
        // a complete sibling folder wins over the cache; an incomplete one is skipped with its reason
        let sibling = checkpoint.appendingPathComponent("vae")
        try folder(sibling, files: ["config.json"])
        #expect(try none.locate(.vae, given: nil, checkpoint: checkpoint, repo: "stabilityai/sdxl-vae").path == snapshot.path)
        try folder(sibling, files: vaeFiles)
        #expect(try none.locate(.vae, given: nil, checkpoint: checkpoint, repo: "stabilityai/sdxl-vae").path == sibling.path)
        // the variable wins over the sibling; the flag over everything; a bad flag is an error, not a fallback
        let named = root.appendingPathComponent("elsewhere")
        try folder(named, files: vaeFiles)
        let withVariable = ComponentLocator(environment: ["HF_HUB_CACHE": cache.path, "MIRO_VAE": named.path])
        #expect(try withVariable.locate(.vae, given: nil, checkpoint: checkpoint, repo: "x/y").path == named.path)
        #expect(try withVariable.locate(.vae, given: sibling.path, checkpoint: checkpoint, repo: "x/y").path == sibling.path)
        let bad = try #require(throws: InputError.self) {
            try withVariable.locate(.vae, given: root.appendingPathComponent("nope").path, checkpoint: checkpoint, repo: "x/y")
        }
        #expect(bad.description.contains("--vae") && bad.description.contains("no such folder"), "\(bad)")
        // a text encoder folder needs weights and a tokenizer
        let t5 = root.appendingPathComponent("t5")
        try folder(t5, files: ["config.json", "model.safetensors"])
        let noTokenizer = try #require(throws: InputError.self) {
            try none.locate(.textEncoder, given: t5.path, checkpoint: checkpoint, repo: "google/flan-t5-xl")
        }
        #expect(noTokenizer.description.contains("tokenizer.json or spiece.model"), "\(noTokenizer)")
    }
}
