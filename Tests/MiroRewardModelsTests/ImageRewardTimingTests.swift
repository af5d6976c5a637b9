import Foundation
import Testing
import MiroEngine
import MiroRewardModels

/// Opt-in (MIRO_IMAGEREWARD_TIMING=1): the full-size ImageReward v1.0 (random weights) on 224² images and
/// 35-token prompts, timed after a warm-up; scripts/bench_imagereward_reference.py times the reference the same
/// way. Not a parity check.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MIRO_IMAGEREWARD_TIMING"] != nil))
struct ImageRewardTimingTests {
    @Test func fullSizeImagesPerSecond() throws {
        let batch = Int(ProcessInfo.processInfo.environment["MIRO_IMAGEREWARD_BATCH"] ?? "") ?? 4
        Engine.keepFreedMemory()  // as every CLI command does
        let model = try ImageReward.random(seed: 1)
        let pixels = try Tensor.randn([batch, 3, 224, 224], generator: Generator(seed: 2))
        let ids = try Tensor.randint(0, 30522, [batch, 35], generator: Generator(seed: 3))
        let mask = try Tensor.ones([batch, 35], dtype: .int64)
        _ = try model.rewards(pixels: pixels, ids: ids, mask: mask)  // warm-up
        let runs = 3
        let start = Date()
        var last: [Float] = []
        for _ in 0..<runs { last = try model.rewards(pixels: pixels, ids: ids, mask: mask) }
        let seconds = Date().timeIntervalSince(start) / Double(runs)
        print(String(format: "ImageReward full size, batch %d: %.3f s/batch, %.2f images/s (%d threads)", batch, seconds,
                     Double(batch) / seconds, Engine.threads))
        #expect(last.count == batch && last.allSatisfy(\.isFinite))
    }
}
