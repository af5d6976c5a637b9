import Foundation
import Testing
import MiroTestSupport
import MiroImage
import MiroPipeline
import MiroShapes
import MiroTraining

/// What moved out of the CLI into MiroTraining and MiroPipeline: the session's resume merge, best-of-N,
/// shard-settings resolution.
@Suite(.serialized) struct SessionTests {
    /// A resumed session takes the stored configuration (data included) and only raises the step target.
    @Test func resumeKeepsTheStoredRunConfiguration() throws {
        let dir = try tempDir()
        var first = microConfig(steps: 2)
        first.dataset.count = 16
        first.train.batchSize = 4
        do {
            let t = try TrainingSession.start(config: first, run: dir, resume: false, logger: quietLogger)
            try t.train()
        }
        #expect(try Trainer.resumedConfig(runDirectory: tempDir(), overrides: ResumeOverrides()) == nil,
                "no checkpoint, nothing to resume")

        var asked = first
        asked.train.steps = 3
        asked.train.batchSize = 8
        asked.dataset.count = 32
        asked.train.optimizer = .adamw
        let kept = try #require(try Trainer.resumedConfig(runDirectory: dir, overrides: ResumeOverrides()))
        #expect(kept.config.train.steps == 2, "without --steps a resume keeps the stored target")
        let merged = try #require(try Trainer.resumedConfig(runDirectory: dir, overrides: ResumeOverrides(steps: 3)))
        #expect(merged.config.train.steps == 3 && merged.config.train.batchSize == 4 && merged.config.dataset.count == 16)
        #expect(merged.config.train.optimizer == .lamb)
        #expect(ResumeCheck.conflicts(requested: asked, stored: kept.config,
                                      given: ["--steps", "--batch-size", "--optimizer", "--lr"]) == ["--batch-size", "--optimizer"])
        let resumed = try TrainingSession.start(config: asked, run: dir, resume: true, overrides: ResumeOverrides(steps: 3),
                                                logger: quietLogger)
        #expect(resumed.step == 2 && resumed.config == merged.config.withNormalization(resumed.config.normalization))
        #expect(try TrainingSession.loop(resumed, minutes: nil, interrupted: { false }, logger: quietLogger) == .finished)
        #expect(resumed.step == 3)
    }

    /// Candidate c of best-of-N is the image of seed + c; the chosen one scores highest under the reward.
    @Test func bestOfPicksTheHighestScoringCandidate() throws {
        let pipeline = try untrainedPipeline(in: try tempDir())
        var settings = ShapesPipeline.Settings()
        settings.steps = 2
        settings.seed = 40
        let reward = try #require(ShapesPipeline.reward(named: "colorfulness_score"))
        #expect(ShapesPipeline.reward(named: "nope") == nil)
        var calls = 0
        let (image, seed) = try pipeline.bestOf("a red circle", settings: settings, count: 3, selectBy: reward) { calls += 1 }
        #expect(calls == 3 && (40...42).contains(seed))
        var candidates: [RGBImage] = []
        for c in 0..<3 {
            var s = settings
            s.seed = 40 + UInt64(c)
            candidates += try pipeline.generate(["a red circle"], settings: s)
        }
        let scores = try reward.score(images: candidates, captions: Array(repeating: "a red circle", count: 3))
        #expect(image == candidates[Int(seed - 40)] && scores[Int(seed - 40)] == scores.max())
        #expect(try pipeline.bestOf("a red circle", settings: settings, count: 2, selectBy: nil).seed == 40)
        #expect(throws: InputError.self) { try pipeline.bestOf("x", settings: settings, count: 0, selectBy: nil) }
    }

    @Test func shardSettingsNeedABinsCache() throws {
        let dir = try tempDir()
        let error = try #require(throws: InputError.self) {
            try RunConfig.ShardSettings.resolving(paths: [dir.path], binsCache: nil, rewardKeys: ["a_score"],
                                                  syntheticProbability: 0.5)
        }
        #expect(error.description.contains("no bins cache at \(dir.path)/") && error.description.contains("miro bins"))
        let bins = dir.appendingPathComponent("bins.json")
        try Data("{}".utf8).write(to: bins)
        let s = try RunConfig.ShardSettings.resolving(paths: [dir.path + "/./"], binsCache: bins.path, rewardKeys: ["a_score"],
                                                      syntheticProbability: 0.25)
        #expect(s.paths == [dir.standardizedFileURL.path] && s.binsCache == bins.path && s.syntheticProbability == 0.25)
        #expect(throws: InputError.self) {
            try RunConfig.ShardSettings.resolving(paths: [], binsCache: nil, rewardKeys: [], syntheticProbability: 0.5)
        }
    }
}

extension RunConfig {
    func withNormalization(_ n: PixelNormalization?) -> RunConfig {
        var c = self
        c.normalization = n
        return c
    }
}
