import Foundation
import Testing
import MiroEngine
import MiroImage
import MiroIO
import MiroRewardModels
import MiroTokenizers

/// Numerical parity with the image-reward 1.5 package's own code on a tiny random ImageReward
/// (scripts/make_imagereward_fixtures.py; references in float64): image embeddings, the text encoder's hidden
/// states and [CLS] feature, the head, the standardised rewards and MIRO's stored values, each ≤ 1e-4 relative.
@Suite(.serialized)
struct ImageRewardParityTests {
    func check(_ model: ImageReward, _ what: String) throws {
        let out = try model.forward(pixels: ImageRewardFixtures.tensor("pixels"), ids: ImageRewardFixtures.tensor("input_ids"),
                                    mask: ImageRewardFixtures.tensor("attention_mask"))
        try expectImageRewardClose(out.imageEmbeds, ImageRewardFixtures.tensor("image_embeds"), "\(what) image_embeds")
        try expectImageRewardClose(out.textHidden, ImageRewardFixtures.tensor("text_hidden"), "\(what) text_hidden")
        try expectImageRewardClose(out.textFeatures, ImageRewardFixtures.tensor("text_cls"), "\(what) text_cls")
        try expectImageRewardClose(out.head, ImageRewardFixtures.tensor("mlp"), "\(what) mlp")
        try expectImageRewardClose(out.rewards, ImageRewardFixtures.tensor("rewards"), "\(what) rewards")
    }

    @Test func torchCheckpointAsUsersHaveIt() throws {
        let model = try ImageRewardFixtures.model()
        #expect(model.config.text.encoderWidth == 32, "encoder_width 768 in the file is overwritten by the vision width")
        #expect(model.config.projectionDim == 16)
        try check(model, ".pt")
    }

    /// `rewards` cuts the text after the longest caption; the fixture's captions are padded to 35, and the
    /// rewards stay those of the reference (which ran on all 35 positions).
    @Test func cuttingTheTextPaddingKeepsTheRewards() throws {
        let model = try ImageRewardFixtures.model()
        let mask = try ImageRewardFixtures.tensor("attention_mask")
        // the rows with padding (one fixture caption fills all 35 positions, which would leave nothing to cut)
        let lengths = try mask.to(.int64).sum([1]).toArray(Int64.self)
        let padded = lengths.indices.filter { lengths[$0] < Int64(mask.size(1)) }
        #expect(padded.count >= 2, "the fixture needs captions with padding")
        let rows = try Tensor(padded.map(Int64.init), shape: [padded.count])
        let cut = try model.rewards(pixels: ImageRewardFixtures.tensor("pixels").indexSelect(0, rows),
                                    ids: ImageRewardFixtures.tensor("input_ids").indexSelect(0, rows), mask: mask.indexSelect(0, rows))
        try expectImageRewardClose(try Tensor(cut, shape: [cut.count]), ImageRewardFixtures.tensor("rewards").indexSelect(0, rows),
                                   "rewards, padding cut")
    }

    /// The same tensors as safetensors (what `miro convert` writes), without the tensors scoring never reads.
    @Test func safeTensorsWithoutTheUnusedTensors() throws {
        let unused: Set<String> = ["blip.vision_proj.weight", "blip.vision_proj.bias", "blip.text_proj.weight",
                                   "blip.text_proj.bias", "blip.text_encoder.embeddings.position_ids"]
        let folder = try tinySafeTensorsFolder(tinyCheckpointTensors().filter { !unused.contains($0.0) })
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ImageReward.load(folder: folder, vision: ImageRewardFixtures.vision)
        #expect(model.config.projectionDim == 256)
        try check(model, "safetensors")
    }

    /// float16 / bfloat16 files load into float32 weights.
    @Test func reducedPrecisionFileLoadsAsFloat32() throws {
        let tensors = try tinyCheckpointTensors().map { name, t in (name, t.dtype == .float32 ? try t.to(.float16) : t) }
        let folder = try tinySafeTensorsFolder(tensors)
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ImageReward.load(folder: folder, vision: ImageRewardFixtures.vision)
        #expect(model.stateDict().allSatisfy { $0.1.dtype == .float32 || $0.0.hasSuffix("position_ids") })
        let rewards = try model.forward(pixels: ImageRewardFixtures.tensor("pixels"), ids: ImageRewardFixtures.tensor("input_ids"),
                                        mask: ImageRewardFixtures.tensor("attention_mask")).rewards
        // fp16 weights move the rewards by rounding only.
        #expect(try imageRewardRelativeError(rewards, ImageRewardFixtures.tensor("rewards")) < 2e-2)
    }

    /// The `RewardModel` path: BLIP tokenizer on the captions, MIRO's stored value `(r + 2) / 4`, batching.
    @Test func rewardModelScoresTheCaptionsAndImages() throws {
        let model = try ImageRewardFixtures.model()
        let tokenizer = try BLIPTokenizer(vocabTXT: ImageRewardFixtures.url("tiny/vocab.txt").path)
        let pixels = try ImageRewardFixtures.tensor("pixels")
        let preprocessor = FixturePixels(pixels: try pixels.floats(), size: 32)
        let scorer = try ImageRewardScore(model: model, tokenizer: tokenizer, preprocessor: preprocessor, batchSize: 3)
        #expect(scorer.name == "image_reward_score")
        let captions = try ImageRewardFixtures.captions()
        let (ids, mask) = try scorer.tokens(captions)
        #expect(try ids.toArray(Int64.self) == ImageRewardFixtures.tensor("input_ids").toArray(Int64.self))
        #expect(try mask.toArray(Int64.self) == ImageRewardFixtures.tensor("attention_mask").toArray(Int64.self))

        // Images are told apart by their width: image i is (i+1) pixels wide.
        let images = (0..<captions.count).map { RGBImage(width: $0 + 1, height: 1) }
        let stored = try scorer.score(images: images, captions: captions)
        let want = try ImageRewardFixtures.tensor("stored")
        try expectImageRewardClose(try Tensor(stored), want, "stored (RGBImage path, batches of 3)")
        try expectImageRewardClose(try Tensor(scorer.score(pixels: pixels, ids: ids, mask: mask)), want, "stored (tensor path)")
        #expect(ImageRewardScore.storedValue(reward: -2) == 0 && ImageRewardScore.storedValue(reward: 2) == 1)
        // two caption lists against one vision pass give what two separate calls give, bit for bit
        let other = Array(captions.reversed())
        let both = try scorer.score(images: images, captionSets: [captions, other])
        #expect(both.count == 2 && both[0] == stored)
        #expect(both[1] == (try scorer.score(images: images, captions: other)))
        #expect(throws: (any Error).self) { try scorer.score(images: images, captions: Array(captions.dropLast())) }
    }

    /// The same tiny model at the real 224 px scoring `e2e.png` through the package's own
    /// `score(caption, PIL image)`: from its preprocessed pixels and the caption, the reward and stored value match.
    /// (With the Pillow-exact `RewardImagePreprocessor`, `pixelValues(decoded e2e.png)` must equal `e2e.pixels`.)
    @Test func endToEndAt224Pixels() throws {
        let tensors = try tinyCheckpointTensors().map { name, t in
            name == "blip.visual_encoder.pos_embed" ? (name, try ImageRewardFixtures.tensor("e2e.pos_embed")) : (name, t)
        }
        let folder = try tinySafeTensorsFolder(tensors)
        defer { try? FileManager.default.removeItem(at: folder) }
        var vision = ImageRewardFixtures.vision
        vision.imageSize = 224
        let model = try ImageReward.load(folder: folder, vision: vision)
        let tokenizer = try BLIPTokenizer(vocabTXT: ImageRewardFixtures.url("tiny/vocab.txt").path)
        let pixels = try ImageRewardFixtures.tensor("e2e.pixels")
        let scorer = try ImageRewardScore(model: model, tokenizer: tokenizer,
                                          preprocessor: FixturePixels(pixels: try pixels.floats(), size: 224))
        let metadata = try TensorFiles.loadSafeTensors(ImageRewardFixtures.url("expected.safetensors")).metadata
        let caption = try #require(metadata["e2e.caption"])
        let (ids, _) = try scorer.tokens([caption])
        #expect(try ids.toArray(Int64.self) == ImageRewardFixtures.tensor("e2e.input_ids").toArray(Int64.self))
        let rewards = try scorer.rewards(images: [RGBImage(width: 1, height: 1)], captions: [caption])
        try expectImageRewardClose(try Tensor(rewards), ImageRewardFixtures.tensor("e2e.reward"), "e2e reward")
        let stored = try scorer.score(images: [RGBImage(width: 1, height: 1)], captions: [caption])
        try expectImageRewardClose(try Tensor(stored), ImageRewardFixtures.tensor("e2e.stored"), "e2e stored")
    }

    /// Seeded random weights (the benchmark's model) give finite, seed-determined rewards.
    @Test func randomWeightsAreSeeded() throws {
        let med = try BLIPMedConfig.read(ImageRewardFixtures.url("tiny/med_config.json"))
        let config = ImageRewardConfig(vision: ImageRewardFixtures.vision, med: med, projectionDim: 16)
        let pixels = try ImageRewardFixtures.tensor("pixels")
        let ids = try ImageRewardFixtures.tensor("input_ids"), mask = try ImageRewardFixtures.tensor("attention_mask")
        let a = try ImageReward.random(config: config, seed: 7).rewards(pixels: pixels, ids: ids, mask: mask)
        let b = try ImageReward.random(config: config, seed: 7).rewards(pixels: pixels, ids: ids, mask: mask)
        let c = try ImageReward.random(config: config, seed: 8).rewards(pixels: pixels, ids: ids, mask: mask)
        #expect(a == b && a != c && a.allSatisfy(\.isFinite))
    }

    @Test func badInputsAreRefused() throws {
        let model = try ImageRewardFixtures.model()
        let ids = try ImageRewardFixtures.tensor("input_ids"), mask = try ImageRewardFixtures.tensor("attention_mask")
        let wrongSize = try Tensor.zeros([4, 3, 64, 64])
        #expect(imageRewardErrorMessage { _ = try model.forward(pixels: wrongSize, ids: ids, mask: mask) }?.contains("[batch, 3, 32, 32]") == true)
        let pixels = try ImageRewardFixtures.tensor("pixels")
        let outside = try Tensor.full([4, 35], Double(model.config.text.vocabSize), dtype: .int64)
        #expect(imageRewardErrorMessage { _ = try model.forward(pixels: pixels, ids: outside, mask: mask) }?.contains("outside the vocabulary") == true)
        let long = try Tensor.zeros([4, 41], dtype: .int64)
        #expect(imageRewardErrorMessage { _ = try model.forward(pixels: pixels, ids: long, mask: long) }?.contains("L ≤ 40") == true)
        let tokenizer = try BLIPTokenizer(vocabTXT: ImageRewardFixtures.url("tiny/vocab.txt").path)
        let wrongPreprocessor = FixturePixels(pixels: [], size: 224)
        #expect(imageRewardErrorMessage {
            _ = try ImageRewardScore(model: model, tokenizer: tokenizer, preprocessor: wrongPreprocessor)
        }?.contains("224") == true)
    }
}

/// A preprocessor that returns row `width − 1` of a fixed pixel batch: lets the RGBImage path run on the
/// reference's own pixel tensors.
struct FixturePixels: RewardImagePreprocessor {
    let pixels: [Float]
    let size: Int

    func pixelValues(_ image: RGBImage) throws -> [Float] {
        let n = 3 * size * size
        let row = image.width - 1
        guard row >= 0, (row + 1) * n <= pixels.count else { throw RewardModelError.input("no fixture row \(row)") }
        return Array(pixels[(row * n)..<((row + 1) * n)])
    }
}
