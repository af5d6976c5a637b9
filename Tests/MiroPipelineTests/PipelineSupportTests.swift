import Foundation
import Testing
import MiroIO
import MiroImage
import MiroPipeline

/// The pieces the CLI used to hold: output naming, PNG metadata, reward-target validation, checkpoint paths.
@Suite struct PipelineSupportTests {
    @Test func outputNamesNeverOverwrite() throws {
        let dir = try scratchDirectory(suite: "pipeline-support", test: #function)
        #expect(OutputFiles.slug("A red circle, left of 2 squares!") == "a-red-circle-left-of-2-squares")
        #expect(OutputFiles.slug("!!!") == "image")
        let first = try OutputFiles.unique(in: dir, base: "a", ext: "png")
        try Data().write(to: first)
        let second = try OutputFiles.unique(in: dir, base: "a", ext: "png")
        #expect(first.lastPathComponent == "a.png" && second.lastPathComponent == "a-2.png")
        let run = dir.appendingPathComponent("run")
        #expect(try OutputFiles.freshDirectory(run) == run)
        try Data().write(to: run.appendingPathComponent("x"))
        #expect(try OutputFiles.freshDirectory(run).lastPathComponent == "run-2")
    }

    /// Both samplers' PNGs carry one `parameters` layout: optional fields in place, unnamed rewards spelled out.
    @Test func parametersChunk() throws {
        var m = GenerationMetadata(prompt: "a red circle", steps: 25, guidance: 1.5, seed: 7, width: 32, height: 32,
                                   model: "runs/x", modelStep: 100, rewardTargets: ["quality_score": 0.5],
                                   negativeRewardTargets: [:], negativeText: "same", version: "0.0")
        #expect(m.parameters.value == "a red circle\nSteps: 25, Sampler: Euler (flow), CFG scale: 1.5, Seed: 7, Size: 32x32, "
                + "Model: runs/x, Model step: 100, Rewards: quality_score=0.5, Negative rewards: all=0, Negative text: same, "
                + "Guidance: miro (1+w)c-wu, Version: miro-swift 0.0")
        m.modelStep = nil
        m.batchIndex = 3
        #expect(m.parameters.value.contains("Seed: 7, Batch index: 3, Size: 32x32, Model: runs/x, Rewards:"))
        let json = try m.miroChunk(extra: ["best_of": 4])
        #expect(json.key == "miro" && json.value.contains("\"best_of\":4") && json.value.contains("\"seed\":7"))
    }

    @Test func rewardTargetsAreCheckedOnce() throws {
        try RewardTargets.validate(["a": 0, "b": 1], keys: ["a", "b"], option: "--reward")
        let unknown = try #require(throws: InputError.self) {
            try RewardTargets.validate(["c": 0.5], keys: ["a", "b"], option: "--reward")
        }
        #expect(unknown.description.contains("--reward names rewards") && unknown.description.contains("Valid: a, b"))
        #expect(throws: InputError.self) { try RewardTargets.validate(["a": 1.5], keys: ["a"], option: "--reward") }
        #expect(throws: InputError.self) { try RewardTargets.validate(["a": .nan], keys: ["a"], option: "--reward") }
        #expect(throws: InputError.self) { try RewardTargets.parse(["a=2"], option: "--reward") }
    }

    @Test func checkpointPathsResolveOneWay() throws {
        let dir = try scratchDirectory(suite: "pipeline-support", test: #function)
        #expect(throws: CheckpointError.self) { try Checkpoint.resolve(dir.appendingPathComponent("missing")) }
        #expect(throws: CheckpointError.self) { try Checkpoint.resolve(dir) }
        let checkpoints = dir.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        for step in [5, 20] { try Data().write(to: checkpoints.appendingPathComponent(Checkpoint.fileName(step: step))) }
        #expect(try Checkpoint.resolve(dir).lastPathComponent == "step-0000020.safetensors")
        #expect(try Checkpoint.resolve(checkpoints).lastPathComponent == "step-0000020.safetensors")
        let file = checkpoints.appendingPathComponent(Checkpoint.fileName(step: 5))
        #expect(try Checkpoint.resolve(file) == file)
    }
}
