import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroT5

/// Broken folders fail with a T5Error that names the file and the tensor; odd but valid ones load.
@Suite(.serialized)
struct T5LoadingTests {
    /// The shard files of the sharded fixture, sorted.
    func shards(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".safetensors") }.sorted()
    }

    func loadError(_ folder: URL, precision: T5Precision = .float32) -> (T5Error?, String) {
        do {
            _ = try T5Encoder.load(folder: folder, dtype: precision)
            return (nil, "no error")
        } catch let error as T5Error {
            return (error, error.description)
        } catch {
            return (nil, "not a T5Error: \(error)")
        }
    }

    /// Rewrites the single-file fixture's tensors through `edit`.
    func rewriteWeights(_ folder: URL, _ edit: (inout [String: Tensor]) -> Void) throws {
        let url = folder.appendingPathComponent("model.safetensors")
        var (tensors, _) = try TensorFiles.loadSafeTensors(url)
        edit(&tensors)
        try TensorFiles.saveSafeTensors(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: url)
    }

    @Test("the sharded fixture really is sharded (≥ 3 shards, an index, decoder and lm_head tensors)")
    func fixtureShape() throws {
        let folder = try Fixtures.url("t5-sharded")
        #expect(try shards(folder).count >= 3)
        let index = try SafeTensorsIndex(contentsOf: folder.appendingPathComponent("model.safetensors.index.json"))
        #expect(index.names.contains("lm_head.weight"))
        #expect(index.names.contains { $0.hasPrefix("decoder.") })
        #expect(index.names.contains("shared.weight") && !index.names.contains("encoder.embed_tokens.weight"))
    }

    @Test("an index naming a missing shard: the error names the index, the shard and an encoder tensor in it")
    func missingShard() throws {
        let folder = try Fixtures.copy("t5-sharded")
        let index = try SafeTensorsIndex(contentsOf: folder.appendingPathComponent("model.safetensors.index.json"))
        let shard = try #require(index.weightMap["encoder.block.1.layer.0.SelfAttention.q.weight"])
        try FileManager.default.removeItem(at: folder.appendingPathComponent(shard))
        let (error, text) = loadError(folder)
        guard case .invalidWeights(let path, let message)? = error else { Issue.record("\(text)"); return }
        #expect(path.hasSuffix("model.safetensors.index.json"))
        #expect(message.contains("shard '\(shard)'") && message.contains("does not exist"), "\(message)")
        #expect(message.contains("'encoder.") || message.contains("'shared.weight'"), "\(message)")
    }

    @Test("config.json whose d_model disagrees with the weights: the error names the tensor and both shapes")
    func dModelMismatch() throws {
        let folder = try Fixtures.copy("t5-sharded")
        try editConfig(folder) { $0["d_model"] = 48 }
        let (error, text) = loadError(folder)
        guard case .invalidWeights(let path, let message)? = error else { Issue.record("\(text)"); return }
        #expect(path.hasSuffix(".safetensors"))
        #expect(message.contains("'shared.weight' has shape [128, 32], but config.json implies [128, 48] (vocab_size × d_model)"),
                "\(message)")
    }

    @Test("num_heads · d_kv inconsistent with q/k/v/o: the error names the projection")
    func innerDimMismatch() throws {
        let folder = try Fixtures.copy("t5-sharded")
        try editConfig(folder) { $0["d_kv"] = 4 }
        let (_, text) = loadError(folder)
        #expect(text.contains("'encoder.block.0.layer.0.SelfAttention.q.weight' has shape [32, 32], but config.json implies [16, 32]"),
                "\(text)")
        // Same inner width, different head count: caught by the relative bias (buckets × heads).
        let other = try Fixtures.copy("t5-sharded")
        try editConfig(other) { $0["num_heads"] = 2; $0["d_kv"] = 16 }
        #expect(loadError(other).1.contains("relative_attention_bias.weight' has shape [8, 4], but config.json implies [8, 2]"))
    }

    @Test("a missing tensor: the error names the file and the key")
    func missingTensor() throws {
        let folder = try Fixtures.copy("t5-bf16")
        let key = "encoder.block.1.layer.0.SelfAttention.k.weight"
        try rewriteWeights(folder) { $0[key] = nil }
        let (error, text) = loadError(folder)
        guard case .invalidWeights(let path, let message)? = error else { Issue.record("\(text)"); return }
        #expect(path.hasSuffix("model.safetensors"))
        #expect(message.contains("missing tensor '\(key)'"), "\(message)")

        // Sharded: a tensor dropped from weight_map is missing too.
        let sharded = try Fixtures.copy("t5-sharded")
        try editIndex(sharded) { $0.removeValue(forKey: "encoder.final_layer_norm.weight") }
        #expect(loadError(sharded).1.contains("model.safetensors.index.json: missing tensor 'encoder.final_layer_norm.weight'"))
    }

    @Test("encoder tensors the config has no place for are refused (fewer layers than the weights)")
    func extraLayers() throws {
        let folder = try Fixtures.copy("t5-sharded")
        try editConfig(folder) { $0["num_layers"] = 1 }
        #expect(loadError(folder).1.contains("'encoder.block.1.layer.0.SelfAttention.k.weight' and 8 more under encoder.* has no place"))
    }

    @Test("a relu config over gated weights misses 'wi'")
    func wrongFeedForward() throws {
        let folder = try Fixtures.copy("t5-sharded")
        try editConfig(folder) {
            $0["feed_forward_proj"] = "relu"
            $0["dense_act_fn"] = nil
            $0["is_gated_act"] = nil
        }
        #expect(loadError(folder).1.contains("missing tensor 'encoder.block.0.layer.1.DenseReluDense.wi.weight'"))
    }

    @Test("a folder without safetensors weights, and integer weights, are refused by name")
    func noWeightsAndIntegerWeights() throws {
        let folder = try Fixtures.copy("t5-bf16")
        try rewriteWeights(folder) { $0["encoder.final_layer_norm.weight"] = try? Tensor.zeros([24], dtype: .int64) }
        #expect(loadError(folder).1.contains("tensor 'encoder.final_layer_norm.weight' has dtype I64"))
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        try Data().write(to: folder.appendingPathComponent("pytorch_model.bin"))
        let text = loadError(folder).1
        #expect(text.contains("no model.safetensors or model.safetensors.index.json") && text.contains("pytorch_model"), "\(text)")
    }

    @Test("a checkpoint that names the embedding encoder.embed_tokens.weight loads the same model")
    func embeddingAlias() throws {
        let folder = try Fixtures.copy("t5-bf16")
        try rewriteWeights(folder) {
            $0["encoder.embed_tokens.weight"] = $0["shared.weight"]
            $0["shared.weight"] = nil
        }
        let ref = try Fixtures.reference()
        let out = try T5Encoder.load(folder: folder)(ids: Fixtures.tensor("input_ids_bf16.short", in: ref),
                                                     mask: Fixtures.tensor("attention_mask_bf16.short", in: ref))
        #expect(try relativeError(out, Fixtures.tensor("hidden.bf16.short", in: ref)) <= 1e-5)
    }

    @Test("bad inputs: wrong rank, mismatched mask, ids outside the vocabulary, float ids")
    func badInputs() throws {
        let model = try T5Encoder.load(folder: Fixtures.url("t5-bf16"))
        let ids = try Tensor([Int64(5), 7, 1], shape: [1, 3])
        let mask = try Tensor.ones([1, 3])
        #expect(thrownDescription { _ = try model(ids: ids.reshaped([3]), mask: mask.reshaped([3])) }?.contains("[batch, length]") == true)
        #expect(thrownDescription { _ = try model(ids: ids, mask: Tensor.ones([1, 4])) }?.contains("attention mask has shape [1, 4]") == true)
        let outside = try Tensor([Int64(5), 96, 1], shape: [1, 3])
        #expect(thrownDescription { _ = try model(ids: outside, mask: mask) }?.contains("input id 96 is outside the vocabulary 0..<96") == true)
        #expect(thrownDescription { _ = try model(ids: ids.to(.float32), mask: mask) }?.contains("int64 or int32") == true)
    }

    /// Rewrites the sharded fixture's index `weight_map`.
    func editIndex(_ folder: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = folder.appendingPathComponent("model.safetensors.index.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var map = try #require(object["weight_map"] as? [String: Any])
        edit(&map)
        object["weight_map"] = map
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: url)
    }
}
