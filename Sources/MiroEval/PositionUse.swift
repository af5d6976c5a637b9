import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroModels
import MiroPipeline

/// How much the model's prediction depends on *where* a patch is, not only on what it holds.
///
/// The RIN's data tokens learn their place only through `data_pos_embedding` (std 0.02 at init, next
/// to LayerNormed content of unit scale): without it the network is equivariant to any shuffling of
/// the patches. The probe shuffles the patches of y (fresh Shapes images noised to γ) by a fixed
/// permutation, predicts, puts the predicted patches back in their places and compares with the
/// prediction for the unshuffled input: ‖unshuffle(v̂(shuffle y)) − v̂(y)‖ / ‖v̂(y) − mean v̂(y)‖.
/// 0 means position plays no part (every patch is denoised from its content and global facts alone,
/// so "left of" prompts cannot be followed and samples are mosaics); a model that lays images out
/// scores a sizeable fraction of 1.
public struct PositionUse: Sendable {
    public var relativeChange: Double
    public var gamma: Double

    public static func measure(_ pipeline: ShapesPipeline, gamma: Double = 0.2, images: Int = 4, seed: UInt64 = 11,
                               logger: Logger) throws -> PositionUse {
        let (batch, grid) = try ProbeBatch.forPatchProbe("the position probe", pipeline: pipeline, gamma: gamma, images: images,
                                                         seed: seed, logger: logger)
        let (p, side, channels) = (grid.patch, grid.side, grid.channels)
        let y = try batch.noised(gamma)
        let base = try batch.predict(y, gamma: gamma).floats()

        var rng = SplitMix64(seed: seed)
        var order = Array(0..<(side * side))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let index = grid.index
        // Patch `to` of the result holds patch `from` of the source; `inverse` undoes it.
        func move(_ source: [Float], inverse: Bool) -> [Float] {
            var out = source
            for to in 0..<order.count {
                let (dst, src) = inverse ? (order[to], to) : (to, order[to])
                for b in 0..<images {
                    for c in 0..<channels {
                        for dr in 0..<p {
                            for dc in 0..<p {
                                out[index(b, c, (dst / side) * p + dr, (dst % side) * p + dc)] =
                                    source[index(b, c, (src / side) * p + dr, (src % side) * p + dc)]
                            }
                        }
                    }
                }
            }
            return out
        }
        let shuffled = try Tensor(move(try y.floats(), inverse: false), shape: y.shape)
        let restored = move(try batch.predict(shuffled, gamma: gamma).floats(), inverse: true)

        let mean = base.reduce(0) { $0 + Double($1) } / Double(base.count)
        var change = 0.0, spread = 0.0
        for i in base.indices {
            change += pow(Double(restored[i] - base[i]), 2)
            spread += pow(Double(base[i]) - mean, 2)
        }
        return PositionUse(relativeChange: (change / max(spread, .leastNormalMagnitude)).squareRoot(), gamma: gamma)
    }

    public var summary: String {
        "position use at γ = \(String(format: "%.2f", gamma)) (patches shuffled, prediction put back, change relative "
            + "to the prediction's spread; 0: position plays no part): " + String(format: "%.4f", relativeChange)
    }
}
