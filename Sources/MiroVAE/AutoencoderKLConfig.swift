// Port of the `AutoencoderKL.__init__` configuration of diffusers/models/autoencoders/autoencoder_kl.py
// (diffusers 0.27.2): the keys of a diffusers `config.json`, their constructor defaults, and the checks
// that keep a file's values from reaching the network unvalidated.

import Foundation

/// The configuration of a diffusers `AutoencoderKL` (`config.json` of `stabilityai/sdxl-vae`), in the file's
/// snake_case names. A key the diffusers constructor defaults may be absent; `validate(path:)` refuses values
/// this port cannot run, naming the field and value.
///
/// Keys newer diffusers versions write (`shift_factor`, `use_quant_conv`, `use_post_quant_conv`,
/// `mid_block_add_attention`, `latents_mean`, `latents_std`) are read too, with the defaults that reproduce
/// diffusers 0.27.2. Keys starting with `_` (`_class_name`, `_diffusers_version`, `_name_or_path`) are
/// metadata; `_class_name`, when present, must be `AutoencoderKL`.
public struct AutoencoderKLConfig: Codable, Equatable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var actFn: String
    public var latentChannels: Int
    public var normNumGroups: Int
    /// Only used by diffusers' tiled decoding (not ported); an int or a list in the file.
    public var sampleSize: [Int]
    public var scalingFactor: Double
    /// FLUX-style latent shift (`(z − shift) · scale`); null for SDXL. Stored, never applied by the network.
    public var shiftFactor: Double?
    public var latentsMean: [Double]?
    public var latentsStd: [Double]?
    /// diffusers runs the VAE in float32 when true; this port always computes in float32.
    public var forceUpcast: Bool
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    public var midBlockAddAttention: Bool
    public var className: String?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block", actFn = "act_fn"
        case latentChannels = "latent_channels", normNumGroups = "norm_num_groups", sampleSize = "sample_size"
        case scalingFactor = "scaling_factor", shiftFactor = "shift_factor"
        case latentsMean = "latents_mean", latentsStd = "latents_std", forceUpcast = "force_upcast"
        case useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
        case midBlockAddAttention = "mid_block_add_attention", className = "_class_name"
    }

    public init(inChannels: Int = 3, outChannels: Int = 3, downBlockTypes: [String], upBlockTypes: [String],
                blockOutChannels: [Int], layersPerBlock: Int, actFn: String = "silu", latentChannels: Int = 4,
                normNumGroups: Int = 32, sampleSize: [Int] = [32], scalingFactor: Double = 0.18215,
                shiftFactor: Double? = nil, latentsMean: [Double]? = nil, latentsStd: [Double]? = nil,
                forceUpcast: Bool = true, useQuantConv: Bool = true, usePostQuantConv: Bool = true,
                midBlockAddAttention: Bool = true) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.downBlockTypes = downBlockTypes
        self.upBlockTypes = upBlockTypes
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.actFn = actFn
        self.latentChannels = latentChannels
        self.normNumGroups = normNumGroups
        self.sampleSize = sampleSize
        self.scalingFactor = scalingFactor
        self.shiftFactor = shiftFactor
        self.latentsMean = latentsMean
        self.latentsStd = latentsStd
        self.forceUpcast = forceUpcast
        self.useQuantConv = useQuantConv
        self.usePostQuantConv = usePostQuantConv
        self.midBlockAddAttention = midBlockAddAttention
        self.className = nil
    }

    /// `stabilityai/sdxl-vae`'s config.json (components.md §2): the default for a single LDM-named file.
    public static let sdxl = AutoencoderKLConfig(
        downBlockTypes: Array(repeating: "DownEncoderBlock2D", count: 4),
        upBlockTypes: Array(repeating: "UpDecoderBlock2D", count: 4),
        blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, sampleSize: [1024], scalingFactor: 0.13025)

    /// Missing keys take diffusers 0.27.2's constructor defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? 3
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels) ?? 3
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes) ?? ["DownEncoderBlock2D"]
        upBlockTypes = try c.decodeIfPresent([String].self, forKey: .upBlockTypes) ?? ["UpDecoderBlock2D"]
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels) ?? [64]
        layersPerBlock = try c.decodeIfPresent(Int.self, forKey: .layersPerBlock) ?? 1
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? "silu"
        latentChannels = try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? 4
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? 32
        if let one = try? c.decodeIfPresent(Int.self, forKey: .sampleSize) {
            sampleSize = [one]
        } else {
            sampleSize = try c.decodeIfPresent([Int].self, forKey: .sampleSize) ?? [32]
        }
        scalingFactor = try c.decodeIfPresent(Double.self, forKey: .scalingFactor) ?? 0.18215
        shiftFactor = try c.decodeIfPresent(Double.self, forKey: .shiftFactor)
        latentsMean = try c.decodeIfPresent([Double].self, forKey: .latentsMean)
        latentsStd = try c.decodeIfPresent([Double].self, forKey: .latentsStd)
        // diffusers annotates force_upcast as float; files hold true/false.
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .forceUpcast) {
            forceUpcast = flag
        } else {
            forceUpcast = try (c.decodeIfPresent(Double.self, forKey: .forceUpcast)).map { $0 != 0 } ?? true
        }
        useQuantConv = try c.decodeIfPresent(Bool.self, forKey: .useQuantConv) ?? true
        usePostQuantConv = try c.decodeIfPresent(Bool.self, forKey: .usePostQuantConv) ?? true
        midBlockAddAttention = try c.decodeIfPresent(Bool.self, forKey: .midBlockAddAttention) ?? true
        className = try c.decodeIfPresent(String.self, forKey: .className)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("AutoencoderKL", forKey: .className)
        try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels)
        try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(actFn, forKey: .actFn)
        try c.encode(latentChannels, forKey: .latentChannels)
        try c.encode(normNumGroups, forKey: .normNumGroups)
        if sampleSize.count == 1 { try c.encode(sampleSize[0], forKey: .sampleSize) } else { try c.encode(sampleSize, forKey: .sampleSize) }
        try c.encode(scalingFactor, forKey: .scalingFactor)
        try c.encode(shiftFactor, forKey: .shiftFactor)
        try c.encode(latentsMean, forKey: .latentsMean)
        try c.encode(latentsStd, forKey: .latentsStd)
        try c.encode(forceUpcast, forKey: .forceUpcast)
        try c.encode(useQuantConv, forKey: .useQuantConv)
        try c.encode(usePostQuantConv, forKey: .usePostQuantConv)
        try c.encode(midBlockAddAttention, forKey: .midBlockAddAttention)
    }

    /// Reads and validates a diffusers `config.json`.
    public static func load(_ url: URL) throws -> AutoencoderKLConfig {
        let config: AutoencoderKLConfig = try ConfigFile.decode(url)
        try config.validate(path: url.path)
        return config
    }

    /// Refuses what the network cannot be built from; each message names the field and its value.
    public func validate(path: String = "config.json") throws {
        func fail(_ message: String) -> VAEError { .invalidConfig(path: path, message: message) }
        if let className, className != "AutoencoderKL" {
            throw fail("_class_name is \"\(className)\", expected \"AutoencoderKL\"")
        }
        for (name, value) in [("in_channels", inChannels), ("out_channels", outChannels),
                              ("latent_channels", latentChannels), ("norm_num_groups", normNumGroups),
                              ("layers_per_block", layersPerBlock)] where !(1...65536).contains(value) {
            throw fail("\(name) is \(value), expected 1...65536")
        }
        guard !blockOutChannels.isEmpty, blockOutChannels.count <= 16 else {
            throw fail("block_out_channels has \(blockOutChannels.count) entries, expected 1...16")
        }
        for (i, ch) in blockOutChannels.enumerated() {
            guard (1...65536).contains(ch) else { throw fail("block_out_channels[\(i)] is \(ch), expected 1...65536") }
            // nn.GroupNorm(num_groups, ch) raises unless the groups divide the channels.
            guard ch % normNumGroups == 0 else {
                throw fail("block_out_channels[\(i)] = \(ch) is not divisible by norm_num_groups = \(normNumGroups)")
            }
        }
        guard downBlockTypes.count == blockOutChannels.count else {
            throw fail("down_block_types has \(downBlockTypes.count) entries but block_out_channels has \(blockOutChannels.count)")
        }
        guard upBlockTypes.count == blockOutChannels.count else {
            throw fail("up_block_types has \(upBlockTypes.count) entries but block_out_channels has \(blockOutChannels.count)")
        }
        if let (i, t) = downBlockTypes.enumerated().first(where: { $0.element != "DownEncoderBlock2D" }) {
            throw fail("down_block_types[\(i)] is \"\(t)\"; only \"DownEncoderBlock2D\" is supported")
        }
        if let (i, t) = upBlockTypes.enumerated().first(where: { $0.element != "UpDecoderBlock2D" }) {
            throw fail("up_block_types[\(i)] is \"\(t)\"; only \"UpDecoderBlock2D\" is supported")
        }
        // diffusers' get_activation: "swish" and "silu" are the same function.
        guard actFn == "silu" || actFn == "swish" else { throw fail("act_fn is \"\(actFn)\"; only \"silu\" is supported") }
        guard scalingFactor.isFinite, scalingFactor > 0 else { throw fail("scaling_factor is \(scalingFactor), expected a positive number") }
        if let shiftFactor, !shiftFactor.isFinite { throw fail("shift_factor is \(shiftFactor), expected a finite number or null") }
        for (name, values) in [("latents_mean", latentsMean), ("latents_std", latentsStd)] {
            guard let values else { continue }
            guard values.count == latentChannels, values.allSatisfy(\.isFinite) else {
                throw fail("\(name) must hold \(latentChannels) finite numbers, got \(values)")
            }
        }
    }

    /// Channels after the encoder's last block (the mid block and attention width).
    var innerChannels: Int { blockOutChannels[blockOutChannels.count - 1] }
}

/// Reads a JSON config file into a `Decodable`, turning every failure into a `VAEError` naming the file and field.
enum ConfigFile {
    static func decode<T: Decodable>(_ url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw VAEError.invalidConfig(path: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw VAEError.invalidConfig(path: url.path, message: describe(error))
        } catch {
            throw VAEError.invalidConfig(path: url.path, message: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .typeMismatch(let type, let ctx):
            return "field \(path(ctx.codingPath)) has the wrong type (expected \(type))"
        case .valueNotFound(let type, let ctx):
            return "field \(path(ctx.codingPath)) is null (expected \(type))"
        case .keyNotFound(let key, let ctx):
            return "missing field \(path(ctx.codingPath + [key]))"
        case .dataCorrupted(let ctx):
            let at = path(ctx.codingPath)
            return "not valid JSON\(at.isEmpty ? "" : " at \(at)"): \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
