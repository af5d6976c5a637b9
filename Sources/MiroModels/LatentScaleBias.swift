// Port of miro/models/preprocessing.py (PrecomputedSDLatentPreconditioning) and
// miro/models/postprocessing.py (VAEPostProcessing) of miro-t2i 0.1.4: the SDXL latent normalisation
// buffers (method §5.1).

import MiroEngine

/// The `scale` / `bias` buffers, shape (1, C, 1, 1), that both `PrecomputedSDLatentPreconditioning`
/// (`data_preprocessing.*`) and `VAEPostProcessing` (`postprocessing.*`) register and the official
/// converter writes into `model.safetensors`:
///
///     channel-wise:  scale = 0.5 / σ_c,      bias = −μ_c · scale      (σ, μ = VAE_STATS["sdxl"]["*_channel_wise"])
///     global:        scale = 1 / 0.13025,    bias = −0 · scale (= −0.0)
///     normalise:     x₀ = x_raw · scale + bias           (preprocessing)
///     denormalise:   x_raw = (x₀ − bias) / scale         (postprocessing, before vae.decode)
///
/// Values are computed in float32 as torch does, so they equal the official buffers bit for bit.
public struct LatentScaleBias: Sendable, Equatable {
    public var scale: [Float]
    public var bias: [Float]

    public init(scale: [Float], bias: [Float]) {
        self.scale = scale
        self.bias = bias
    }

    /// VAE_STATS["sdxl"] of preprocessing.py / postprocessing.py.
    public enum SDXL {
        public static let scale: [Float] = [0.13025, 0.13025, 0.13025, 0.13025]
        public static let bias: [Float] = [0, 0, 0, 0]
        public static let scaleChannelWise: [Float] = [7.8518, 5.8465, 6.8716, 5.3140]
        public static let biasChannelWise: [Float] = [-0.3480, 0.3754, 0.0419, 2.4331]
    }

    /// The buffers the official constructors build for `model_type` (only "sdxl" exists officially).
    public static func official(channelWise: Bool, modelType: String = "sdxl") throws -> LatentScaleBias {
        guard modelType == "sdxl" else {
            throw MIROModelError.invalidConfig("model_type: unknown model type '\(modelType)'; available types: [\"sdxl\"]")
        }
        // scale_val = 0.5 / stats["scale_channel_wise"]; bias_val = -stats["bias_channel_wise"] * scale_val
        // scale_val = 1.0 / stats["scale"];               bias_val = -stats["bias"] * scale_val
        let (numerator, s, b): (Float, [Float], [Float]) = channelWise
            ? (0.5, SDXL.scaleChannelWise, SDXL.biasChannelWise) : (1.0, SDXL.scale, SDXL.bias)
        let scale = s.map { numerator / $0 }
        return LatentScaleBias(scale: scale, bias: zip(b, scale).map { -$0 * $1 })
    }

    /// The buffers as stored: `scale`, `bias`, each (1, C, 1, 1) float32.
    public func tensors() throws -> (scale: Tensor, bias: Tensor) {
        (try Tensor(scale, shape: [1, scale.count, 1, 1]), try Tensor(bias, shape: [1, bias.count, 1, 1]))
    }

    /// Reads `scale` / `bias` tensors of shape (1, C, 1, 1) (any float dtype).
    public init(scale: Tensor, bias: Tensor) throws {
        self.init(scale: try scale.to(.float32).flattened().floats(), bias: try bias.to(.float32).flattened().floats())
    }

    /// `VAEPostProcessing.forward`: x_raw = (x − bias) / scale, for x (B, C, H, W).
    public func denormalize(_ x: Tensor) throws -> Tensor {
        let (s, b) = try tensors()
        return try (x.to(.float32) - b) / s
    }
}

extension LatentScaleBias {
    /// `PrecomputedSDLatentPreconditioning.forward` after the posterior sample: x₀ = x_raw · scale + bias.
    public func normalize(_ x: Tensor) throws -> Tensor {
        let (s, b) = try tensors()
        return try x.to(.float32) * s + b
    }
}
