import Foundation
import MiroEval
import MiroPipeline
import Testing
import MiroTestSupport

/// The evaluation entry points refuse image counts they cannot hold (before generating anything), instead of
/// trapping on `Array(repeating:count:)` or allocating for hours.
@Suite(.serialized) struct EvalBoundsTests {
    @Test(arguments: [0, -1, 1_001, Int.max])  // maxPerPrompt is 1000
    func shapesEvaluationPerPrompt(_ perPrompt: Int) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)
        #expect(throws: InputError.self) {
            _ = try ShapesEvaluation.run(pipeline, settings: ShapesPipeline.Settings(), perPrompt: perPrompt)
        }
    }

    @Test(arguments: [0, 10_001, Int.max])  // maxImages is 10000
    func rewardSweepImages(_ images: Int) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)
        #expect(throws: InputError.self) {
            _ = try RewardSweep.run(pipeline, settings: ShapesPipeline.Settings(), targets: [0, 1], images: images)
        }
    }
}
