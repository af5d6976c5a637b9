import Foundation
import Testing
import MiroEngine
import MiroRewardModels

/// The full-size architectures, built shape-only (no weight memory) from their real configurations, against the
/// committed copies of /work/shared/docs/keys/*.tsv (dumped from the reference models).
@Suite(.serialized)
struct FullSizeLayoutTests {
    static func referenceKeys(_ file: String) throws -> [(String, [Int])] {
        let text = try String(contentsOf: Fixtures.url("keys/\(file)"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t").map(String.init)
            try #require(fields.count == 3 && fields[2] == "float32", "bad TSV line \(line)")
            let shape = fields[1] == "scalar" ? [] : try fields[1].split(separator: "x").map { try #require(Int($0)) }
            return (fields[0], shape)
        }
    }

    func expectSameLayout(_ mine: [(key: String, shape: [Int])], _ reference: [(String, [Int])]) {
        #expect(mine.count == reference.count)
        #expect(mine.map(\.key) == reference.map(\.0))
        let shapes = Dictionary(uniqueKeysWithValues: mine.map { ($0.key, $0.shape) })
        for (key, shape) in reference {
            #expect(shapes[key] == shape, "\(key): \(shapes[key].map { "\($0)" } ?? "absent") vs \(shape)")
        }
    }

    @Test("OpenAI CLIP ViT-L/14 (HF names): 590 keys in state_dict order, 427,616,513 parameters, vision + projection 303,966,208")
    func vitL14() throws {
        let model = try CLIPModel.shapeOnly(config: .openAIViTL14)
        expectSameLayout(model.parameterShapes, try Self.referenceKeys("clip-vit-l14-keys.tsv"))
        #expect(model.parameterCount == 427_616_513)
        #expect(CLIPConfig.openAIViTL14.parameterCount == 427_616_513)
        let vision = model.parameterShapes.filter { $0.key.hasPrefix("vision_model.") || $0.key == "visual_projection.weight" }
        #expect(vision.reduce(0) { $0 + $1.shape.reduce(1, *) } == 303_966_208)
        // No weight memory: each tensor is a stride-0 broadcast of one scalar.
        #expect(model.parameters().allSatisfy { !$0.isContiguous || $0.count == 1 })
    }

    @Test("OpenAI ViT-L/14 built from open_clip's ViT-L-14 config (quick_gelu) is the same model")
    func vitL14FromOpenCLIP() throws {
        let fromOpenCLIP = OpenCLIPModelConfig.openAIViTL14.clipConfig
        #expect(fromOpenCLIP.visionConfig.hiddenAct == "quick_gelu")
        let model = try CLIPModel.shapeOnly(config: fromOpenCLIP)
        expectSameLayout(model.parameterShapes, try Self.referenceKeys("clip-vit-l14-keys.tsv"))
        #expect(fromOpenCLIP.parameterCount == 427_616_513)
    }

    @Test("ViT-H-14 (PickScore / SciScore, HF names): 910 keys, 986,109,441 parameters, erf GELU")
    func vitH14() throws {
        let model = try CLIPModel.shapeOnly(config: .vitH14)
        #expect(model.config.visionConfig.hiddenAct == "gelu" && model.config.visionConfig.numAttentionHeads == 16)
        expectSameLayout(model.parameterShapes, try Self.referenceKeys("clip-vit-h14-hf-keys.tsv"))
        #expect(model.parameterCount == 986_109_441)
    }

    @Test("ViT-H-14 in open_clip names (HPSv2): the 686 keys rename onto exactly the HF model's 910 with their shapes")
    func vitH14OpenCLIPNames() throws {
        let reference = try Self.referenceKeys("clip-vit-h14-openclip-keys.tsv")
        #expect(reference.count == 686)
        #expect(reference.reduce(0) { $0 + $1.1.reduce(1, *) } == 986_109_441)
        // The loader's renaming applied to the names and shapes alone (the tensors would be 3.9 GB).
        let renamed = try OpenCLIPLayout.renamedShapes(reference)
        let model = try CLIPModel.shapeOnly(config: OpenCLIPModelConfig.vitH14.clipConfig)
        let mine = Dictionary(uniqueKeysWithValues: model.parameterShapes.map { ($0.key, $0.shape) })
        #expect(renamed.count == mine.count)
        for (key, shape) in renamed {
            #expect(mine[key] == shape, "\(key): \(mine[key].map { "\($0)" } ?? "absent") vs \(shape)")
        }
    }

    @Test("the aesthetic MLP: layers.{0,2,4,6,7}, 927,969 parameters")
    func aestheticMLP() throws {
        let mlp = try AestheticMLP.shapeOnly()
        expectSameLayout(mlp.parameterShapes, try Self.referenceKeys("aesthetic-mlp-keys.tsv"))
        #expect(mlp.parameterCount == 927_969)
    }

    @Test("open_clip 2.24.0's ViT-H-14.json decodes to the built-in configuration")
    func openCLIPJSON() throws {
        let json = """
        {"embed_dim": 1024, "vision_cfg": {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14},
         "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24}}
        """
        #expect(try JSONDecoder().decode(OpenCLIPModelConfig.self, from: Data(json.utf8)) == .vitH14)
    }

    @Test("openai/clip-vit-large-patch14's config.json (text_config_dict wins over text_config) decodes to .openAIViTL14")
    func openAIConfigJSON() throws {
        // The published file's shape: both text_config and text_config_dict, the latter authoritative.
        let json = """
        {"architectures": ["CLIPModel"], "initializer_factor": 1.0, "logit_scale_init_value": 2.6592, "model_type": "clip",
         "projection_dim": 768,
         "text_config": {"hidden_size": 512, "eos_token_id": 2},
         "text_config_dict": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                              "num_hidden_layers": 12, "projection_dim": 768, "bos_token_id": 0, "eos_token_id": 2,
                              "pad_token_id": 1},
         "vision_config_dict": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                                "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768}}
        """
        #expect(try JSONDecoder().decode(CLIPConfig.self, from: Data(json.utf8)) == .openAIViTL14)
    }
}
