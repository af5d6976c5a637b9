import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroModels
import MiroPipeline
import MiroRewards

/// How much the model's denoising relies on each conditioning input: the caption and every reward.
///
/// A reward can fail to steer samples for two different reasons — the network never learned to read its
/// token, or it reads it but the sampler cannot turn that into the measured property (a mosaic of 4×4
/// patches has seams whatever the quality target says). This probe tells them apart on the training
/// objective itself. Fresh Shapes images are noised to each γ exactly as in training and reconstructed in
/// one step (x̂₀ = y − (1 − γ)·v̂) under their own conditioning, then again with one input taken from
/// another image of the batch (a cyclic shift of the rows, so every image gets a stranger's value). The
/// increase of the x̂₀ error is that input's use: 0 for an input the network ignores (or one that is the
/// same for every image, like the baseline's constant rewards), larger the more the denoising depends on it.
/// Per-image increases give a standard error, so a small use can be told from none.
public struct ConditioningUse: Sendable {
    public struct Row: Sendable, Equatable {
        /// "caption" or a reward key.
        public var input: String
        /// Mean over images of (MSE with the input swapped − MSE with its own), averaged over the γ levels.
        public var increase: Double
        /// The same at each γ level, in the order of `gammas`.
        public var increaseByGamma: [Double]
        public var standardError: Double
        /// `increase` over the MSE with the images' own conditioning.
        public var relative: Double { increase / max(ownMSE, .leastNormalMagnitude) }
        public var ownMSE: Double
    }

    public var rows: [Row]
    public var gammas: [Double]
    public var images: Int

    public static let defaultGammas = [0.2, 0.5, 0.8, 0.95]

    public static func measure(_ pipeline: ShapesPipeline, gammas: [Double] = defaultGammas, images: Int = 64,
                               seed: UInt64 = 13, logger: Logger) throws -> ConditioningUse {
        guard images >= 2 else { throw InputError("the conditioning probe needs at least two images") }
        guard !gammas.isEmpty, gammas.allSatisfy({ $0 > 0 && $0 < 1 }) else {
            throw InputError("conditioning probe levels must be in (0, 1), got \(gammas)")
        }
        let batch = try ProbeBatch(pipeline, images: images, binSamples: 1024, seed: seed, logger: logger)
        let own = batch.conditioning
        let shift = try Tensor((0..<images).map { Int64(($0 + 1) % images) }, shape: [images])

        var variants: [(String, MIROConditioning)] = [
            ("caption", MIROConditioning(text: try own.text.indexSelect(0, shift),
                                         textMask: try own.textMask.indexSelect(0, shift), rewards: own.rewards)),
        ]
        let keys = pipeline.rewardKeys
        // Reward k swapped: column k from the shifted rows, the other columns the images' own.
        let shiftedRewards = try own.rewards.indexSelect(0, shift)
        let columns = try Tensor.arange(0, Double(keys.count), device: own.rewards.device).reshaped([1, keys.count])
        for (k, key) in keys.enumerated() {
            let swapped = try Tensor.where_(columns.eq(Double(k)), shiftedRewards, own.rewards)
            variants.append((key, MIROConditioning(text: own.text, textMask: own.textMask, rewards: swapped)))
        }

        // The noised inputs are the same for every variant; only the conditioning changes.
        let inputs = try gammas.map { (gamma: $0, y: try batch.noised($0)) }
        /// Per-image x̂₀ MSE at each γ level: [level][image].
        func perImageError(_ conditioning: MIROConditioning) throws -> [[Double]] {
            try inputs.map { gamma, y in
                let estimate = try y - batch.predict(y, gamma: gamma, conditioning: conditioning) * (1 - gamma)
                return try (estimate - batch.x0).pow(2).reshaped([images, -1]).mean([1]).floats().map(Double.init)
            }
        }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
        let base = try perImageError(own)
        let ownMSE = mean(base.map(mean))
        var rows: [Row] = []
        for (name, conditioning) in variants {
            let swapped = try perImageError(conditioning)
            let byLevel = zip(swapped, base).map { zip($0, $1).map { $0 - $1 } }
            // Each image's increase averaged over the levels: the unit whose spread gives the standard error.
            let perImage = (0..<images).map { i in mean(byLevel.map { $0[i] }) }
            let m = mean(perImage)
            let variance = perImage.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(images - 1)
            rows.append(Row(input: name, increase: m, increaseByGamma: byLevel.map(mean),
                            standardError: (variance / Double(images)).squareRoot(), ownMSE: ownMSE))
        }
        return ConditioningUse(rows: rows, gammas: gammas, images: images)
    }

    public func table() -> String {
        let levels = gammas.map { String(format: "%.2g", $0) }.joined(separator: ", ")
        var lines = ["conditioning use: x̂₀ MSE increase when one input is taken from another image "
                     + "(\(images) images, γ = \(levels); 0: the input is not read; relative to the MSE with the "
                     + "images' own conditioning, " + String(format: "%.4f", rows.first?.ownMSE ?? 0) + ")",
                     "  input                      mean over γ ± s.e.       relative  "
                         + gammas.map { String(format: "γ=%-9.2g", $0) }.joined(separator: " ")]
        for row in rows {
            lines.append("  " + row.input.padding(toLength: 25, withPad: " ", startingAt: 0)
                         + String(format: "  %+.6f ± %.6f  %+6.2f %%  ", row.increase, row.standardError, 100 * row.relative)
                         + row.increaseByGamma.map { String(format: "%+.6f", $0) }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}
