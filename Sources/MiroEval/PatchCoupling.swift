import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroModels
import MiroPipeline

/// How much the model's prediction for one patch depends on the input of the others, by distance.
///
/// The input y (fresh Shapes images noised to γ) gets a colour shift on one patch — what "there is
/// something red here" looks like to the model — and the change of the predicted velocity is measured on
/// every patch, relative to the shifted patch itself (root of the energy ratio), then averaged by
/// Chebyshev distance in patches over a few shifted positions.
///
/// A model that has learned shapes spreads a shift to its neighbours more than to far patches: the
/// influence falls with distance. A flat profile means the patches are denoised independently with
/// only global information (background, colour amounts) shared through the latents: its samples are
/// mosaics of independently coloured patches.
public struct PatchCoupling: Sendable {
    /// Mean relative influence at Chebyshev distance 1, 2, … (index 0 is distance 1).
    public var influenceByDistance: [Double]
    public var gamma: Double

    public static func measure(_ pipeline: ShapesPipeline, gamma: Double = 0.2, images: Int = 4, seed: UInt64 = 7,
                               logger: Logger) throws -> PatchCoupling {
        let (batch, grid) = try ProbeBatch.forPatchProbe("patch coupling", pipeline: pipeline, gamma: gamma, images: images,
                                                         seed: seed, logger: logger)
        let side = grid.side
        func predict(_ input: Tensor) throws -> Tensor { try batch.predict(input, gamma: gamma).to(.float32) }
        let y = try batch.noised(gamma)
        let base = try predict(y)
        let tokens = try grid.tokens(y)  // (B, N, p·p·C)
        // The colour shift on every pixel of a patch: +0.5 on channel 0, −0.25 on the others; a token's entries
        // run over the patch's pixels with the channel last.
        let colour = try Tensor((0..<grid.channels).map { Float($0 == 0 ? 0.5 : -0.25) }, shape: [grid.channels])
            .repeated([grid.patch * grid.patch]).to(tokens.dtype, device: tokens.device)
        let patches = try Tensor.arange(0, Double(grid.count), device: tokens.device).reshaped([1, grid.count, 1])

        var sums = [Double](repeating: 0, count: side), counts = [Double](repeating: 0, count: side)
        let probes = [(side / 4, side / 4), (side / 2 - 1, side / 2), (3 * side / 4, 3 * side / 4 - 1), (side / 8, 3 * side / 4)]
        for (pr, pc) in probes {
            // The shift on token pr·side + pc only, in every image.
            let mask = try patches.eq(Double(pr * side + pc)).to(tokens.dtype)
            let changed = try predict(grid.images(tokens + mask * colour))
            // Each patch's energy of the change, summed over the images and the token's entries.
            let energy = try grid.tokens(changed - base).to(.float64).pow(2).sum([0, 2]).doubles()
            let own = max(energy[pr * side + pc], .leastNormalMagnitude)
            for r in 0..<side {
                for c in 0..<side where (r, c) != (pr, pc) {
                    let distance = max(abs(r - pr), abs(c - pc))
                    sums[distance] += (energy[r * side + c] / own).squareRoot()
                    counts[distance] += 1
                }
            }
        }
        let profile = (1..<side).filter { counts[$0] > 0 }.map { sums[$0] / counts[$0] }
        return PatchCoupling(influenceByDistance: profile, gamma: gamma)
    }

    public var summary: String {
        "patch coupling at γ = \(String(format: "%.2f", gamma)) (a colour shift on one patch: change of the other patches' "
            + "prediction relative to its own, by distance 1, 2, …): "
            + influenceByDistance.map { String(format: "%.3f", $0) }.joined(separator: " ")
    }
}
