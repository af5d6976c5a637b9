import Foundation
import Logging
import Testing
import MiroTestSupport
import MiroData
import MiroEngine
import MiroIO
import MiroImage
import MiroModels
import MiroOptim
import MiroPipeline
import MiroRewards
import MiroShapes
import MiroTraining

@Suite(.serialized)
struct TrainingTests {
    let data: ShapesTrainingSet

    init() throws {
        data = try ShapesTrainingSet(count: 64, seed: 5, encoder: ShapesTextEncoder(), logger: quietLogger)
    }

    @Test func exactResumeEqualsUninterruptedTraining() throws {
        let dirA = try tempDir(), dirB = try tempDir()
        defer { try? FileManager.default.removeItem(at: dirA); try? FileManager.default.removeItem(at: dirB) }
        // A: 5 steps straight. B: 3 steps, checkpoint, a fresh Trainer resumes, 2 more steps.
        let a = try Trainer(runDirectory: dirA, config: microConfig(steps: 5), data: data, resume: false, logger: quietLogger)
        try a.train()
        do {  // the first process ends (and releases the run's lock) before the resume
            let b1 = try Trainer(runDirectory: dirB, config: microConfig(steps: 3), data: data, resume: false, logger: quietLogger)
            try b1.train()
            #expect(Checkpoint.list(in: b1.checkpointDirectory).map(\.step) == [3])
        }
        let b2 = try Trainer(runDirectory: dirB, config: microConfig(steps: 5, seed: 999), data: data, resume: true,
                             overrides: ResumeOverrides(steps: 5), logger: quietLogger)
        #expect(b2.step == 3)
        #expect(b2.config.train.seed == 11, "the stored configuration wins on resume")
        try b2.train()
        #expect(b2.step == 5)
        for ((name, x), (_, y)) in zip(a.model.stateDict(), b2.model.stateDict()) {
            #expect(try x.bytes() == y.bytes(), "\(name) differs between uninterrupted and resumed runs")
        }
        for (s, t) in zip(a.ema.shadow, b2.ema.shadow) { #expect(try s.tensor.bytes() == t.tensor.bytes(), "EMA \(s.name)") }
        #expect(try a.stream.cursorJSON() == b2.stream.cursorJSON())
    }

    @Test func lossDecreasesOnAFixedBatchAndGridAndSamplingWork() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = microConfig(steps: 30)
        c.train.learningRate = 3e-3
        let t = try Trainer(runDirectory: dir, config: c, data: data, resume: false, logger: quietLogger)
        let first = try t.trainStep().rawLoss
        var last = first
        for _ in 0..<29 { last = try t.trainStep().rawLoss }
        #expect(last < first, "raw loss \(first) → \(last)")
        let pipeline = try ShapesPipeline(model: try t.emaModel(), config: t.config, step: t.step)
        var s = ShapesPipeline.Settings()
        s.steps = 3
        let images = try pipeline.generate(["a red circle", "two blue squares"], settings: s)
        #expect(images.count == 2 && images[0].width == 32)
        #expect(images.allSatisfy { $0.pixels.allSatisfy { (0...1).contains($0) } })
        // Same seed, same images.
        let again = try pipeline.generate(["a red circle", "two blue squares"], settings: s)
        #expect(again == images)
        let gridURL = dir.appendingPathComponent("grid.png")
        let rows = try SampleGrid.write(pipeline, settings: s, to: gridURL, prompts: ["a red circle"])
        #expect(rows.count == 2 + ShapesRewards.keys.count)
        let png = try PNGReader.decode(try Data(contentsOf: gridURL))
        #expect(png.text.contains { $0.key == "miro" })
    }

    @Test func checkpointsArePrunedAndWrittenAtomically() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = microConfig(steps: 4)
        c.train.saveEvery = 1
        c.train.keepLast = 2
        let t = try Trainer(runDirectory: dir, config: c, data: data, resume: false, logger: quietLogger)
        try t.train()
        #expect(Checkpoint.list(in: t.checkpointDirectory).map(\.step) == [3, 4])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: t.checkpointDirectory.path).filter { !$0.hasSuffix(".safetensors") }
        #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
        let lines = try String(contentsOf: dir.appendingPathComponent("run.json"), encoding: .utf8)
        #expect(lines.contains("\"coherenceKeys\"") || lines.contains("coherence_keys"))
    }

    /// A single-reward specialist: the data's conditioning holds that reward's column only (the same values
    /// as in the four-reward set), the network one reward embedder, and its checkpoint loads back as such.
    @Test func aSubsetOfTheShapesRewardsTrainsASpecialist() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let only = try ShapesTrainingSet(count: 64, seed: 5, encoder: ShapesTextEncoder(), rewardKeys: ["quality_score"],
                                         logger: quietLogger)
        let k = try #require(ShapesRewards.keys.firstIndex(of: "quality_score"))
        #expect(only.rewards.shape == [64, 1])
        #expect(try only.rewards.floats() == (try data.rewards.floats()).enumerated().filter { $0.offset % 4 == k }.map(\.element))
        var c = microConfig(steps: 1)
        c.network.coherenceKeys = ["quality_score"]
        let t = try Trainer(runDirectory: dir, config: c, data: only, resume: false, logger: quietLogger)
        try t.train()
        let loaded = try ShapesPipeline(checkpoint: dir)
        #expect(loaded.rewardKeys == ["quality_score"])
        #expect(loaded.model.network.coherenceEmbedder.keys == ["quality_score_coherence"])

        for bad in [["aesthetic_score"], [], ["quality_score", "quality_score"]] {
            let e = #expect(throws: TrainingError.self) {
                try ShapesTrainingSet(count: 4, seed: 1, encoder: ShapesTextEncoder(), rewardKeys: bad, logger: quietLogger)
            }
            #expect(e?.description.contains("alignment_score") == true, "\(bad)")
        }
    }
}

@Suite struct BadInputTests {
    @Test func malformedPromptFiles() throws {
        #expect(throws: InputError.self) { try PromptFile.parse("# only a comment\n\n", source: "p.txt") }
        let long = String(repeating: "a", count: PromptFile.maxLength + 1)
        let e = #expect(throws: InputError.self) { try PromptFile.parse("ok\n\(long)\n", source: "p.txt") }
        #expect(e?.description.contains("p.txt:2") == true)
        let ctl = #expect(throws: InputError.self) { try PromptFile.parse("fine\nbad\u{07}bell\n", source: "p.txt") }
        #expect(ctl?.description.contains("control") == true)
        #expect(try PromptFile.parse("  a red circle \n# c\n\nthree green squares\n", source: "p") == ["a red circle", "three green squares"])
        #expect(throws: InputError.self) { try PromptFile.read("/nonexistent/prompts.txt") }
    }

    @Test func rewardArguments() throws {
        #expect(try RewardTargets.parse(["quality_score=0.25"], option: "--reward") == ["quality_score": 0.25])
        for bad in ["quality_score", "=0.5", "quality_score=abc", "quality_score=1.5", "quality_score=-0.1", "q=nan"] {
            #expect(throws: InputError.self, "\(bad)") { try RewardTargets.parse([bad], option: "--reward") }
        }
        #expect(throws: InputError.self) { try RewardTargets.parse(["a=0.1", "a=0.2"], option: "--reward") }
    }

    @Test func unknownRewardNamesListTheValidOnes() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)
        do {
            try pipeline.validate(["aesthetic_score": 1])
            Issue.record("an unknown reward must be rejected")
        } catch {
            let text = "\(error)"
            #expect(text.contains("aesthetic_score") && text.contains("alignment_score"), "\(text)")
        }
        #expect(throws: (any Error).self) { try pipeline.validate(["quality_score": 2]) }
    }

    @Test func missingCheckpointKeyAndMissingCheckpoint() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: (any Error).self) { try ShapesPipeline(checkpoint: dir.appendingPathComponent("nothing")) }
        #expect(throws: (any Error).self) { try ShapesPipeline(checkpoint: dir) }   // a directory without checkpoints
        let data = try ShapesTrainingSet(count: 16, seed: 1, encoder: ShapesTextEncoder(), logger: quietLogger)
        let t = try Trainer(runDirectory: dir, config: microConfig(steps: 1), data: data, resume: false, logger: quietLogger)
        try t.train()
        let url = try #require(Checkpoint.latest(in: t.checkpointDirectory))
        var c = try Checkpoint.read(url)
        let dropped = try #require(c.model.keys.sorted().first)
        c.model[dropped] = nil
        let broken = dir.appendingPathComponent("broken")
        let brokenURL = try c.write(to: broken)
        do {
            _ = try ShapesPipeline(checkpoint: brokenURL)
            Issue.record("a checkpoint with a missing key must not load")
        } catch {
            #expect("\(error)".contains(dropped), "\(error)")
        }
        // A file that is not a checkpoint at all.
        let junk = dir.appendingPathComponent("step-0000009.safetensors")
        try Data("not a safetensors file".utf8).write(to: junk)
        #expect(throws: (any Error).self) { try Checkpoint.read(junk) }
    }
}

@Suite struct PixelNormalizationTests {
    @Test func encodeDecodeRoundTripAndUnitScale() throws {
        let images = ShapesWorld.dataset(count: 64, seed: 3).map(\.image)
        let norm = PixelNormalization.fit(images)
        let x = try norm.encode(images)
        #expect(x.shape == [64, 3, 32, 32])
        // Each channel ends up with std σ_data = 0.5 and mean 0.
        let std = try x.transposed(0, 1).reshaped([3, -1]).std([1], unbiased: false).doubles()
        let mean = try x.transposed(0, 1).reshaped([3, -1]).mean([1]).doubles()
        #expect(std.allSatisfy { abs($0 - 0.5) < 1e-3 }, "\(std)")
        #expect(mean.allSatisfy { abs($0) < 1e-3 }, "\(mean)")
        let back = try norm.decode(x)
        for (a, b) in zip(images, back) {
            #expect(zip(a.pixels, b.pixels).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        // CHW layout: channel 0 of pixel (y=2, x=5) of image 1 is the red value there.
        let v = try x[1][0][2][5].item()
        let expected = 0.5 * (Double(images[1].pixel(5, 2).0) - norm.mean[0]) / norm.std[0]
        #expect(abs(v - expected) < 1e-5)
    }
}
