import Foundation
import Testing
import MiroEngine
import MiroT5

/// Opt-in timing (MIRO_T5_BENCH=1): FLAN-T5-XL-sized blocks with random weights, per block and extrapolated to
/// the 24-block encoder. Not a pass/fail check; it prints the numbers.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MIRO_T5_BENCH"] != nil))
struct T5BenchmarkTests {
    @Test("XL-sized blocks: seconds per block at L = 77 and 128, fp32 and bf16")
    func xlBlocks() throws {
        var config = T5Config.flanT5XL
        let layers = 2
        config.numLayers = layers
        for dtype in T5Precision.allCases {
            let model = try T5Encoder.random(config: config, dtype: dtype, seed: 1)
            for length in [77, 128] {
                let ids = try Tensor((0..<length).map { Int64($0 * 7 % 32000) }, shape: [1, length])
                let mask = try Tensor.ones([1, length])
                _ = try model(ids: ids, mask: mask)  // warm-up
                var times: [Double] = []
                for _ in 0..<3 {
                    let start = Date()
                    let out = try model(ids: ids, mask: mask)
                    _ = try out.sum().item()
                    times.append(Date().timeIntervalSince(start))
                }
                let perBlock = (times.sorted()[1]) / Double(layers)
                print("T5 bench \(dtype) L=\(length) threads=\(Engine.threads): \(String(format: "%.3f", perBlock)) s/block, "
                      + "≈ \(String(format: "%.2f", perBlock * 24)) s for 24 blocks")
            }
        }
    }
}
