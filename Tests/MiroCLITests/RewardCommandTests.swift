import Foundation
import MiroData
import MiroEngine
import MiroFormats
import MiroImage
import MiroIO
import MiroRewardModels
import MiroTokenizers
import Testing

/// The neural rewards through the CLI's registry: `--reward-model NAME=PATH` → the loader → the reward's own
/// preprocessing and caption → the stored key, checked against the same model run in-process.
@Suite(.serialized)
struct RewardCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A tiny random CLIP at 224² (patch 32) with the real CLIP vocabulary, as a transformers folder with
    /// `vocab.json` + `merges.txt` (written from open_clip's BPE file).
    static func tinyCLIPFolder(in dir: URL) throws -> URL {
        let folder = dir.appendingPathComponent("tiny-pickscore")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var config = CLIPConfig(projectionDim: 16)
        for v in [\CLIPConfig.visionConfig.hiddenSize, \.textConfig.hiddenSize] { config[keyPath: v] = 32 }
        for v in [\CLIPConfig.visionConfig.intermediateSize, \.textConfig.intermediateSize] { config[keyPath: v] = 64 }
        for v in [\CLIPConfig.visionConfig.numHiddenLayers, \.textConfig.numHiddenLayers] { config[keyPath: v] = 1 }
        for v in [\CLIPConfig.visionConfig.numAttentionHeads, \.textConfig.numAttentionHeads] { config[keyPath: v] = 2 }
        config.visionConfig.imageSize = 224
        config.visionConfig.patchSize = 32
        config.visionConfig.hiddenAct = "gelu"
        config.textConfig.hiddenAct = "gelu"
        let model = try CLIPModel.random(config: config, seed: 3)
        try TensorFiles.saveSafeTensors(model.stateDict(), to: folder.appendingPathComponent("model.safetensors"))
        try JSONEncoder().encode(config).write(to: folder.appendingPathComponent("config.json"))
        let bpe = repository.appendingPathComponent("Tests/MiroTokenizersTests/Fixtures/clip/bpe_simple_vocab_16e6.txt.gz")
        _ = try CLIPTokenizer.writeHuggingFaceFiles(fromBPEGZ: bpe.path, into: folder.path)
        return folder
    }

    @Test func annotateScoresWithANeuralRewardFromItsFolder() throws {
        let dir = try CLI.scratch()
        let input = dir.appendingPathComponent("in")
        try PrepCommandTests.dataset(in: input, shards: 1, perShard: 3, side: 40)
        let folder = try Self.tinyCLIPFolder(in: dir)
        let out = dir.appendingPathComponent("out")
        let run = try CLI.run(["annotate", input.path, "--rewards", "pick_a_score_score", "--reward-model",
                               "pick_a_score_score=\(folder.path)", "--out", out.path, "--threads", "1"])
        try #require(run.status == 0, "\(run.output)")

        // The same model in-process on the input's images and captions.
        let reward = try CLIPSimilarityReward.load(kind: .pickScore, modelFolder: folder, preprocessor: CLIPImagePreprocessing.huggingFaceCLIP)
        let source = try TarArchive(url: input.appendingPathComponent("shard-000.tar"))
        var images: [RGBImage] = [], captions: [String] = [], keys: [String] = []
        for member in try source.members() where member.name.hasSuffix(".png") {
            let key = String(member.name.dropLast(4))
            guard let image = try? ImageDecoder.decode(try source.read(member), name: member.name) else { continue }  // the corrupt one
            images.append(image.rgbImage)
            keys.append(key)
            let txt = try #require(try source.members().first { $0.name == key + ".txt" })
            captions.append(String(decoding: try source.read(txt), as: UTF8.self))
        }
        #expect(images.count == 3)
        let expected = try reward.score(images: images, captions: captions)

        let written = try TarArchive(url: out.appendingPathComponent("shard-000.tar"))
        for (key, want) in zip(keys, expected) {
            let member = try #require(try written.members().first { $0.name == key + ".json" })
            let json = try PythonJSON.parse(try written.read(member))
            let got = try #require(json.members?.first { $0.key == "pick_a_score_score" }?.value.double)
            #expect(abs(got - Double(want)) <= 1e-5 * max(1, abs(Double(want))), "\(key): \(got) vs \(want)")
            // the synthetic twin scores the short synthetic caption (here: the JSON has none, so the original)
            #expect(json.members?.contains { $0.key == "synthetic_pick_a_score_score" } == true)
        }

        // The same reward through `miro bench rewards --size tiny` and a clear error for a folder without weights.
        let missing = try CLI.run(["annotate", input.path, "--rewards", "pick_a_score_score", "--reward-model",
                                   "pick_a_score_score=\(dir.path)", "--out", dir.appendingPathComponent("out2").path])
        #expect(missing.status != 0 && missing.output.contains(dir.path), "\(missing.output)")
    }

    @Test func benchRewardsRunsAtTinySize() throws {
        let run = try CLI.run(["bench", "rewards", "--size", "tiny", "--batch", "2", "--runs", "1", "--threads", "1", "--json"])
        try #require(run.status == 0, "\(run.output)")
        let json = try PythonJSON.parse(Array(run.stdout.utf8))
        let order = json.members?.first { $0.key == "order" }?.value.array?.compactMap(\.string)
        #expect(order == ["aesthetic_score", "openai_clip_score", "pick_a_score_score", "hpsv2_score", "image_reward_score"])
    }
}
