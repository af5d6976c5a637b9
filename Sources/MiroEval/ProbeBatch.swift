import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroModels
import MiroPipeline
import MiroShapes
import MiroTraining

/// Fresh Shapes samples set up for the one-step diagnostics (`DenoiseProbe`, `PatchCoupling`, `PositionUse`,
/// `ConditioningUse`): x₀ in the model's own data space, fixed noise, and the conditioning the training loss
/// sees — each image's caption and its own rewards, binned with quantiles fitted on a larger draw of the same
/// world (the baseline gets its constant).
struct ProbeBatch {
    let pipeline: ShapesPipeline
    let x0: Tensor
    let noise: Tensor
    let conditioning: MIROConditioning
    var count: Int { x0.size(0) }

    /// `images` samples of the world drawn with `seed` (also the noise's seed); bins from `max(images, binSamples)`.
    init(_ pipeline: ShapesPipeline, images: Int, binSamples: Int, seed: UInt64, logger: Logger) throws {
        let draw = try ShapesTrainingSet(count: max(images, binSamples), seed: seed, encoder: pipeline.encoder,
                                         rewardKeys: pipeline.rewardKeys, logger: logger)
        let rows = try Tensor((0..<images).map { Int64($0) }, shape: [images])
        conditioning = try draw.batch(rows, unconditional: pipeline.config.train.unconditional).conditioning
        // The model's own pixel normalisation, not the one fitted on the probe draw.
        x0 = try pipeline.normalization.encode(ShapesWorld.dataset(count: images, seed: seed).map(\.image))
        noise = try Tensor.randn(x0.shape, generator: Generator(seed: seed))
        self.pipeline = pipeline
    }

    /// The patch grid of a probe's images: patch side, patches per side, channels.
    struct PatchGrid {
        let patch: Int, side: Int, channels: Int
        var count: Int { side * side }

        /// (B, C, H, W) images → (B, N, p·p·C) patch tokens, N = side², token n = patch (n / side, n % side).
        func tokens(_ images: Tensor) throws -> Tensor { try Patches.patchify(images, patch: patch) }

        /// The inverse of `tokens`.
        func images(_ tokens: Tensor) throws -> Tensor {
            try Patches.unpatchify(tokens, patch: patch, channels: channels, height: side, width: side)
        }
    }

    /// The set-up `PatchCoupling` and `PositionUse` share: γ in (0, 1), at least one image and 2×2 patches
    /// (errors name `probe`), the batch (bins from 256 samples) and its grid.
    static func forPatchProbe(_ probe: String, pipeline: ShapesPipeline, gamma: Double, images: Int, seed: UInt64,
                              logger: Logger) throws -> (batch: ProbeBatch, grid: PatchGrid) {
        guard gamma > 0, gamma < 1, images >= 1 else {
            throw InputError("\(probe) needs γ in (0, 1) and at least one image")
        }
        let net = pipeline.config.network
        let grid = PatchGrid(patch: net.patchSize, side: net.tokensPerSide, channels: net.numInputChannels)
        guard grid.side >= 2 else { throw InputError("\(probe) needs at least 2×2 patches") }
        return (try ProbeBatch(pipeline, images: images, binSamples: 256, seed: seed, logger: logger), grid)
    }

    /// y = γ·x₀ + (1 − γ)·n, as in training.
    func noised(_ gamma: Double) throws -> Tensor { try x0 * gamma + noise * (1 - gamma) }

    /// The model's velocity prediction v̂ for `y` at `gamma`, under the batch's own conditioning unless
    /// another is given.
    func predict(_ y: Tensor, gamma: Double, conditioning other: MIROConditioning? = nil) throws -> Tensor {
        try withoutGrad {
            try pipeline.model(y, gamma: Tensor.full([count], gamma), conditioning: other ?? conditioning).prediction
        }
    }
}
