import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroRewardModels

/// The full-size ImageReward v1.0 built from its real configuration (shape only) against the key table of the
/// reference (docs/keys/imagereward-keys.tsv), the med_config.json reader, and the loader's errors.
struct ImageRewardArchitectureTests {
    /// (name, shape) rows of the key table, in file order.
    func keyTable() throws -> [(String, [Int])] {
        let text = try String(contentsOf: ImageRewardFixtures.url("keys/imagereward-keys.tsv"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let cols = line.split(separator: "\t")
            guard cols.count == 3 else { return nil }
            return (String(cols[0]), cols[1].split(separator: "x").compactMap { Int($0) })
        }
    }

    @Test func fullSizeKeysShapesAndParameterCount() throws {
        let model = try ImageReward.shapeOnly()
        let table = try keyTable()
        #expect(table.count == 625)
        let got = model.parameterShapes
        #expect(got.count == table.count)
        let want = Dictionary(uniqueKeysWithValues: table)
        for (key, shape) in got {
            #expect(want[key] == shape, "\(key): \(shape) vs \(want[key].map { "\($0)" } ?? "absent from the table")")
        }
        #expect(Set(got.map(\.key)) == Set(want.keys))
        #expect(model.parameterCount == 446_665_953)
        let vision = model.namedParameters().filter { $0.0.hasPrefix("blip.visual_encoder.") }.reduce(0) { $0 + $1.1.count }
        let text = model.namedParameters().filter { $0.0.hasPrefix("blip.text_encoder.") }.reduce(0) { $0 + $1.1.count }
        #expect(vision == 303_301_632 && text == 141_977_088)
        #expect(model.config.text.encoderWidth == 1024 && model.config.vision.positions == 197)
    }

    @Test func medConfigDefaultsAndOverwrite() throws {
        let dir = try imageRewardTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("med_config.json")
        try #"{"add_cross_attention": true, "vocab_size": 30524, "encoder_width": 768}"#.write(to: url, atomically: true, encoding: .utf8)
        let med = try BLIPMedConfig.read(url)
        #expect(med == BLIPMedConfig.imageReward)
        #expect(med.hiddenSize == 768 && med.numHiddenLayers == 12 && med.layerNormEps == 1e-12 && med.hiddenAct == "gelu")
        #expect(ImageRewardConfig(med: med).text.encoderWidth == 1024)

        let bad: [(String, String)] = [
            (#"{"add_cross_attention": false}"#, "add_cross_attention"),
            (#"{"add_cross_attention": true, "hidden_size": 770}"#, "num_attention_heads"),
            (#"{"add_cross_attention": true, "hidden_act": "mish"}"#, "hidden_act 'mish'"),
            (#"{"add_cross_attention": true, "position_embedding_type": "relative_key"}"#, "relative_key"),
            (#"{"add_cross_attention": true, "num_hidden_layers": -1}"#, "num_hidden_layers"),
            (#"{"add_cross_attention": true, "hidden_size": "768"}"#, "hidden_size"),
            (#"{"add_cross_attention": tru"#, "not valid JSON"),
        ]
        for (json, words) in bad {
            try json.write(to: url, atomically: true, encoding: .utf8)
            let message = imageRewardErrorMessage { _ = try BLIPMedConfig.read(url) }
            #expect(message?.contains(words) == true && message?.contains(url.path) == true, "\(json): \(message ?? "no error")")
        }
    }

    @Test func loaderNamesMissingMisshapenAndExtraTensors() throws {
        let tensors = try tinyCheckpointTensors()
        let vision = ImageRewardFixtures.vision
        func message(_ edit: ([(String, Tensor)]) throws -> [(String, Tensor)]) throws -> String? {
            let folder = try tinySafeTensorsFolder(try edit(tensors))
            defer { try? FileManager.default.removeItem(at: folder) }
            return imageRewardErrorMessage { _ = try ImageReward.load(folder: folder, vision: vision) }
        }
        let missing = try message { $0.filter { $0.0 != "blip.text_encoder.encoder.layer.1.crossattention.self.key.weight" } }
        #expect(missing?.contains("missing tensor 'blip.text_encoder.encoder.layer.1.crossattention.self.key.weight'") == true,
                "\(missing ?? "no error")")
        let misshapen = try message { list in try list.map { $0.0 == "mlp.layers.0.weight" ? ($0.0, try Tensor.zeros([1024, 31])) : $0 } }
        #expect(misshapen?.contains("'mlp.layers.0.weight' has shape [1024, 31]") == true, "\(misshapen ?? "no error")")
        let extra = try message { $0 + [("blip.visual_encoder.blocks.2.norm1.weight", try Tensor.ones([32]))] }
        #expect(extra?.contains("'blip.visual_encoder.blocks.2.norm1.weight'") == true && extra?.contains("no place") == true,
                "\(extra ?? "no error")")
        let integer = try message { list in try list.map { $0.0 == "mlp.layers.7.bias" ? ($0.0, try Tensor.zeros([1], dtype: .int64)) : $0 } }
        #expect(integer?.contains("floating-point") == true, "\(integer ?? "no error")")
        // Tensors outside the model are skipped, as strict=False skips them.
        #expect(try message { $0 + [("blip.itm_head.weight", try Tensor.ones([2, 32]))] } == nil)
        // A foreign pickle is refused by the reader, before anything is built.
        let dir = try imageRewardTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let notACheckpoint = dir.appendingPathComponent("ImageReward.pt")
        try Data("not a zip".utf8).write(to: notACheckpoint)
        let unreadable = imageRewardErrorMessage {
            _ = try ImageReward.load(weights: notACheckpoint, medConfig: ImageRewardFixtures.url("tiny/med_config.json"), vision: vision)
        }
        #expect(unreadable?.hasPrefix(notACheckpoint.path) == true, "\(unreadable ?? "no error")")
    }
}

/// Finding the files where users have them: the Hugging Face cache's THUDM/ImageReward snapshot for the weights and
/// med_config.json, and its bert-base-uncased snapshot for vocab.txt.
struct ImageRewardFileDiscoveryTests {
    @Test func findsTheFilesInTheHuggingFaceCache() throws {
        let root = try imageRewardTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        func snapshot(_ repo: String) throws -> URL {
            let folder = root.appendingPathComponent("models--\(repo.replacingOccurrences(of: "/", with: "--"))/snapshots/0123abc")
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
            return folder
        }
        let cache = HuggingFaceCache(root: root)
        let vocabFolder = try snapshot("bert-base-uncased")
        try fm.copyItem(at: ImageRewardFixtures.url("tiny/vocab.txt"), to: vocabFolder.appendingPathComponent("vocab.txt"))
        let ir = try snapshot("THUDM/ImageReward")
        for name in ["ImageReward.pt", "med_config.json"] {
            try fm.copyItem(at: ImageRewardFixtures.url("tiny/\(name)"), to: ir.appendingPathComponent(name))
        }
        // ~/.cache/ImageReward comes first when it holds the files; this machine's must not.
        guard (try? ImageReward.weightsFile(in: ImageReward.defaultFolder)) == nil else { return }
        let folder = try ImageReward.locateFolder(cache: cache)
        #expect(folder.standardizedFileURL.path == ir.standardizedFileURL.path)
        let pixels = try ImageRewardFixtures.tensor("pixels")
        let scorer = try ImageRewardScore.load(folder: folder, preprocessor: FixturePixels(pixels: try pixels.floats(), size: 32),
                                               vision: ImageRewardFixtures.vision, cache: cache)
        #expect(scorer.tokenizer.wordPiece.path.hasPrefix(vocabFolder.path))
        let empty = try imageRewardTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        let message = imageRewardErrorMessage { _ = try ImageReward.locateFolder(cache: HuggingFaceCache(root: empty)) }
        #expect(message?.contains("THUDM/ImageReward") == true, "\(message ?? "no error")")
    }
}
