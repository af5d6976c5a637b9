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
        let y = try batch.noised(gamma)
        let base = try batch.predict(y, gamma: gamma).to(.float32)

        var rng = SplitMix64(seed: seed)
        var order = Array(0..<grid.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        // Patch `to` of the shuffled input holds patch `order[to]` of y; `inverse` puts every patch back.
        var inverse = order
        for (to, from) in order.enumerated() { inverse[from] = to }
        /// Patch n of the result holds patch `permutation[n]` of `images`.
        func move(_ images: Tensor, _ permutation: [Int]) throws -> Tensor {
            let index = try Tensor(permutation.map(Int64.init), shape: [permutation.count]).to(device: images.device)
            return try grid.images(grid.tokens(images).indexSelect(1, index))
        }
        let restored = try move(batch.predict(move(y, order), gamma: gamma).to(.float32), inverse)

        let change = try (restored - base).to(.float64).pow(2).sum().item()
        let prediction = try base.to(.float64)
        let spread = try (prediction - prediction.mean()).pow(2).sum().item()
        return PositionUse(relativeChange: (change / max(spread, .leastNormalMagnitude)).squareRoot(), gamma: gamma)
    }

    public var summary: String {
        "position use at γ = \(String(format: "%.2f", gamma)) (patches shuffled, prediction put back, change relative "
            + "to the prediction's spread; 0: position plays no part): " + String(format: "%.4f", relativeChange)
    }
}
