import Foundation
import Testing
import MiroEngine
import MiroRewardModels

/// Files and inputs a user can get wrong: each error names the file, the tensor or field, and the value.
@Suite(.serialized)
struct BadInputTests {
    @Test("a config.json whose sizes disagree with the weights names the tensor, both shapes and the config fields")
    func sizeMismatch() throws {
        let folder = try Fixtures.copy("clip-quickgelu")
        try editConfig(folder) { config in
            var text = config["text_config"] as? [String: Any] ?? [:]
            text["intermediate_size"] = 48
            config["text_config"] = text
        }
        let message = try #require(thrownDescription { _ = try CLIPModel.load(folder: folder) })
        #expect(message.contains("text_model.encoder.layers.0.mlp.fc1.weight"), "\(message)")
        #expect(message.contains("[64, 32]") && message.contains("[48, 32]"), "\(message)")
        #expect(message.contains("intermediate_size"), "\(message)")
    }

    @Test("a config with fewer layers than the weights is refused: the extra tensors have no place")
    func extraTensors() throws {
        let folder = try Fixtures.copy("clip-quickgelu")
        try editConfig(folder) { config in
            var vision = config["vision_config"] as? [String: Any] ?? [:]
            vision["num_hidden_layers"] = 1
            config["vision_config"] = vision
        }
        let message = try #require(thrownDescription { _ = try CLIPModel.load(folder: folder) })
        #expect(message.contains("vision_model.encoder.layers.1.") && message.contains("disagrees with the weights"), "\(message)")
    }

    @Test("invalid config values are refused by name")
    func invalidConfig() throws {
        let folder = try Fixtures.copy("clip-quickgelu")
        try editConfig(folder) { config in
            var vision = config["vision_config"] as? [String: Any] ?? [:]
            vision["hidden_act"] = "swiglu"
            config["vision_config"] = vision
        }
        let message = try #require(thrownDescription { _ = try CLIPModel.load(folder: folder) })
        #expect(message.contains("config.json") && message.contains("vision_config.hidden_act 'swiglu'"), "\(message)")
        try editConfig(folder) { config in
            config["vision_config"] = ["hidden_size": 30, "num_attention_heads": 4]
        }
        let heads = try #require(thrownDescription { _ = try CLIPModel.load(folder: folder) })
        #expect(heads.contains("not divisible"), "\(heads)")
    }

    @Test("missing files: the folder, config.json, the weights, an open_clip checkpoint, the MLP")
    func missingFiles() throws {
        let nowhere = URL(fileURLWithPath: "/nonexistent/clip")
        let folder = try #require(thrownDescription { _ = try CLIPModel.load(folder: nowhere) })
        #expect(folder.contains("/nonexistent/clip/config.json") && folder.contains("no such file"), "\(folder)")

        let noWeights = try Fixtures.copy("clip-quickgelu")
        try FileManager.default.removeItem(at: noWeights.appendingPathComponent("model.safetensors"))
        let weights = try #require(thrownDescription { _ = try CLIPModel.load(folder: noWeights) })
        #expect(weights.contains("no model.safetensors, model.safetensors.index.json, pytorch_model.bin"), "\(weights)")

        let pt = try #require(thrownDescription {
            _ = try CLIPModel.load(openCLIPCheckpoint: URL(fileURLWithPath: "/nonexistent/HPS_v2.1_compressed.pt"), config: .vitH14)
        })
        #expect(pt.contains("/nonexistent/HPS_v2.1_compressed.pt: no such file"), "\(pt)")
        let mlp = try #require(thrownDescription { _ = try AestheticMLP.load(URL(fileURLWithPath: "/nonexistent/mlp.pth")) })
        #expect(mlp.contains("/nonexistent/mlp.pth: no such file"), "\(mlp)")
    }

    @Test("an open_clip checkpoint under the wrong geometry names the renamed tensor and where it was stored")
    func openCLIPWrongConfig() throws {
        var config = try OpenCLIPModelConfig.load(Fixtures.url("openclip-tiny.json"))
        config.textCfg.width = 64
        config.textCfg.heads = 4
        let message = try #require(thrownDescription {
            _ = try CLIPModel.load(openCLIPCheckpoint: Fixtures.url("openclip-tiny-fp32.pt"), config: config)
        })
        #expect(message.contains("openclip-tiny-fp32.pt") && message.contains("text_model.embeddings.token_embedding.weight"), "\(message)")
        #expect(message.contains("token_embedding.weight") && message.contains("[512, 32]") && message.contains("[512, 64]"), "\(message)")
    }

    @Test("scoring: captions whose ids exceed the model's vocabulary, unpaired inputs, wrong pixel shapes")
    func scoringInputs() throws {
        let model = try CLIPModel.load(folder: Fixtures.url("clip-gelu-bin"))
        let pixels = try Fixtures.reference("pixels.32")
        let reward = try CLIPSimilarityReward(kind: .pickScore, model: model, tokenizer: Fixtures.huggingFaceTokenizer.get(),
                                              preprocessor: FixedPixels(pixels))
        // The tiny model has 512 tokens; real CLIP ids (49406 for the start token) do not fit.
        let vocabulary = try #require(thrownDescription { _ = try reward.score(images: [try blankImage()], captions: ["a cat"]) })
        #expect(vocabulary.contains("token id 49406 is outside the model's vocabulary 0..<512"), "\(vocabulary)")
        let unpaired = try #require(thrownDescription { _ = try reward.score(images: [try blankImage()], captions: ["a", "b"]) })
        #expect(unpaired.contains("pick_a_score_score"), "\(unpaired)")
        let left = try #require(thrownDescription {
            _ = try model.textFeatures(ids: Tensor([Int64(0), 1, 300], shape: [1, 3]), mask: Tensor([Int64(0), 1, 1], shape: [1, 3]))
        })
        #expect(left.contains("row 0 starts with padding"), "\(left)")
        let shape = try #require(thrownDescription { _ = try model.imageFeatures(pixelValues: Tensor.zeros([1, 3, 16, 16])) })
        #expect(shape.contains("[batch, 3, 32, 32]") && shape.contains("[1, 3, 16, 16]"), "\(shape)")
    }
}
