import Foundation
import Logging
import MiroData
import MiroEngine
import MiroImage
import MiroModels
import MiroPipeline
import MiroRewards

/// One-step reconstructions of fresh Shapes images: each image is noised to several signal
/// fractions γ exactly as in training (y = γ·x₀ + (1 − γ)·n), the model predicts the velocity
/// once, and x̂₀ = y − (1 − γ)·v̂ is compared with x₀ (mean squared error in the model's data space,
/// where every channel has std σ_data).
///
/// This separates what a model has learned from what the sampler makes of it. At γ = 0.5 the shapes
/// are plainly visible in y; a model whose x̂₀ there is a grid of flat 4×4 patches, or misses a shape,
/// is under-trained, and its samples will be mosaics however the sampler is tuned.
public struct DenoiseProbe: Sendable {
    public static let defaultGammas = [0.05, 0.1, 0.2, 0.35, 0.5, 0.75]

    public struct Level: Sendable, Equatable {
        public var gamma: Double
        public var mse: Double
    }

    public var levels: [Level]
    /// Row 0: the clean images; then for each γ a row of y (brightness-rescaled by 1/max(γ, 0.2) so
    /// that the signal shows) and a row of x̂₀.
    public var sheet: [RGBImage]
    public var columns: Int
    /// Every channel's std in data space: an x̂₀ equal to the mean image scores σ_data².
    public var sigmaData: Double

    /// - Parameters:
    ///   - images: how many Shapes samples, drawn from the world with `seed` (the default training set is seed 0).
    ///   - seed: the world's seed and the noise's.
    ///   - logger: receives the probe set's generation lines.
    ///
    /// Each image is conditioned on its caption and on its own rewards, binned with quantiles fitted on
    /// 1024 samples of the same draw: the conditioning the training loss sees (the baseline gets its constant).
    public static func run(_ pipeline: ShapesPipeline, gammas: [Double] = defaultGammas, images: Int = 8,
                           seed: UInt64 = 99, logger: Logger) throws -> DenoiseProbe {
        guard images >= 1 else { throw InputError("the denoising probe needs at least one image") }
        guard !gammas.isEmpty, gammas.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
            throw InputError("denoising probe levels must be in (0, 1], got \(gammas)")
        }
        let batch = try ProbeBatch(pipeline, images: images, binSamples: 1024, seed: seed, logger: logger)
        let x0 = batch.x0

        var levels: [Level] = []
        var sheet = try pipeline.normalization.decode(x0)
        for gamma in gammas {
            let y = try batch.noised(gamma)
            let v = try batch.predict(y, gamma: gamma)
            let estimate = try y - v * (1 - gamma)
            levels.append(Level(gamma: gamma, mse: Double(try (estimate - x0).pow(2).mean().floats()[0])))
            sheet += try pipeline.normalization.decode(y * (1 / max(gamma, 0.2)))
            sheet += try pipeline.normalization.decode(estimate)
        }
        return DenoiseProbe(levels: levels, sheet: sheet, columns: images, sigmaData: pipeline.normalization.sigmaData)
    }

    public func table() -> String {
        var lines = ["one-step reconstruction x̂₀ = y − (1 − γ)·v̂: MSE in data space (predicting the mean image scores ≈ σ_data² = "
                     + String(format: "%.3g)", sigmaData * sigmaData),
                     "  γ       MSE"]
        for level in levels { lines.append(String(format: "  %-6.2f  %.4f", level.gamma, level.mse)) }
        return lines.joined(separator: "\n")
    }
}
