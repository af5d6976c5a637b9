// Port of `DiagonalGaussianDistribution` (diffusers/models/autoencoders/vae.py, diffusers 0.27.2): the
// posterior the KL autoencoder's encoder returns.

import MiroEngine

/// The encoder's posterior N(mean, std²) per latent element.
///
///     mean, logvar = torch.chunk(moments, 2, dim=1)
///     logvar = clamp(logvar, −30, 20);  std = exp(0.5 · logvar)
///
/// MIRO's enriched shards store `mean` and `std` (as float16) for every image (`vae_embeddings_{mean,std}_256.npy`).
public struct DiagonalGaussian: @unchecked Sendable {
    public let mean: Tensor
    public let logvar: Tensor
    public let std: Tensor

    /// Splits `moments` (B, 2·C, H, W) into mean and clamped log-variance along the channels.
    public init(moments: Tensor) throws {
        guard moments.rank == 4, moments.size(1) % 2 == 0 else {
            throw VAEError.invalidInput(message: "posterior moments must be (B, 2·C, H, W), got \(moments.shape)")
        }
        let parts = try moments.chunked(2, dim: 1)
        mean = try parts[0].contiguous()
        logvar = try parts[1].clamp(min: -30, max: 20)
        std = try (logvar * 0.5).exp()
    }

    public var variance: Tensor { get throws { try logvar.exp() } }

    /// `sample()`: mean + std · ε with ε of the mean's shape.
    public func sample(noise: Tensor) throws -> Tensor {
        guard noise.shape == mean.shape else {
            throw VAEError.invalidInput(message: "posterior noise has shape \(noise.shape), expected \(mean.shape)")
        }
        return try mean + std * noise
    }

    /// `sample(generator)`: ε drawn from `Tensor.randn` with the given generator.
    public func sample(generator: Generator? = nil) throws -> Tensor {
        try sample(noise: Tensor.randn(mean.shape, dtype: mean.dtype, generator: generator))
    }
}
