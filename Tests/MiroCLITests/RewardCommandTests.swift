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

    /// Annotation scores the original and the synthetic caption against one image pass: the same numbers as two calls.
    @Test func captionSetsShareTheImagePassAndGiveTheSameScores() throws {
        let dir = try CLI.scratch()
        let folder = try Self.tinyCLIPFolder(in: dir)
        let reward = try CLIPSimilarityReward.load(kind: .pickScore, modelFolder: folder, preprocessor: CLIPImagePreprocessing.huggingFaceCLIP,
                                                   batchSize: 2)
        let images = (0..<3).map { i in
            RGBImage(width: 50 + 7 * i, height: 40, pixels: (0..<((50 + 7 * i) * 40 * 3)).map { Float(($0 * (i + 3)) % 255) / 255 })
        }
        let a = ["a red cube on a table", "two cats", "a lighthouse at dusk, oil painting"]
        let b = ["a cube", "a photo of two small grey cats sleeping on a sofa", "dusk"]
        let both = try reward.score(images: images, captionSets: [a, b])
        #expect(both[0] == (try reward.score(images: images, captions: a)))
        #expect(both[1] == (try reward.score(images: images, captions: b)))
        #expect(both[0] != both[1])
    }

    @Test func benchRewardsRunsAtTinySize() throws {
        let run = try CLI.run(["bench", "rewards", "--size", "tiny", "--batch", "2", "--runs", "1", "--threads", "1", "--json"])
        try #require(run.status == 0, "\(run.output)")
        let json = try PythonJSON.parse(Array(run.stdout.utf8))
        let order = json.members?.first { $0.key == "order" }?.value.array?.compactMap(\.string)
        #expect(order == ["aesthetic_score", "openai_clip_score", "pick_a_score_score", "hpsv2_score", "image_reward_score"])
    }
}

/// Rewards on the tiny random official folder of scripts/make_pipeline_fixtures.py: best-of-N sampling and a
/// prompt-set evaluation, end to end through the CLI.
@Suite(.serialized)
struct ReleaseRewardCommandTests {
    static func tinyFolder(in dir: URL) throws -> URL {
        let checkpoint = dir.appendingPathComponent("miro_tiny")
        try FileManager.default.copyItem(at: SamplePromptParityTests.fixtures.appendingPathComponent("miro_tiny"), to: checkpoint)
        return checkpoint
    }

    /// `--best-of 3 --select-by colorfulness_score`: one PNG, and its `miro` chunk names the chosen candidate,
    /// which has the highest of the three scores it lists.
    @Test func bestOfKeepsTheHighestScoringCandidate() throws {
        let dir = try CLI.scratch()
        let checkpoint = try Self.tinyFolder(in: dir)
        let out = dir.appendingPathComponent("out")
        let run = try CLI.run(["sample", "--checkpoint", checkpoint.path, "a red cube", "--decoder", "vae", "--seed", "3",
                               "--steps", "2", "-n", "1", "--best-of", "3", "--select-by", "colorfulness_score", "--out", out.path])
        try #require(run.status == 0, "\(run.output)")
        let pngs = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".png") }
        try #require(pngs.count == 1, "\(pngs)")
        let png = try PNGReader.decode(try Data(contentsOf: out.appendingPathComponent(pngs[0])))
        let chunk = try #require(png.text.first { $0.key == "miro" }?.value)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(chunk.utf8)) as? [String: Any])
        let scores = try #require(json["candidate_scores"] as? [Double])
        let chosen = try #require(json["candidate"] as? Int)
        #expect(scores.count == 3 && json["select_by"] as? String == "colorfulness_score")
        #expect(scores[chosen] == scores.max(), "\(scores) chose \(chosen)")
        // an official folder needs the reward named
        let unnamed = try CLI.run(["sample", "--checkpoint", checkpoint.path, "a red cube", "--best-of", "2", "--out", out.path])
        #expect(unnamed.status != 0 && unnamed.output.contains("--select-by"), "\(unnamed.output)")
    }

    /// `miro eval --prompts` generates 2 prompts × 2 images into the generate_geneval layout and scores them;
    /// a rerun regenerates nothing and scores nothing new; `--score` reads the folder alone.
    @Test func promptSetEvaluationGeneratesScoresAndResumes() throws {
        let dir = try CLI.scratch()
        let checkpoint = try Self.tinyFolder(in: dir)
        let prompts = dir.appendingPathComponent("prompts.jsonl")
        try Data("{\"tag\": \"colors\", \"prompt\": \"a red cube\"}\n{\"tag\": \"counting\", \"prompt\": \"two blue balls\"}\n".utf8)
            .write(to: prompts)
        let out = dir.appendingPathComponent("eval")
        let args = ["eval", "--checkpoint", checkpoint.path, "--prompts", prompts.path, "--rewards", "colorfulness_score,quality_score",
                    "--out", out.path, "--per-prompt", "2", "--eval-steps", "2", "--eval-seed", "5", "--threads", "1"]
        let first = try CLI.run(args)
        try #require(first.status == 0, "\(first.output)")
        #expect(first.output.contains("generated 2 prompt(s); 0 were already complete"), "\(first.output)")
        for p in ["00000/samples/0000.png", "00000/samples/0001.png", "00001/samples/0001.png", "00001/metadata.jsonl", "hparams.json"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(p).path), "\(p)")
        }
        let metadata = try String(contentsOf: out.appendingPathComponent("00001/metadata.jsonl"), encoding: .utf8)
        #expect(metadata == "{\"prompt\": \"two blue balls\", \"tag\": \"counting\"}\n")
        let lines = try String(contentsOf: out.appendingPathComponent("rewards.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4 && lines.allSatisfy { $0.contains("colorfulness_score") && $0.contains("quality_score") })
        let results = try Data(contentsOf: out.appendingPathComponent("rewards.jsonl"))
        let second = try CLI.run(args)
        try #require(second.status == 0, "\(second.output)")
        #expect(second.output.contains("generated 0 prompt(s); 2 were already complete"), "\(second.output)")
        #expect(try Data(contentsOf: out.appendingPathComponent("rewards.jsonl")) == results)
        let scored = try CLI.run(["eval", "--score", out.path, "--rewards", "colorfulness_score"])
        #expect(scored.status == 0 && scored.output.contains("4 images of 2 prompts"), "\(scored.output)")
        // other settings into the same folder would mix two evaluations
        let other = try CLI.run(args.map { $0 == "5" ? "6" : $0 })
        #expect(other.status != 0 && other.output.contains("hparams.json"), "\(other.output)")
    }
}
