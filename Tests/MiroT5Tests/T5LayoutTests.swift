import Foundation
import Testing
import MiroEngine
import MiroT5

/// The full-size FLAN-T5-XL encoder, described without allocating its 4.9 GB of weights.
@Suite
struct T5LayoutTests {
    /// `key → shape` from the committed copy of /work/shared/docs/keys/t5-xl-encoder-keys.tsv (dumped from
    /// transformers' `T5EncoderModel` built from the published config).
    static func referenceKeys() throws -> [(String, [Int])] {
        let text = try String(contentsOf: Fixtures.url("t5-xl-encoder-keys.tsv"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t").map(String.init)
            try #require(fields.count == 3 && fields[2] == "float32", "bad TSV line \(line)")
            let shape = try fields[1].split(separator: "x").map { try #require(Int($0)) }
            return (fields[0], shape)
        }
    }

    @Test("FLAN-T5-XL built shape-only has exactly the reference key set, shapes and order, and 1,223,527,424 parameters")
    func flanT5XLKeys() throws {
        let model = try T5Encoder.shapeOnly(config: .flanT5XL)
        let mine = model.parameterShapes
        let reference = try Self.referenceKeys()
        #expect(reference.count == 220)
        #expect(mine.count == reference.count)
        #expect(mine.map(\.key) == reference.map(\.0))
        let shapes = Dictionary(uniqueKeysWithValues: mine.map { ($0.key, $0.shape) })
        for (key, shape) in reference {
            #expect(shapes[key] == shape, "\(key): \(shapes[key].map { "\($0)" } ?? "absent") vs \(shape)")
        }
        #expect(model.uniqueParameterCount == 1_223_527_424)
        #expect(T5Config.flanT5XL.encoderParameterCount == 1_223_527_424)
        // No weight memory: each tensor is a stride-0 broadcast of one scalar.
        #expect(model.parameters().allSatisfy { $0.isContiguous == false || $0.count == 1 })
    }

    @Test("the same FLAN-T5-XL layout comes from its published config.json text")
    func flanConfigJSON() throws {
        // google/flan-t5-xl config.json (as published; transformers-version specific keys left out).
        let json = """
        {"architectures": ["T5ForConditionalGeneration"], "d_ff": 5120, "d_kv": 64, "d_model": 2048,
         "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1,
         "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": true,
         "is_gated_act": true, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
         "num_decoder_layers": 24, "num_heads": 32, "num_layers": 24, "output_past": true, "pad_token_id": 0,
         "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
         "tie_word_embeddings": false, "torch_dtype": "float32", "use_cache": true, "vocab_size": 32128}
        """
        let config = try JSONDecoder().decode(T5Config.self, from: Data(json.utf8))
        #expect(config == .flanT5XL)
    }
}
