// Port of the latent and image conversions around the VAE in miro-t2i 0.1.4:
// `PrecomputedSDLatentPreconditioning.forward` (miro/models/preprocessing.py), `VAEPostProcessing.forward`
// and `remap_image_torch` (miro/models/postprocessing.py), and the shard writer's image transform
// (`vae_image_transforms_256` in data/preprocess_data.py of nicolas-dufour/miro).

import MiroEngine

/// MIRO's affine map between the SDXL VAE's raw latent space and the space the network is trained in.
///
/// What the official code does, end to end:
///
///     image → stored latent   (data/preprocess_data.py, stage "vae")
///         x = Normalize(0.5, 0.5)(ToTensor(Resize(256)(CenterCrop 1:1(img))))      pixels [0, 1] → [−1, 1]
///         d = vae.encode(x).latent_dist;  store d.mean.half(), d.std.half()       (no scaling_factor)
///     stored latent → network latent   (PrecomputedSDLatentPreconditioning, training)
///         z = mean + std · ε  (vae_sample=True, ε ~ randn_like)   or   z = mean
///         x₀ = z · scale + bias
///     network latent → image   (VAEDecoderPostProcessing, MiroPipeline)
///         z = (x₀ − bias) / scale;  y = vae.decode(z).sample  (chunks of max_batch_size = 64)
///         pixels = uint8( clamp(y · 0.5 + 0.5, 0, 1) · 255 )      (truncation, not rounding)
///
/// with `scale`, `bias` (1, 4, 1, 1) from VAE_STATS["sdxl"]:
///
///     channel-wise (config `channel_wise_normalisation: true`):  scale = 0.5 / σ_c,  bias = −μ_c · scale
///         σ = [7.8518, 5.8465, 6.8716, 5.3140],  μ = [−0.3480, 0.3754, 0.0419, 2.4331]
///     global: scale = 1 / 0.13025,  bias = −0 · scale
///
/// So the channel-wise network latent is (z − μ_c) / (2 σ_c), and the global one is z / 0.13025 — note that
/// the "global" MIRO latent is z ÷ 0.13025 (as the official buffers are built), not diffusers' z × 0.13025.
/// The released `model.safetensors` also holds the buffers (`data_preprocessing.scale`, `postprocessing.bias`,
/// …) and `MiroPipeline` loads them over the constructor's values: `init(scale:bias:)` takes those.
/// All arithmetic is float32 as in torch, so the constants equal the official buffers bit for bit.
public struct LatentNormalization: Sendable, Equatable {
    public var scale: [Float]
    public var bias: [Float]

    public init(scale: [Float], bias: [Float]) throws {
        guard !scale.isEmpty, scale.count == bias.count else {
            throw VAEError.invalidInput(message: "latent normalisation needs as many scales as biases (got \(scale.count) and \(bias.count))")
        }
        guard scale.allSatisfy({ $0.isFinite && $0 != 0 }), bias.allSatisfy(\.isFinite) else {
            throw VAEError.invalidInput(message: "latent normalisation scales must be finite and non-zero, biases finite "
                                        + "(scale \(scale), bias \(bias))")
        }
        self.scale = scale
        self.bias = bias
    }

    /// VAE_STATS["sdxl"] of preprocessing.py / postprocessing.py.
    public enum SDXLStats {
        public static let scale: [Float] = [0.13025, 0.13025, 0.13025, 0.13025]
        public static let bias: [Float] = [0, 0, 0, 0]
        public static let scaleChannelWise: [Float] = [7.8518, 5.8465, 6.8716, 5.3140]
        public static let biasChannelWise: [Float] = [-0.3480, 0.3754, 0.0419, 2.4331]
    }

    /// The buffers the official constructors build for the SDXL VAE (`model_type="sdxl"`, the only one).
    public static func sdxl(channelWise: Bool) -> LatentNormalization {
        // scale_val = 0.5 / stats["scale_channel_wise"]; bias_val = -stats["bias_channel_wise"] * scale_val
        // scale_val = 1.0 / stats["scale"];               bias_val = -stats["bias"] * scale_val
        let (numerator, s, b): (Float, [Float], [Float]) = channelWise
            ? (0.5, SDXLStats.scaleChannelWise, SDXLStats.biasChannelWise) : (1, SDXLStats.scale, SDXLStats.bias)
        let scale = s.map { numerator / $0 }
        let bias = zip(b, scale).map { -$0 * $1 }
        // The constants above are finite and non-zero.
        return LatentNormalization(unchecked: scale, bias)
    }

    private init(unchecked scale: [Float], _ bias: [Float]) {
        self.scale = scale
        self.bias = bias
    }

    /// The buffers as stored: (1, C, 1, 1) float32 each.
    public func tensors() throws -> (scale: Tensor, bias: Tensor) {
        (try Tensor(scale, shape: [1, scale.count, 1, 1]), try Tensor(bias, shape: [1, bias.count, 1, 1]))
    }

    /// `PrecomputedSDLatentPreconditioning.forward`: raw VAE latents z (B, C, H, W) → network latents z · scale + bias.
    public func normalize(_ z: Tensor) throws -> Tensor {
        try check(z, "raw latents")
        let (s, b) = try tensors()
        return try z.to(.float32) * s + b
    }

    /// The same from a stored posterior: z = mean + std · noise (`vae_sample=True`), or z = mean when `noise`
    /// is nil (`vae_sample=False`).
    public func normalize(mean: Tensor, std: Tensor, noise: Tensor?) throws -> Tensor {
        guard let noise else { return try normalize(mean) }
        guard std.shape == mean.shape, noise.shape == mean.shape else {
            throw VAEError.invalidInput(message: "posterior mean \(mean.shape), std \(std.shape) and noise \(noise.shape) must have one shape")
        }
        return try normalize(noise.to(.float32) * std.to(.float32) + mean.to(.float32))
    }

    /// `VAEPostProcessing.forward`: network latents x (B, C, H, W) → raw VAE latents (x − bias) / scale, the
    /// input of `AutoencoderKL.decode`.
    public func denormalize(_ x: Tensor) throws -> Tensor {
        try check(x, "network latents")
        let (s, b) = try tensors()
        return try (x.to(.float32) - b) / s
    }

    /// Network latents → TAESDXL's input: TAESD decodes the diffusers-*scaled* SDXL latents (the SDXL VAE's
    /// z · scaling_factor; TAESDXL's own scaling_factor is 1.0), so z = denormalize(x) · 0.13025.
    public func denormalizeForTinyAutoencoder(_ x: Tensor, sdxlScalingFactor: Double = 0.13025) throws -> Tensor {
        try denormalize(x) * sdxlScalingFactor
    }

    private func check(_ x: Tensor, _ what: String) throws {
        guard x.rank == 4, x.size(1) == scale.count else {
            throw VAEError.invalidInput(message: "\(what) must be (B, \(scale.count), H, W), got \(x.shape)")
        }
    }
}

/// The image conversions on both sides of the VAE.
public enum VAEImages {
    /// `remap_image_torch(x)` of postprocessing.py: decoder output (B, 3, H, W) ≈ [−1, 1] → uint8 (B, H, W, 3),
    /// `(clamp(x · 0.5 + 0.5, 0, 1) · 255).to(torch.uint8)` (truncating) then `permute(0, 2, 3, 1)`.
    public static func toUInt8(_ decoded: Tensor) throws -> Tensor {
        guard decoded.rank == 4 else {
            throw VAEError.invalidInput(message: "decoded images must be (B, C, H, W), got \(decoded.shape)")
        }
        let unit = try (decoded.to(.float32) * 0.5 + 0.5).clamp(min: 0, max: 1)
        return try (unit * 255).to(.uint8).permuted(0, 2, 3, 1).contiguous()
    }

    /// `transforms.ToTensor()` then `Normalize(mean=0.5, std=0.5)`: uint8 pixels (B, H, W, 3) → (B, 3, H, W) in [−1, 1].
    /// (The shard writer first center-crops to a square and resizes the short side to 256 with PIL's bilinear.)
    public static func fromUInt8(_ pixels: Tensor) throws -> Tensor {
        guard pixels.rank == 4, pixels.dtype == .uint8 else {
            throw VAEError.invalidInput(message: "pixels must be uint8 (B, H, W, C), got \(pixels.dtype) \(pixels.shape)")
        }
        // ToTensor divides by 255 in float32; Normalize computes (x − 0.5) / 0.5.
        return try ((pixels.permuted(0, 3, 1, 2).to(.float32) / 255) - 0.5) / 0.5
    }
}
