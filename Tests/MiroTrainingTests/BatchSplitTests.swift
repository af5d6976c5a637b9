import Foundation
import MiroEngine
import MiroShapes
import MiroTestSupport
import MiroTraining
import Testing

/// `TrainStep.batchSplits`: a batch run as parts on several threads trains like the whole batch (float rounding
/// apart) — the same draws and reward-dropout masks reach the same rows — and gives the same bits every time.
@Suite(.serialized)
struct BatchSplitTests {
    struct Run {
        var losses: [Double]
        /// Before clipping: the loss's scale reaches it, which LAMB's updates would not show.
        var gradientNorms: [Double]
        var parameters: [String: Tensor]
    }

    static func train(splits: Int, data: ShapesTrainingSet, steps: Int = 4) throws -> Run {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = microConfig(steps: steps)
        config.network.coherenceDropout = 0.5  // so that a part given another part's masks, or its own draws, shows
        let t = try Trainer(runDirectory: dir, config: config, data: data, resume: false, logger: quietLogger)
        t.trainingStep.batchSplits = splits
        let stats = try (0..<steps).map { _ in try t.trainStep() }
        return Run(losses: stats.map(\.loss), gradientNorms: stats.map(\.gradNorm),
                   parameters: Dictionary(uniqueKeysWithValues: t.model.namedParameters()))
    }

    static func largestDifference(_ a: Run, _ b: Run) throws -> Double {
        try a.parameters.map { name, p in try (p - #require(b.parameters[name])).abs().amax().item() }.max() ?? 0
    }

    @Test func partsTrainLikeTheWholeBatchAndRepeatBitForBit() throws {
        let data = try ShapesTrainingSet(count: 64, seed: 5, encoder: ShapesTextEncoder(), logger: quietLogger)
        let whole = try Self.train(splits: 1, data: data)
        for splits in [2, 3] {  // batch 8: parts of 4 + 4, and of 2 + 3 + 3
            let parts = try Self.train(splits: splits, data: data)
            for (step, (a, b)) in zip(whole.losses, parts.losses).enumerated() {
                #expect(abs(a - b) <= 1e-5 * abs(a), "step \(step + 1), \(splits) parts: loss \(b), whole batch \(a)")
            }
            for (step, (a, b)) in zip(whole.gradientNorms, parts.gradientNorms).enumerated() {
                #expect(abs(a - b) <= 1e-4 * abs(a), "step \(step + 1), \(splits) parts: gradient norm \(b), whole batch \(a)")
            }
            let drift = try Self.largestDifference(whole, parts)
            #expect(drift < 1e-4, "\(splits) parts: parameters differ from the whole batch's by up to \(drift)")
            let again = try Self.train(splits: splits, data: data)
            #expect(again.losses == parts.losses)
            #expect(try Self.largestDifference(again, parts) == 0, "\(splits) parts: not the same bits twice")
        }
    }

    @Test func aBatchSmallerThanTheSplitsRunsOneRowPerPart() throws {
        let data = try ShapesTrainingSet(count: 64, seed: 5, encoder: ShapesTextEncoder(), logger: quietLogger)
        let whole = try Self.train(splits: 1, data: data, steps: 1)
        let parts = try Self.train(splits: 64, data: data, steps: 1)
        #expect(abs(whole.losses[0] - parts.losses[0]) <= 1e-5 * abs(whole.losses[0]))
    }
}
