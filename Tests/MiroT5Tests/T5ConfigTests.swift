import Foundation
import Testing
import MiroT5

@Suite
struct T5ConfigTests {
    func decode(_ json: String) throws -> T5Config {
        try JSONDecoder().decode(T5Config.self, from: Data(json.utf8))
    }

    @Test("absent fields take T5Config.__init__'s defaults")
    func defaults() throws {
        let c = try decode("{}")
        #expect(c.vocabSize == 32128 && c.dModel == 512 && c.dKV == 64 && c.dFF == 2048 && c.numLayers == 6)
        #expect(c.numHeads == 8 && c.relativeAttentionNumBuckets == 32 && c.relativeAttentionMaxDistance == 128)
        #expect(c.layerNormEpsilon == 1e-6 && c.feedForwardProj == "relu" && c.denseActFn == "relu" && !c.isGatedAct)
        #expect(c == T5Config())
        try c.validate()
    }

    @Test("feed_forward_proj derives dense_act_fn and is_gated_act as transformers does")
    func activationDerivation() throws {
        let gated = try decode(#"{"feed_forward_proj": "gated-gelu"}"#)
        #expect(gated.isGatedAct && gated.denseActFn == "gelu_new" && gated.activation == .geluNew)
        let silu = try decode(#"{"feed_forward_proj": "gated-silu"}"#)
        #expect(silu.isGatedAct && silu.activation == .silu)
        let relu = try decode(#"{"feed_forward_proj": "relu"}"#)
        #expect(!relu.isGatedAct && relu.activation == .relu)
        // An explicit dense_act_fn wins (PretrainedConfig sets leftover kwargs last).
        let explicit = try decode(#"{"feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu"}"#)
        #expect(explicit.isGatedAct && explicit.activation == .gelu)
    }

    @Test("attribute_map aliases set the fields they stand for")
    func aliases() throws {
        let c = try decode(#"{"hidden_size": 96, "num_attention_heads": 3, "num_hidden_layers": 2}"#)
        #expect(c.dModel == 96 && c.numHeads == 3 && c.numLayers == 2)
    }

    @Test("invalid values are refused with the field name",
          arguments: [
            (#"{"d_model": 0}"#, "d_model must be a positive integer, got 0"),
            (#"{"num_heads": -2}"#, "num_heads must be a positive integer, got -2"),
            (#"{"relative_attention_num_buckets": 2}"#, "relative_attention_num_buckets must be at least 4"),
            (#"{"relative_attention_num_buckets": 32, "relative_attention_max_distance": 8}"#, "relative_attention_max_distance 8 must exceed"),
            (#"{"layer_norm_epsilon": -1}"#, "layer_norm_epsilon must be a finite non-negative number"),
            (#"{"feed_forward_proj": "gated-mish"}"#, "dense_act_fn 'mish'"),
            (#"{"vocab_size": 4611686018427387904, "d_model": 4096}"#, "too large to address"),
          ])
    func invalid(json: String, message: String) throws {
        let description = thrownDescription { try decode(json).validate(path: "x/config.json") }
        #expect(description?.contains(message) == true, "\(description ?? "no error")")
        #expect(description?.hasPrefix("x/config.json: ") == true)
    }

    @Test("malformed config.json files name the file and the field")
    func readConfigErrors() throws {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("config.json")
        let cases: [(String, String)] = [
            (#"{"d_model": "big"}"#, "'d_model'"),
            (#"{"feed_forward_proj": "gated-gelu-new"}"#, "is not of the form 'gated-{ACT_FN}'"),
            (#"{"model_type": "umt5"}"#, "model_type 'umt5' is not a T5 encoder"),
            ("[1, 2", "not valid JSON"),
        ]
        for (text, message) in cases {
            try Data(text.utf8).write(to: url)
            let description = thrownDescription { _ = try T5Encoder.readConfig(url) }
            #expect(description?.contains(message) == true, "\(text): \(description ?? "no error")")
            #expect(description?.contains(url.path) == true)
        }
        let missing = thrownDescription { _ = try T5Encoder.readConfig(dir.appendingPathComponent("absent.json")) }
        #expect(missing?.contains("absent.json: cannot read the file") == true)
    }
}
