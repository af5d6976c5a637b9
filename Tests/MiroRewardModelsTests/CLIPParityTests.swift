import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroRewardModels

/// The Swift CLIP towers and rewards against transformers 4.40.2 / open_clip 2.24.0 on tiny random models
/// (scripts/make_clip_reward_fixtures.py): embeddings, logits and stored reward values within 1e-4 relative.
@Suite(.serialized)
struct CLIPParityTests {
    static let tolerance = 1e-4

    func checkEmbeddings(_ model: CLIPModel, tag: String, ids: Tensor, mask: Tensor?) throws {
        let pixels = try Fixtures.reference("pixels.32")
        let image = try model.imageFeatures(pixelValues: pixels)
        let text = try model.textFeatures(ids: ids, mask: mask)
        let imageError = try relativeError(image, Fixtures.reference("\(tag).image_embeds"))
        let textError = try relativeError(text, Fixtures.reference("\(tag).text_embeds"))
        #expect(imageError < Self.tolerance, "\(tag) image embeddings: \(imageError)")
        #expect(textError < Self.tolerance, "\(tag) text embeddings: \(textError)")
    }

    @Test("quick_gelu CLIPModel (model.safetensors, argmax pooling): embeddings, logits, openai_clip_score")
    func quickGELUSafeTensors() throws {
        let model = try CLIPModel.load(folder: Fixtures.url("clip-quickgelu"))
        #expect(model.config.textConfig.hiddenAct == "quick_gelu" && model.config.projectionDim == 768)
        let ids = try Fixtures.reference("ids.quickgelu"), mask = try Fixtures.reference("mask.quickgelu")
        try checkEmbeddings(model, tag: "quickgelu", ids: ids, mask: mask)
        let pixels = try Fixtures.reference("pixels.32")
        let logits = try model.logitsPerImage(imageFeatures: model.imageFeatures(pixelValues: pixels),
                                              textFeatures: model.textFeatures(ids: ids, mask: mask))
        #expect(try relativeError(logits, Fixtures.reference("quickgelu.logits_per_image")) < Self.tolerance)

        let reward = try CLIPSimilarityReward(kind: .openAICLIP, model: model, tokenizer: Fixtures.huggingFaceTokenizer.get(),
                                              preprocessor: FixedPixels(pixels))
        #expect(reward.name == "openai_clip_score")
        let scores = try reward.score(pixelValues: pixels, ids: ids, mask: mask)
        #expect(try relativeError(scores, Fixtures.reference("quickgelu.openai_clip_score")) < Self.tolerance)
    }

    @Test("the same model from sharded safetensors gives the same embeddings")
    func sharded() throws {
        let model = try CLIPModel.load(folder: Fixtures.url("clip-quickgelu-sharded"))
        try checkEmbeddings(model, tag: "quickgelu", ids: Fixtures.reference("ids.quickgelu"), mask: Fixtures.reference("mask.quickgelu"))
    }

    @Test("aesthetic_score: the real-shape MLP (.pth with strided views) on the CLIP image embedding, rating/10")
    func aesthetic() throws {
        let clip = try CLIPModel.load(folder: Fixtures.url("clip-quickgelu"))
        let mlp = try AestheticMLP.load(Fixtures.url("aesthetic-mlp.pth"))
        #expect(mlp.parameterCount == 927_969)
        let pixels = try Fixtures.reference("pixels.32")
        let reward = try AestheticReward(clip: clip, mlp: mlp, preprocessor: FixedPixels(pixels), batchSize: 2)
        #expect(reward.name == "aesthetic_score")
        let ratings = try reward.ratings(pixelValues: pixels)
        #expect(try relativeError(ratings, Fixtures.reference("quickgelu.aesthetic_rating")) < Self.tolerance)
        // Through the RewardModel entry point: batches of 2, captions ignored.
        let images = try (0..<3).map { _ in try blankImage() }
        let scores = try reward.score(images: images, captions: ["", "", ""])
        #expect(try relativeError(scores, Fixtures.reference("quickgelu.aesthetic_score")) < Self.tolerance)
        // The zero-norm guard: a zero embedding stays zero (not NaN) and rates as the bias path does.
        let zero = try mlp.rating(AestheticMLP.normalized(Tensor.zeros([1, 768])))
        #expect(try relativeError(zero, Fixtures.reference("aesthetic.zero_rating")) < Self.tolerance)
    }

    @Test("the aesthetic MLP written as safetensors loads back to the same ratings")
    func aestheticSafeTensors() throws {
        let mlp = try AestheticMLP.load(Fixtures.url("aesthetic-mlp.pth"))
        let file = try temporaryDirectory().appendingPathComponent("mlp.safetensors")
        try TensorFiles.saveSafeTensors(mlp.stateDict(), to: file, saveAs: .float16)
        let back = try AestheticMLP.load(file)
        let x = try AestheticMLP.normalized(Fixtures.reference("quickgelu.image_embeds"))
        // fp16 storage rounds the weights: close, not equal.
        #expect(try relativeError(back.rating(x), mlp.rating(x)) < 1e-2)
        #expect(back.parameterShapes.map(\.key) == mlp.parameterShapes.map(\.key))
    }

    @Test("gelu CLIPModel (pytorch_model.bin, first-eos pooling, eps 1e-6): pick_a_score_score and sciscore_score")
    func geluBin() throws {
        let model = try CLIPModel.load(folder: Fixtures.url("clip-gelu-bin"))
        #expect(model.config.textConfig.eosTokenId == 300 && !model.config.textConfig.poolsAtArgmax)
        let ids = try Fixtures.reference("ids.gelu"), mask = try Fixtures.reference("mask.gelu")
        try checkEmbeddings(model, tag: "gelu", ids: ids, mask: mask)
        let pixels = try Fixtures.reference("pixels.32")
        for (kind, key) in [(CLIPSimilarityReward.Kind.pickScore, "gelu.pick_a_score_score"), (.sciScore, "gelu.sciscore_score")] {
            let reward = try CLIPSimilarityReward(kind: kind, model: model, tokenizer: Fixtures.huggingFaceTokenizer.get(),
                                                  preprocessor: FixedPixels(pixels))
            let scores = try reward.score(pixelValues: pixels, ids: ids, mask: mask)
            #expect(try relativeError(scores, Fixtures.reference(key)) < Self.tolerance, "\(kind)")
        }
    }

    @Test("open_clip checkpoints like HPS_v2.1_compressed.pt (fp32 with attn_mask, fp16) → hpsv2_score", arguments: ["32", "16"])
    func openCLIP(_ bits: String) throws {
        let config = try OpenCLIPModelConfig.load(Fixtures.url("openclip-tiny.json"))
        let model = try CLIPModel.load(openCLIPCheckpoint: Fixtures.url("openclip-tiny-fp\(bits).pt"), config: config)
        let ids = try Fixtures.reference("ids.openclip")
        try checkEmbeddings(model, tag: "openclip\(bits)", ids: ids, mask: nil)
        let pixels = try Fixtures.reference("pixels.32")
        let reward = try CLIPSimilarityReward(kind: .hpsv2, model: model, tokenizer: Fixtures.openCLIPTokenizer.get(),
                                              preprocessor: FixedPixels(pixels))
        #expect(reward.name == "hpsv2_score")
        let scores = try reward.score(pixelValues: pixels, ids: ids, mask: nil)
        #expect(try relativeError(scores, Fixtures.reference("openclip\(bits).hpsv2_score")) < Self.tolerance)
    }

    @Test("an open_clip state dict converted to safetensors (miro convert) loads the same way")
    func openCLIPSafeTensors() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: Fixtures.url("openclip-tiny-fp16.pt"), key: "state_dict")
        let file = try temporaryDirectory().appendingPathComponent("hps.safetensors")
        try SafeTensorsWriter.write(checkpoint.safeTensors, metadata: nil, to: file)
        let config = try OpenCLIPModelConfig.load(Fixtures.url("openclip-tiny.json"))
        let model = try CLIPModel.load(openCLIPCheckpoint: file, config: config)
        try checkEmbeddings(model, tag: "openclip16", ids: Fixtures.reference("ids.openclip"), mask: nil)
    }
}
