// Port of `Encoder`, `Decoder` (diffusers/models/autoencoders/vae.py) and `AutoencoderKL`
// (diffusers/models/autoencoders/autoencoder_kl.py) of diffusers 0.27.2, inference only (no tiling):
// the SDXL VAE (KL-f8) that maps 256×256 images to 4×32×32 latents and back.

import MiroEngine
import MiroNN

/// `Encoder(double_z=True)`: conv_in → down blocks (each but the last ends with the asymmetric-pad
/// downsampler) → mid block (resnet, attention, resnet) → GroupNorm → SiLU → conv_out (2 · latent channels).
public final class VAEEncoder: Module {
    @Child(key: "conv_in") var convIn: Conv2d
    @Child(key: "down_blocks") var downBlocks: [DownEncoderBlock2D]
    @Child(key: "mid_block") var midBlock: VAEMidBlock
    @Child(key: "conv_norm_out") var convNormOut: GroupNorm
    @Child(key: "conv_out") var convOut: Conv2d

    public init(_ config: AutoencoderKLConfig) throws {
        super.init()
        let channels = config.blockOutChannels, groups = config.normNumGroups
        self.convIn = try Conv2d(config.inChannels, channels[0], kernel: 3, padding: 1)
        self.downBlocks = try channels.indices.map { i in
            try DownEncoderBlock2D(inChannels: i == 0 ? channels[0] : channels[i - 1], outChannels: channels[i],
                                   layers: config.layersPerBlock, groups: groups, downsample: i < channels.count - 1)
        }
        self.midBlock = try VAEMidBlock(channels: config.innerChannels, groups: groups, addAttention: config.midBlockAddAttention)
        self.convNormOut = try GroupNorm(groups: groups, channels: config.innerChannels, eps: 1e-6)
        self.convOut = try Conv2d(config.innerChannels, 2 * config.latentChannels, kernel: 3, padding: 1)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try convIn(x)
        for block in downBlocks { h = try block(h) }
        h = try midBlock(h)
        return try convOut(convNormOut(h).silu())
    }
}

/// `Decoder(norm_type="group")`: conv_in → mid block → up blocks in reversed channel order, each with
/// layers_per_block + 1 resnets (each but the last ends with nearest ×2 + conv) → GroupNorm → SiLU → conv_out.
public final class VAEDecoder: Module {
    @Child(key: "conv_in") var convIn: Conv2d
    @Child(key: "up_blocks") var upBlocks: [UpDecoderBlock2D]
    @Child(key: "mid_block") var midBlock: VAEMidBlock
    @Child(key: "conv_norm_out") var convNormOut: GroupNorm
    @Child(key: "conv_out") var convOut: Conv2d

    public init(_ config: AutoencoderKLConfig) throws {
        super.init()
        let reversed = Array(config.blockOutChannels.reversed()), groups = config.normNumGroups
        self.convIn = try Conv2d(config.latentChannels, reversed[0], kernel: 3, padding: 1)
        self.upBlocks = try reversed.indices.map { i in
            try UpDecoderBlock2D(inChannels: i == 0 ? reversed[0] : reversed[i - 1], outChannels: reversed[i],
                                 layers: config.layersPerBlock + 1, groups: groups, upsample: i < reversed.count - 1)
        }
        self.midBlock = try VAEMidBlock(channels: reversed[0], groups: groups, addAttention: config.midBlockAddAttention)
        self.convNormOut = try GroupNorm(groups: groups, channels: config.blockOutChannels[0], eps: 1e-6)
        self.convOut = try Conv2d(config.blockOutChannels[0], config.outChannels, kernel: 3, padding: 1)
    }

    public func callAsFunction(_ z: Tensor) throws -> Tensor {
        var h = try midBlock(convIn(z))
        for block in upBlocks { h = try block(h) }
        return try convOut(convNormOut(h).silu())
    }
}

/// The KL autoencoder (`AutoencoderKL`): keys `encoder.*`, `decoder.*`, `quant_conv`, `post_quant_conv` exactly
/// as diffusers names them (shared/docs/keys/sdxl-vae-keys.tsv for the SDXL VAE).
///
/// Inference only and always in float32 (`force_upcast`: the SDXL VAE overflows in float16). Batches are cut
/// into chunks of at most `chunkSize` images (diffusers' `enable_slicing` with a chunk size, MIRO's
/// `max_batch_size`): every op is per image, so the result does not depend on the chunking, only the peak
/// memory does (the 256² SDXL decoder holds ≈ 34 MB per image per 128-channel activation).
public final class AutoencoderKL: Module {
    @Child(key: "encoder") var encoder: VAEEncoder
    @Child(key: "decoder") var decoder: VAEDecoder
    @Child(key: "quant_conv") var quantConv: Conv2d?
    @Child(key: "post_quant_conv") var postQuantConv: Conv2d?

    public let config: AutoencoderKLConfig
    /// The most images one encoder or decoder call sees (≥ 1).
    public var chunkSize: Int = 8

    /// Builds the architecture with uninitialised weights (load them with `AutoencoderKL.load`).
    public init(config: AutoencoderKLConfig) throws {
        try config.validate(path: "AutoencoderKLConfig")
        self.config = config
        super.init()
        self.encoder = try VAEEncoder(config)
        self.decoder = try VAEDecoder(config)
        let latent = config.latentChannels
        if config.useQuantConv { self.quantConv = try Conv2d(2 * latent, 2 * latent, kernel: 1) }
        if config.usePostQuantConv { self.postQuantConv = try Conv2d(latent, latent, kernel: 1) }
        self.eval()
    }

    /// The spatial reduction factor: 2^(number of blocks − 1) (8 for the SDXL VAE).
    public var downsamplingFactor: Int { 1 << (config.blockOutChannels.count - 1) }

    /// `vae.encode(images).latent_dist`: images (B, in_channels, H, W) in [−1, 1] → the posterior
    /// (B, latent_channels, ⌈H/8⌉, ⌈W/8⌉ for the SDXL VAE).
    public func encode(_ images: Tensor) throws -> DiagonalGaussian {
        try Self.checkBatch(images, channels: config.inChannels, what: "image batch")
        // Each downsampler halves (floor) the size; below the factor one of them would get an empty input.
        guard images.size(2) >= downsamplingFactor, images.size(3) >= downsamplingFactor else {
            throw VAEError.invalidInput(message: "image batch \(images.shape) is smaller than \(downsamplingFactor)×\(downsamplingFactor), "
                                        + "the encoder's downsampling factor")
        }
        let moments = try chunked(images) { chunk in
            let h = try encoder(chunk)
            return try quantConv.map { try $0(h) } ?? h
        }
        return try DiagonalGaussian(moments: moments)
    }

    /// `vae.decode(z).sample`: latents (B, latent_channels, h, w) → images (B, out_channels, 8h, 8w), ≈ [−1, 1].
    /// `z` is the raw VAE latent: undo MIRO's normalisation first (`LatentNormalization.denormalize`).
    public func decode(_ latents: Tensor) throws -> Tensor {
        try Self.checkBatch(latents, channels: config.latentChannels, what: "latent batch")
        return try chunked(latents) { chunk in
            try decoder(postQuantConv.map { try $0(chunk) } ?? chunk)
        }
    }

    private func chunked(_ x: Tensor, _ body: (Tensor) throws -> Tensor) throws -> Tensor {
        try runInChunks(x, size: chunkSize, body)
    }

    /// A (B, C, H, W) floating-point batch with B, H, W ≥ 1 and the expected channel count.
    static func checkBatch(_ x: Tensor, channels: Int, what: String) throws {
        let s = x.shape
        guard s.count == 4 else {
            throw VAEError.invalidInput(message: "\(what) must be (B, \(channels), H, W), got shape \(s)")
        }
        guard s[1] == channels else {
            throw VAEError.invalidInput(message: "\(what) has \(s[1]) channels, expected \(channels) (shape \(s))")
        }
        guard s[0] >= 1, s[2] >= 1, s[3] >= 1 else { throw VAEError.invalidInput(message: "\(what) is empty (shape \(s))") }
        guard x.dtype.isFloatingPoint else {
            throw VAEError.invalidInput(message: "\(what) has dtype \(x.dtype), expected a floating-point tensor")
        }
    }
}

/// Runs `body` on float32 slices of at most `size` images along the batch and concatenates the results,
/// without recording gradients (the autoencoders are inference-only here).
func runInChunks(_ x: Tensor, size: Int, _ body: (Tensor) throws -> Tensor) throws -> Tensor {
    let input = try x.to(.float32)
    let size = max(size, 1)
    return try withoutGrad {
        let n = input.size(0)
        if n <= size { return try body(input) }
        var parts: [Tensor] = []
        for start in stride(from: 0, to: n, by: size) {
            parts.append(try body(input.slice(0, start, min(start + size, n))))
        }
        return try Tensor.cat(parts, dim: 0)
    }
}
