// Port of `AutoencoderTinyBlock` (diffusers/models/unets/unet_2d_blocks.py), `EncoderTiny`, `DecoderTiny`
// (diffusers/models/autoencoders/vae.py) and `AutoencoderTiny` (autoencoder_tiny.py) of diffusers 0.27.2,
// inference only (no tiling): TAESDXL, the fast approximate SDXL latent decoder (and encoder).

import MiroEngine
import MiroNN

/// One entry of the tiny autoencoder's `nn.Sequential`s. Parameter-free entries (ReLU, Upsample) are kept
/// as modules so the list indices, and so the keys `layers.{i}`, match diffusers'.
protocol SequentialLayer: AnyObject {
    func forward(_ x: Tensor) throws -> Tensor
}

extension Conv2d: SequentialLayer {
    func forward(_ x: Tensor) throws -> Tensor { try callAsFunction(x) }
}

/// `nn.ReLU()` (no state).
final class ReLULayer: Module, SequentialLayer {
    func forward(_ x: Tensor) throws -> Tensor { try x.relu() }
}

/// `nn.Upsample(scale_factor=2)` (mode "nearest", no state).
final class NearestUpsample2x: Module, SequentialLayer {
    func forward(_ x: Tensor) throws -> Tensor {
        try x.interpolate(height: x.size(2) * 2, width: x.size(3) * 2, mode: .nearest)
    }
}

/// `AutoencoderTinyBlock`: relu( conv(relu(conv(relu(conv(x))))) + skip(x) ), 3×3 convolutions with bias,
/// skip = identity (a bias-free 1×1 conv only when the widths differ, which TAESD never does).
/// Keys `conv.0`, `conv.2`, `conv.4` (indices 1 and 3 are the ReLUs), `skip`.
final class AutoencoderTinyBlock: Module, SequentialLayer {
    @Child(key: "conv") var conv: [Module]
    @Child(key: "skip") var skip: Conv2d?

    init(inChannels: Int, outChannels: Int) throws {
        super.init()
        self.conv = [try Conv2d(inChannels, outChannels, kernel: 3, padding: 1), ReLULayer(),
                     try Conv2d(outChannels, outChannels, kernel: 3, padding: 1), ReLULayer(),
                     try Conv2d(outChannels, outChannels, kernel: 3, padding: 1)]
        if inChannels != outChannels { self.skip = try Conv2d(inChannels, outChannels, kernel: 1, bias: false) }
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let h = try runSequential(conv, x)
        return try (h + (skip.map { try $0(x) } ?? x)).relu()
    }
}

func runSequential(_ layers: [Module], _ x: Tensor) throws -> Tensor {
    var h = x
    for layer in layers {
        guard let step = layer as? SequentialLayer else {
            throw VAEError.invalidInput(message: "internal: \(type(of: layer)) is not a sequential layer")
        }
        h = try step.forward(h)
    }
    return h
}

/// `EncoderTiny`: conv(in → C) ; n₀ blocks ; [conv 3×3 stride 2 without bias ; nᵢ blocks] for each further
/// entry ; conv(C → latent). Input in [−1, 1], mapped to TAESD's [0, 1] first (`x.add(1).div(2)`). Keys `layers.{i}`.
public final class TinyEncoder: Module {
    @Child(key: "layers") var layers: [Module]

    init(_ config: AutoencoderTinyConfig) throws {
        super.init()
        let channels = config.encoderBlockOutChannels
        var list: [Module] = []
        for (i, count) in config.numEncoderBlocks.enumerated() {
            let c = channels[i]
            list.append(i == 0 ? try Conv2d(config.inChannels, c, kernel: 3, padding: 1)
                               : try Conv2d(c, c, kernel: 3, stride: 2, padding: 1, bias: false))
            for _ in 0..<count { list.append(try AutoencoderTinyBlock(inChannels: c, outChannels: c)) }
        }
        list.append(try Conv2d(channels[channels.count - 1], config.latentChannels, kernel: 3, padding: 1))
        self.layers = list
    }

    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        try runSequential(layers, (images + 1) / 2)
    }
}

/// `DecoderTiny`: tanh(z / 3) · 3 (a soft clamp to ±3) ; conv(latent → C) ; ReLU ; [nᵢ blocks ; nearest ×2 ;
/// conv 3×3 without bias] for all but the last entry ; n_last blocks ; conv(C → out) with bias. Output mapped
/// from TAESD's [0, 1] to [−1, 1] (`x.mul(2).sub(1)`). Keys `layers.{i}`.
public final class TinyDecoder: Module {
    @Child(key: "layers") var layers: [Module]

    init(_ config: AutoencoderTinyConfig) throws {
        super.init()
        let channels = config.decoderBlockOutChannels
        var list: [Module] = [try Conv2d(config.latentChannels, channels[0], kernel: 3, padding: 1), ReLULayer()]
        for (i, count) in config.numDecoderBlocks.enumerated() {
            let c = channels[i], last = i == channels.count - 1
            for _ in 0..<count { list.append(try AutoencoderTinyBlock(inChannels: c, outChannels: c)) }
            if !last { list.append(NearestUpsample2x()) }
            list.append(try Conv2d(c, last ? config.outChannels : c, kernel: 3, padding: 1, bias: last))
        }
        self.layers = list
    }

    public func callAsFunction(_ latents: Tensor) throws -> Tensor {
        // torch.tanh(x / 3) * 3
        let clamped = try (latents / 3).tanh() * 3
        return try runSequential(layers, clamped) * 2 - 1
    }
}

/// The tiny autoencoder (`AutoencoderTiny`): keys `encoder.layers.{i}.*`, `decoder.layers.{i}.*`
/// (shared/docs/keys/taesdxl-keys.tsv). Either half may be absent (madebyollin/taesd ships the encoder and
/// the decoder as separate files, and a fast preview needs only the decoder); calling a missing half throws.
///
/// Value ranges as diffusers wraps TAESD: `encode` takes images in [−1, 1], `decode` returns ≈ [−1, 1].
/// TAESDXL's latents are the *scaled* SDXL latents (scaling_factor 1.0): the SDXL VAE's `z · 0.13025`.
/// Float32, chunked like `AutoencoderKL` (`chunkSize`).
public final class AutoencoderTiny: Module {
    @Child(key: "encoder") var encoder: TinyEncoder?
    @Child(key: "decoder") var decoder: TinyDecoder?

    public let config: AutoencoderTinyConfig
    public var chunkSize: Int = 8

    /// Builds the architecture with uninitialised weights (load them with `AutoencoderTiny.load`).
    public init(config: AutoencoderTinyConfig, encoder: Bool = true, decoder: Bool = true) throws {
        try config.validate(path: "AutoencoderTinyConfig")
        self.config = config
        super.init()
        if encoder { self.encoder = try TinyEncoder(config) }
        if decoder { self.decoder = try TinyDecoder(config) }
        self.eval()
    }

    public var hasEncoder: Bool { encoder != nil }
    public var hasDecoder: Bool { decoder != nil }

    /// `vae.encode(images).latents`: images (B, in, H, W) in [−1, 1] → latents (B, latent, H/8, W/8).
    public func encode(_ images: Tensor) throws -> Tensor {
        guard let encoder else { throw VAEError.invalidInput(message: "this AutoencoderTiny was loaded without its encoder") }
        try AutoencoderKL.checkBatch(images, channels: config.inChannels, what: "image batch")
        return try chunked(images) { try encoder($0) }
    }

    /// `vae.decode(latents).sample`: latents (B, latent, h, w) → images (B, out, 8h, 8w) ≈ [−1, 1].
    public func decode(_ latents: Tensor) throws -> Tensor {
        guard let decoder else { throw VAEError.invalidInput(message: "this AutoencoderTiny was loaded without its decoder") }
        try AutoencoderKL.checkBatch(latents, channels: config.latentChannels, what: "latent batch")
        return try chunked(latents) { try decoder($0) }
    }

    /// `scale_latents`: raw latents → [0, 1] (x / (2 · magnitude) + shift, clamped), for storing as uint8.
    public func scaleLatents(_ x: Tensor) throws -> Tensor {
        try (x / (2 * config.latentMagnitude) + config.latentShift).clamp(min: 0, max: 1)
    }

    /// `unscale_latents`: [0, 1] → raw latents.
    public func unscaleLatents(_ x: Tensor) throws -> Tensor {
        try (x - config.latentShift) * (2 * config.latentMagnitude)
    }

    private func chunked(_ x: Tensor, _ body: (Tensor) throws -> Tensor) throws -> Tensor {
        try runInChunks(x, size: chunkSize, body)
    }
}
