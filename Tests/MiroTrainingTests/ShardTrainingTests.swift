import Foundation
import Testing
import MiroTestSupport
import MiroData
import MiroModels
import MiroPipeline
import MiroTraining

/// `miro train --data` end to end on the committed fixture shards (scripts/make_shard_fixtures.py): they
/// include a shard whose last member is truncated, a sample with malformed JSON, a truncated .npy and a
/// sample missing a member, so every run below goes past corrupt samples.
@Suite(.serialized)
struct ShardTrainingTests {
    /// A copy of the fixture shards with a freshly built bins cache.
    static func shardCopy() throws -> (dir: URL, bins: URL) {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../MiroDataTests/Fixtures/shards").standardizedFileURL
        let dir = try tempDir()
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures.path)
        where name.hasSuffix(".tar") || name == "wids-index.json" {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let (_, file) = try BinsCacheBuilder().build(root: dir)
        return (dir, file)
    }

    func config(steps: Int, dir: URL, bins: URL, labelDim: Int) throws -> RunConfig {
        var c = microConfig(steps: steps)
        c.dataset.name = .shards
        var s = RunConfig.ShardSettings(paths: [dir.path], binsCache: bins.path)
        s.workers = 2
        s.shuffleBuffer = 8
        c.dataset.shards = s
        c.network.numInputChannels = 4
        c.network.labelDim = labelDim
        c.network.coherenceKeys = MIROConfig.releasedRewardKeys
        c.train.batchSize = 4
        return c
    }

    @Test func trainsPastCorruptSamplesAndResumesMidEpochExactly() throws {
        let (dir, bins) = try Self.shardCopy()
        let runA = try tempDir(), runB = try tempDir()
        defer { for d in [dir, runA, runB] { try? FileManager.default.removeItem(at: d) } }
        let data = try ShardTrainingData(settings: try config(steps: 1, dir: dir, bins: bins, labelDim: 0).dataset.shards!,
                                         rewardKeys: MIROConfig.releasedRewardKeys, batchSize: 4, logger: quietLogger)
        let d = data.textDim
        // A: 7 steps straight (28 samples: past the end of the first epoch of ~19 usable samples).
        let a = try Trainer(runDirectory: runA, config: try config(steps: 7, dir: dir, bins: bins, labelDim: d), data: data,
                            resume: false, logger: quietLogger)
        try a.train()
        // B: 3 steps, checkpoint; a new trainer over a new data object resumes 4 more.
        do {  // the first process ends (and releases the run's lock) before the resume
            let b1 = try Trainer(runDirectory: runB, config: try config(steps: 3, dir: dir, bins: bins, labelDim: d), data: data,
                                 resume: false, logger: quietLogger)
            try b1.train()
        }
        let data2 = try ShardTrainingData(settings: try config(steps: 1, dir: dir, bins: bins, labelDim: d).dataset.shards!,
                                          rewardKeys: MIROConfig.releasedRewardKeys, batchSize: 4, logger: quietLogger)
        let b2 = try Trainer(runDirectory: runB, config: try config(steps: 7, dir: dir, bins: bins, labelDim: d), data: data2,
                             resume: true, overrides: ResumeOverrides(steps: 7), logger: quietLogger)
        #expect(b2.step == 3)
        try b2.train()
        for ((name, x), (_, y)) in zip(a.model.stateDict(), b2.model.stateDict()) {
            #expect(try x.bytes() == y.bytes(), "\(name) differs between uninterrupted and resumed runs")
        }
        #expect(try a.stream.cursorJSON() == b2.stream.cursorJSON())
        // The corrupt samples were met, skipped and counted; the filter counted the small images.
        let counters = a.stream.counters
        for reason in ["malformed_json", "truncated_member", "bad_npy"] {
            #expect((counters["skipped_" + reason] ?? 0) > 0, "no \(reason) skip counted: \(counters)")
        }
        #expect((counters["skipped_filtered"] ?? 0) > 0)
        #expect(a.stream.epoch >= 1)
    }

    @Test func missingBinsForARewardIsAClearError() throws {
        let (dir, bins) = try Self.shardCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let settings = RunConfig.ShardSettings(paths: [dir.path], binsCache: bins.path)
        #expect(throws: (any Error).self) {
            _ = try ShardTrainingData(settings: settings, rewardKeys: ["clip_score", "no_such_reward"], batchSize: 4,
                                      logger: quietLogger)
        }
        let missing = RunConfig.ShardSettings(paths: [dir.appendingPathComponent("nope.tar").path], binsCache: bins.path)
        do {
            _ = try ShardTrainingData(settings: missing, rewardKeys: MIROConfig.releasedRewardKeys, batchSize: 4, logger: quietLogger)
            Issue.record("a missing shard path must throw")
        } catch {
            #expect("\(error)".contains("nope.tar"))
        }
    }
}
