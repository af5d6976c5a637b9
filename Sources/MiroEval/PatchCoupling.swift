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
        let (p, side, size, channels) = (grid.patch, grid.side, grid.size, grid.channels)
        let y = try batch.noised(gamma)
        func predict(_ input: Tensor) throws -> [Float] { try batch.predict(input, gamma: gamma).floats() }
        let base = try predict(y)
        let input = try y.floats()
        let index = grid.index

        var sums = [Double](repeating: 0, count: side), counts = [Double](repeating: 0, count: side)
        let probes = [(side / 4, side / 4), (side / 2 - 1, side / 2), (3 * side / 4, 3 * side / 4 - 1), (side / 8, 3 * side / 4)]
        for (pr, pc) in probes {
            var shifted = input
            for b in 0..<images {
                for c in 0..<channels {
                    for row in pr * p..<(pr + 1) * p {
                        for col in pc * p..<(pc + 1) * p { shifted[index(b, c, row, col)] += c == 0 ? 0.5 : -0.25 }
                    }
                }
            }
            let changed = try predict(Tensor(shifted, shape: y.shape))
            var energy = [Double](repeating: 0, count: side * side)
            for b in 0..<images {
                for c in 0..<channels {
                    for row in 0..<size {
                        for col in 0..<size {
                            let d = Double(changed[index(b, c, row, col)] - base[index(b, c, row, col)])
                            energy[(row / p) * side + col / p] += d * d
                        }
                    }
                }
            }
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
