// Port of the `AutoencoderTiny.__init__` configuration of diffusers/models/autoencoders/autoencoder_tiny.py
// (diffusers 0.27.2): the keys of `madebyollin/taesdxl`'s config.json, their defaults and their checks.

import Foundation

/// The configuration of a diffusers `AutoencoderTiny` (TAESD / TAESDXL). Missing keys take the constructor's
/// defaults, which are TAESDXL's values; `_class_name`, when present, must be `AutoencoderTiny`.
public struct AutoencoderTinyConfig: Codable, Equatable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var encoderBlockOutChannels: [Int]
    public var decoderBlockOutChannels: [Int]
    public var actFn: String
    public var latentChannels: Int
    public var upsamplingScalingFactor: Int
    public var numEncoderBlocks: [Int]
    public var numDecoderBlocks: [Int]
    /// Only used by `scale_latents` / `unscale_latents` (latents stored as uint8 images), not by the network.
    public var latentMagnitude: Double
    public var latentShift: Double
    public var forceUpcast: Bool
    /// 1.0: TAESDXL's latents already live in the *scaled* SDXL latent space (no ×0.13025).
    public var scalingFactor: Double
    public var className: String?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case encoderBlockOutChannels = "encoder_block_out_channels", decoderBlockOutChannels = "decoder_block_out_channels"
        case actFn = "act_fn", latentChannels = "latent_channels", upsamplingScalingFactor = "upsampling_scaling_factor"
        case numEncoderBlocks = "num_encoder_blocks", numDecoderBlocks = "num_decoder_blocks"
        case latentMagnitude = "latent_magnitude", latentShift = "latent_shift", forceUpcast = "force_upcast"
        case scalingFactor = "scaling_factor", className = "_class_name"
    }

    public init(inChannels: Int = 3, outChannels: Int = 3, encoderBlockOutChannels: [Int] = [64, 64, 64, 64],
                decoderBlockOutChannels: [Int] = [64, 64, 64, 64], actFn: String = "relu", latentChannels: Int = 4,
                upsamplingScalingFactor: Int = 2, numEncoderBlocks: [Int] = [1, 3, 3, 3],
                numDecoderBlocks: [Int] = [3, 3, 3, 1], latentMagnitude: Double = 3, latentShift: Double = 0.5,
                forceUpcast: Bool = false, scalingFactor: Double = 1.0) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.encoderBlockOutChannels = encoderBlockOutChannels
        self.decoderBlockOutChannels = decoderBlockOutChannels
        self.actFn = actFn
        self.latentChannels = latentChannels
        self.upsamplingScalingFactor = upsamplingScalingFactor
        self.numEncoderBlocks = numEncoderBlocks
        self.numDecoderBlocks = numDecoderBlocks
        self.latentMagnitude = latentMagnitude
        self.latentShift = latentShift
        self.forceUpcast = forceUpcast
        self.scalingFactor = scalingFactor
        self.className = nil
    }

    /// `madebyollin/taesdxl` (components.md §2); also the default for taesd-named encoder/decoder files.
    public static let taesdxl = AutoencoderTinyConfig()

    public init(from decoder: Decoder) throws {
        let d = AutoencoderTinyConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? d.outChannels
        encoderBlockOutChannels = try c.decodeIfPresent([Int].self, forKey: .encoderBlockOutChannels) ?? d.encoderBlockOutChannels
        decoderBlockOutChannels = try c.decodeIfPresent([Int].self, forKey: .decoderBlockOutChannels) ?? d.decoderBlockOutChannels
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? d.actFn
        latentChannels = try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? d.latentChannels
        upsamplingScalingFactor = try c.decodeIfPresent(Int.self, forKey: .upsamplingScalingFactor) ?? d.upsamplingScalingFactor
        numEncoderBlocks = try c.decodeIfPresent([Int].self, forKey: .numEncoderBlocks) ?? d.numEncoderBlocks
        numDecoderBlocks = try c.decodeIfPresent([Int].self, forKey: .numDecoderBlocks) ?? d.numDecoderBlocks
        latentMagnitude = try c.decodeIfPresent(Double.self, forKey: .latentMagnitude) ?? d.latentMagnitude
        latentShift = try c.decodeIfPresent(Double.self, forKey: .latentShift) ?? d.latentShift
        forceUpcast = try c.decodeIfPresent(Bool.self, forKey: .forceUpcast) ?? d.forceUpcast
        scalingFactor = try c.decodeIfPresent(Double.self, forKey: .scalingFactor) ?? d.scalingFactor
        className = try c.decodeIfPresent(String.self, forKey: .className)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("AutoencoderTiny", forKey: .className)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(encoderBlockOutChannels, forKey: .encoderBlockOutChannels)
        try c.encode(decoderBlockOutChannels, forKey: .decoderBlockOutChannels)
        try c.encode(actFn, forKey: .actFn)
        try c.encode(latentChannels, forKey: .latentChannels)
        try c.encode(upsamplingScalingFactor, forKey: .upsamplingScalingFactor)
        try c.encode(numEncoderBlocks, forKey: .numEncoderBlocks)
        try c.encode(numDecoderBlocks, forKey: .numDecoderBlocks)
        try c.encode(latentMagnitude, forKey: .latentMagnitude)
        try c.encode(latentShift, forKey: .latentShift)
        try c.encode(forceUpcast, forKey: .forceUpcast)
        try c.encode(scalingFactor, forKey: .scalingFactor)
    }

    public static func load(_ url: URL) throws -> AutoencoderTinyConfig {
        let config: AutoencoderTinyConfig = try ConfigFile.decode(url)
        try config.validate(path: url.path)
        return config
    }

    public func validate(path: String = "config.json") throws {
        func fail(_ message: String) -> VAEError { .invalidConfig(path: path, message: message) }
        if let className, className != "AutoencoderTiny" {
            throw fail("_class_name is \"\(className)\", expected \"AutoencoderTiny\"")
        }
        for (name, value) in [("in_channels", inChannels), ("out_channels", outChannels), ("latent_channels", latentChannels)]
        where !(1...65536).contains(value) {
            throw fail("\(name) is \(value), expected 1...65536")
        }
        guard actFn == "relu" else { throw fail("act_fn is \"\(actFn)\"; only \"relu\" is supported") }
        guard upsamplingScalingFactor == 2 else {
            throw fail("upsampling_scaling_factor is \(upsamplingScalingFactor); only 2 is supported")
        }
        for (name, channels, blocks) in [("encoder", encoderBlockOutChannels, numEncoderBlocks),
                                         ("decoder", decoderBlockOutChannels, numDecoderBlocks)] {
            // diffusers raises on a length mismatch.
            guard !channels.isEmpty, channels.count <= 16, channels.count == blocks.count else {
                throw fail("\(name)_block_out_channels has \(channels.count) entries and num_\(name)_blocks \(blocks.count); "
                           + "expected the same length, 1...16")
            }
            // EncoderTiny/DecoderTiny convolve block i's input with block i's width: only equal widths run.
            guard let first = channels.first, (1...65536).contains(first), channels.allSatisfy({ $0 == first }) else {
                throw fail("\(name)_block_out_channels is \(channels); all entries must be equal and in 1...65536")
            }
            if let (i, n) = blocks.enumerated().first(where: { !(0...64).contains($0.element) }) {
                throw fail("num_\(name)_blocks[\(i)] is \(n), expected 0...64")
            }
        }
        guard latentMagnitude.isFinite, latentMagnitude > 0 else { throw fail("latent_magnitude is \(latentMagnitude), expected > 0") }
        guard latentShift.isFinite else { throw fail("latent_shift is \(latentShift), expected a finite number") }
        guard scalingFactor.isFinite, scalingFactor > 0 else { throw fail("scaling_factor is \(scalingFactor), expected > 0") }
    }
}
