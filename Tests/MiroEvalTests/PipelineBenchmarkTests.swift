import Foundation
import Testing
import MiroTestSupport
import MiroEngine
import MiroEval
import MiroModels
import MiroPipeline

/// `PipelineBenchmark` (behind `miro bench pipeline`) on the tiny configuration: the same code path as the
/// full-size benchmark (T5 encode → guided MIRO steps → VAE decode to uint8), in well under a second.
@Suite(.serialized) struct PipelineBenchmarkTests {
    /// The prompt rule the Python benchmark (scripts/bench_official_pipeline.py, prompt_ids) reproduces.
    @Test func promptIDsFollowTheSharedRule() {
        let p = PipelineBenchmark.promptIDs(realTokens: 4, length: 6, vocabSize: 32128)
        #expect(p.ids == [7922, 15841, 23760, 1, 0, 0])
        #expect(p.mask == [1, 1, 1, 1, 0, 0])
        let full = PipelineBenchmark.promptIDs(realTokens: 40, length: 77, vocabSize: 32128)
        #expect(full.ids.count == 77 && full.mask.reduce(0, +) == 40)
        #expect(full.ids.allSatisfy { (0..<32000).contains($0) })  // never a sentinel (32000…32099)
    }

    @Test func everyStageRunsOnTheTinyConfiguration() throws {
        let bench = try PipelineBenchmark(options: .tiny, logger: quietLogger)
        var seen: [PipelineBenchmark.Stage] = []
        let report = try bench.run { seen.append($0.stage) }
        #expect(seen == [.t5, .miro, .vae])
        #expect(report.stages.map(\.stage) == [.t5, .miro, .vae])
        let o = PipelineBenchmark.Options.tiny
        for (stage, runs) in zip(report.stages, [o.t5Runs, o.miroRuns, o.vaeRuns]) {
            #expect(stage.runs.count == runs)
            #expect(stage.runs.allSatisfy { $0 > 0 })
            #expect(stage.finite)
            #expect(stage.parameters > 0)
            #expect(stage.line.hasPrefix("stage | \(stage.stage.rawValue) | "))
            #if os(Linux)
            #expect(stage.rssAfterMB > 0 && stage.peakMB >= stage.rssAfterMB - 1)
            #endif
        }
        #expect(report.stages[1].steps == o.steps)
        #expect(report.stages[2].detail.contains("[1, 16, 16, 3]"))  // 8×8 latents, two blocks: ×2 → 16² uint8
        #if os(Linux)
        #expect(report.peakMB >= report.stages.map(\.rssAfterMB).max() ?? 0)
        #endif
        let json = report.jsonObject(impl: "swift")
        let stages = json["stages"] as? [String: Any]
        #expect(Set(stages?.keys.map { $0 } ?? []) == ["t5", "miro", "vae"])
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        #expect(!data.isEmpty)
        #expect(report.resultLine(impl: "swift").hasPrefix("result | swift | t5 "))
    }

    /// A stage alone gets random inputs of the shapes the previous stage would give.
    @Test func aStageRunsAlone() throws {
        var options = PipelineBenchmark.Options.tiny
        options.stages = [.vae]
        let report = try PipelineBenchmark(options: options, logger: quietLogger).run()
        #expect(report.stages.map(\.stage) == [.vae])
        options.stages = [.miro]
        let miro = try PipelineBenchmark(options: options, logger: quietLogger).run()
        #expect(miro.stages.first?.finite == true)
    }

    @Test func inconsistentOptionsAreRefused() {
        var options = PipelineBenchmark.Options.tiny
        options.network.labelDim = 48
        #expect(throws: (any Error).self) { _ = try PipelineBenchmark(options: options, logger: quietLogger) }
        options = .tiny
        options.promptTokens = options.maxTextLength + 1
        #expect(throws: (any Error).self) { _ = try PipelineBenchmark(options: options, logger: quietLogger) }
        options = .tiny
        options.stages = [.t5, .t5]
        #expect(throws: (any Error).self) { _ = try PipelineBenchmark(options: options, logger: quietLogger) }
        options = .tiny
        options.stages = []
        #expect(throws: (any Error).self) { _ = try PipelineBenchmark(options: options, logger: quietLogger) }
    }
}

/// `miro bench rewards` at tiny sizes: every reward builds, scores the batch, and gives finite values.
@Test func rewardBenchmarkRunsEveryRewardAtTinySize() throws {
    var o = RewardBenchmark.Options()
    o.tiny = true
    o.batch = 3
    o.runs = 1
    let results = try RewardBenchmark(options: o).run()
    #expect(results.map(\.reward) == RewardBenchmark.rewards)
    #expect(results.allSatisfy { $0.finite && $0.batch == 3 && $0.parameters > 0 && $0.seconds > 0 })
    var bad = RewardBenchmark.Options()
    bad.rewards = ["clip_score"]  // Jina-CLIP is not built here: refused by name
    #expect(throws: InputError.self) { try RewardBenchmark(options: bad) }
}
