// Port of build_clean_config() in scripts/convert_and_upload_to_hf.py (nicolas-dufour/miro; the config.json
// that miro/pipeline.py of miro-t2i 0.1.4 reads), method §9.

import Foundation
import MiroFormats
import MiroModels

extension MIROPipelineConfig {
    /// Every optional section filled with what the official converter writes for this network, so
    /// `MiroPipeline.from_pretrained` finds each key it indexes (`config["data_preprocessing"]`,
    /// `config["postprocessing"]`, `config["data_resolution"]` raise KeyError when absent).
    public func completed() -> MIROPipelineConfig {
        var c = self
        let defaults = MIROPipelineConfig(network: network, preconditioning: preconditioning)
        let img = imgResolution ?? defaults.imgResolution ?? network.dataSize * 8
        c.imgResolution = img
        c.dataPreprocessing = dataPreprocessing
            ?? MIROPipelineConfig(network: network, preconditioning: preconditioning, imageResolution: img).dataPreprocessing
        c.postprocessing = postprocessing ?? defaults.postprocessing
        c.scheduler = scheduler ?? LinearScheduler()
        c.coherenceKeys = coherenceKeys ?? network.coherenceKeys
        c.samplerDefaults = samplerDefaults ?? defaults.samplerDefaults
        c.dataResolution = dataResolution ?? network.dataSize
        c.maxTextLen = maxTextLen ?? 77
        c.modelType = modelType ?? "sdxl"
        c.vaeRepo = vaeRepo ?? "stabilityai/sdxl-vae"
        c.textEncoderRepo = textEncoderRepo ?? "google/flan-t5-xl"
        return c
    }
}

/// Where an exported folder came from: an extra top-level `miro_swift` entry of `config.json`. The
/// official loader keeps `config.json` as a plain dict and only reads the keys it knows, so the entry
/// is inert there; `miro sample` uses it to decode models trained on Shapes pixels.
public struct ReleaseProvenance: Codable, Sendable, Equatable {
    public static let key = "miro_swift"
    public static let currentFormat = "miro-swift-export/1"

    public var format = ReleaseProvenance.currentFormat
    /// The training checkpoint's file name and step.
    public var sourceCheckpoint: String
    public var step: Int
    /// "ema" or "raw".
    public var weights: String
    /// The run's text encoder (`textEncoder.name` of the run config: "shapes" for the built-in world).
    public var textEncoder: String
    public var textEncoderWidth: Int?
    public var textEncoderMaxTokens: Int?
    /// Per-channel pixel statistics of a Shapes run (its network models normalised RGB, not SDXL latents).
    public var pixelMean: [Double]?
    public var pixelStd: [Double]?
    public var sigmaData: Double?

    public init(sourceCheckpoint: String, step: Int, weights: String, textEncoder: String) {
        self.sourceCheckpoint = sourceCheckpoint
        self.step = step
        self.weights = weights
        self.textEncoder = textEncoder
    }

    enum CodingKeys: String, CodingKey {
        case format, step, weights
        case sourceCheckpoint = "source_checkpoint", textEncoder = "text_encoder"
        case textEncoderWidth = "text_encoder_width", textEncoderMaxTokens = "text_encoder_max_tokens"
        case pixelMean = "pixel_mean", pixelStd = "pixel_std", sigmaData = "sigma_data"
    }

    /// Checks the entry against the network it describes; messages name the `miro_swift.*` key. A
    /// Shapes text encoder must be buildable (even width = `label_dim`, at least one token), and pixel
    /// statistics need one finite mean and one positive std per input channel.
    public func validate(network: MIROConfig) throws {
        func fail(_ m: String) throws -> Never { throw MIROModelError.invalidConfig("\(Self.key).\(m)") }
        if step < 0 { try fail("step must not be negative, got \(step)") }
        if let w = textEncoderWidth {
            if w != network.labelDim { try fail("text_encoder_width \(w) differs from network.label_dim \(network.labelDim)") }
            if w < 2 || w % 2 != 0 { try fail("text_encoder_width must be even and at least 2, got \(w)") }
        }
        if let n = textEncoderMaxTokens, !(1...MIROPipelineConfig.maximumTextLength).contains(n) {
            try fail("text_encoder_max_tokens must be in 1...\(MIROPipelineConfig.maximumTextLength), got \(n)")
        }
        if let pixelMean {
            if pixelMean.count != network.numInputChannels {
                try fail("pixel_mean has \(pixelMean.count) values; network.num_input_channels is \(network.numInputChannels)")
            }
            if let bad = pixelMean.first(where: { !$0.isFinite }) { try fail("pixel_mean holds \(bad)") }
        }
        if let pixelStd {
            if pixelStd.count != network.numInputChannels {
                try fail("pixel_std has \(pixelStd.count) values; network.num_input_channels is \(network.numInputChannels)")
            }
            if let bad = pixelStd.first(where: { !($0.isFinite && $0 > 0) }) { try fail("pixel_std must be positive, holds \(bad)") }
        }
        if (pixelMean == nil) != (pixelStd == nil) { try fail("pixel_mean and pixel_std come together") }
        if let sigmaData, !(sigmaData.isFinite && sigmaData > 0) { try fail("sigma_data must be a positive number, got \(sigmaData)") }
    }

    var json: PythonJSON {
        var items: [(key: String, value: PythonJSON)] = [
            ("format", .string(format)), ("source_checkpoint", .string(sourceCheckpoint)), ("step", .int(step)),
            ("weights", .string(weights)), ("text_encoder", .string(textEncoder)),
        ]
        if let textEncoderWidth { items.append(("text_encoder_width", .int(textEncoderWidth))) }
        if let textEncoderMaxTokens { items.append(("text_encoder_max_tokens", .int(textEncoderMaxTokens))) }
        if let pixelMean { items.append(("pixel_mean", .array(pixelMean.map { .float($0) }))) }
        if let pixelStd { items.append(("pixel_std", .array(pixelStd.map { .float($0) }))) }
        if let sigmaData { items.append(("sigma_data", .float(sigmaData))) }
        return .object(items)
    }
}

extension PythonJSON {
    /// A float that the official YAML config writes as an integer literal when it is whole
    /// (`compute_dropout: 0` in configs/config.yaml reaches config.json as `0`, not `0.0`).
    public static func yamlNumber(_ value: Double) -> PythonJSON {
        value.rounded() == value && abs(value) < 1e15 ? .int(Int(value)) : .float(value)
    }
}

/// config.json as `build_clean_config` + `json.dump(config, f, indent=2)` write it: the same keys in the
/// same order with the same value types (ints stay ints, floats get a decimal point, the YAML-integer
/// dropout fields are written as the integers the official YAML holds, `do_normalization` as the
/// official YAML's "noise_driven").
public enum ReleaseConfigJSON {
    /// The official top-level keys, in the converter's order.
    public static let officialKeys = [
        "network", "preconditioning", "data_preprocessing", "postprocessing", "scheduler", "coherence_keys",
        "sampler_defaults", "data_resolution", "img_resolution", "max_text_len", "model_type", "vae_repo",
        "text_encoder_repo",
    ]

    public static func render(_ config: MIROPipelineConfig, provenance: ReleaseProvenance? = nil) -> String {
        value(config, provenance: provenance).dumps(indent: 2)
    }

    public static func value(_ config: MIROPipelineConfig, provenance: ReleaseProvenance? = nil) -> PythonJSON {
        let c = config.completed()
        let n = c.network
        let strings: ([String]) -> PythonJSON = { .array($0.map { .string($0) }) }
        // Base configs/config.yaml `network.instance` keys in YAML order, then the keys only
        // configs/experiment/multi_cad.yaml adds (OmegaConf appends them on merge).
        let network: PythonJSON = .object([
            ("data_size", .int(n.dataSize)), ("num_input_channels", .int(n.numInputChannels)),
            ("label_dim", .int(n.labelDim)), ("num_cond_tokens", .int(n.numCondTokens)),
            ("data_dim", .int(n.dataDim)), ("num_latents", .int(n.numLatents)), ("latents_dim", .int(n.latentsDim)),
            ("num_processing_layers", .int(n.numProcessingLayers)), ("num_blocks", .int(n.numBlocks)),
            ("patch_size", .int(n.patchSize)), ("read_write_heads", .int(n.readWriteHeads)),
            ("compute_heads", .int(n.computeHeads)), ("data_mlp_multiplier", .int(n.dataMLPMultiplier)),
            ("compute_dropout", .yamlNumber(n.computeDropout)), ("rw_stochastic_depth", .yamlNumber(n.rwStochasticDepth)),
            ("compute_stochastic_depth", .yamlNumber(n.computeStochasticDepth)),
            ("num_text_registers", .int(n.numTextRegisters)), ("coherence_keys", strings(n.coherenceKeys)),
            ("coherence_dropout", .float(n.coherenceDropout)), ("dropout_strategy", .string(n.dropoutStrategy.rawValue)),
            ("latent_mlp_multiplier", .int(n.latentMLPMultiplier)), ("use_cond_rin_block", .bool(n.useCondRINBlock)),
            ("concat_cond_token_to_latents", .bool(n.concatCondTokenToLatents)),
            ("use_self_conditioning", .bool(n.useSelfConditioning)),
        ])
        let p = c.preconditioning
        let preconditioning: PythonJSON = .object([
            ("num_latents", .int(p.numLatents)), ("latents_dim", .int(p.latentsDim)),
            // FlowPrecond applies c_in/c_out when do_normalization == "noise_driven" or is True
            ("do_normalization", p.doNormalization ? .string("noise_driven") : .bool(false)),
            ("sigma_data", .float(p.sigmaData)), ("do_gradnorm_reweighting", .bool(p.doGradnormReweighting)),
            ("logvar_channels", .int(p.logvarChannels)), ("logvar_mlp_layers", .int(p.logvarMLPLayers)),
        ])
        let d = c.dataPreprocessing!
        let dataPreprocessing: PythonJSON = .object([
            ("input_key_mean", .string(d.inputKeyMean)), ("input_key_std", .string(d.inputKeyStd)),
            ("output_key_root", .string(d.outputKeyRoot)), ("vae_sample", .bool(d.vaeSample)),
            ("channel_wise_normalisation", .bool(d.channelWiseNormalisation)), ("model_type", .string(d.modelType)),
        ])
        let post = c.postprocessing!
        let postprocessing: PythonJSON = .object([
            ("channel_wise_normalisation", .bool(post.channelWiseNormalisation)), ("model_type", .string(post.modelType)),
        ])
        let s = c.scheduler!
        var scheduler: [(key: String, value: PythonJSON)] = [("start", .yamlNumber(s.start)), ("end", .yamlNumber(s.end))]
        if s.shift != 1 { scheduler.append(("shift", .float(s.shift))) }  // the converter never writes it
        scheduler.append(("clip_min", .float(s.clipMin)))
        let sd = c.samplerDefaults!
        var items: [(key: String, value: PythonJSON)] = [
            ("network", network), ("preconditioning", preconditioning), ("data_preprocessing", dataPreprocessing),
            ("postprocessing", postprocessing), ("scheduler", .object(scheduler)),
            ("coherence_keys", strings(c.coherenceKeys!)),
            ("sampler_defaults", .object([("num_steps", .int(sd.numSteps)), ("guidance_scale", .float(sd.guidanceScale)),
                                          ("sigma_data", .float(sd.sigmaData))])),
            ("data_resolution", .int(c.dataResolution!)), ("img_resolution", .int(c.imgResolution!)),
            ("max_text_len", .int(c.maxTextLen!)), ("model_type", .string(c.modelType!)),
            ("vae_repo", .string(c.vaeRepo!)), ("text_encoder_repo", .string(c.textEncoderRepo!)),
        ]
        if let provenance { items.append((ReleaseProvenance.key, provenance.json)) }
        return .object(items)
    }

    /// Decodes config.json text (unknown keys are ignored, as the official loader ignores them) and
    /// the optional provenance entry, and validates every value (`MIROPipelineConfig.validate()`,
    /// `ReleaseProvenance.validate(network:)`): a folder is downloaded, untrusted input, and what
    /// decodes here is safe to build and sample from. Errors name the file and the key.
    public static func decode(_ data: Data, path: String) throws -> (config: MIROPipelineConfig, provenance: ReleaseProvenance?, unknownKeys: [String]) {
        struct Wrapper: Decodable {
            let provenance: ReleaseProvenance?
            enum CodingKeys: String, CodingKey { case provenance = "miro_swift" }
        }
        let config: MIROPipelineConfig
        let provenance: ReleaseProvenance?
        do {
            config = try JSONDecoder().decode(MIROPipelineConfig.self, from: data)
            provenance = try JSONDecoder().decode(Wrapper.self, from: data).provenance
        } catch let error as DecodingError {
            throw ReleaseError.badFile(path: path, message: describe(error))
        } catch {
            throw ReleaseError.badFile(path: path, message: "not valid JSON (\(error))")
        }
        do {
            try config.validate()
            try provenance?.validate(network: config.network)
        } catch let error as MIROModelError {
            switch error {
            case .invalidConfig(let m): throw ReleaseError.badFile(path: path, message: m)
            default: throw ReleaseError.badFile(path: path, message: error.description)
            }
        }
        let top = (try? PythonJSON.parse([UInt8](data)))?.object ?? [:]
        let known = Set(officialKeys + [ReleaseProvenance.key])
        return (config, provenance, top.keys.filter { !known.contains($0) }.sorted())
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let c):
            let at = path(c)
            return "missing key '\(at.isEmpty ? "" : at + ".")\(key.stringValue)'"
        case .typeMismatch(let type, let c): return "'\(path(c))' is not a \(type): \(c.debugDescription)"
        case .valueNotFound(let type, let c): return "'\(path(c))' is null, expected \(type)"
        case .dataCorrupted(let c): return "'\(path(c))': \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
