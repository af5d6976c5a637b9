// Port of the config.json layout read by miro/pipeline.py and written by scripts/convert_and_upload_to_hf.py
// (miro-t2i 0.1.4), and of the FlowPrecond kwargs of miro/models/preconditioning.py (method §5.4, §9).

/// The preconditioner's settings: the `preconditioning` section of `config.json`, i.e. the
/// keyword arguments of `FlowPrecond` in miro/models/preconditioning.py (miro-t2i 0.1.4).
public struct FlowPrecondConfig: Codable, Sendable, Equatable {
    /// Shape of the zero previous latents used when none are given (must match the network).
    public var numLatents: Int = 256
    public var latentsDim: Int = 512
    /// `do_normalization`: officially "noise_driven" or true apply c_in / c_out, anything else
    /// gives c_in = c_out = 1. Decoded from either spelling, written as a bool.
    public var doNormalization: Bool = true
    public var sigmaData: Double = 0.5
    /// The log-variance head `logvar_proj` (EDM2-style uncertainty weighting of the loss).
    public var doGradnormReweighting: Bool = true
    public var logvarChannels: Int = 128
    /// Hidden Linear+SiLU layers of the log-variance head; only 0 (the release) is ported.
    public var logvarMLPLayers: Int = 0

    public init(numLatents: Int, latentsDim: Int, doNormalization: Bool = true, sigmaData: Double = 0.5,
                doGradnormReweighting: Bool = true, logvarChannels: Int = 128, logvarMLPLayers: Int = 0) {
        self.numLatents = numLatents
        self.latentsDim = latentsDim
        self.doNormalization = doNormalization
        self.sigmaData = sigmaData
        self.doGradnormReweighting = doGradnormReweighting
        self.logvarChannels = logvarChannels
        self.logvarMLPLayers = logvarMLPLayers
    }

    /// The released settings for a network of this shape.
    public init(network: MIROConfig) {
        self.init(numLatents: network.numLatents, latentsDim: network.latentsDim)
    }

    enum CodingKeys: String, CodingKey {
        case numLatents = "num_latents", latentsDim = "latents_dim", doNormalization = "do_normalization"
        case sigmaData = "sigma_data", doGradnormReweighting = "do_gradnorm_reweighting"
        case logvarChannels = "logvar_channels", logvarMLPLayers = "logvar_mlp_layers"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numLatents = try c.decodeIfPresent(Int.self, forKey: .numLatents) ?? 256
        latentsDim = try c.decodeIfPresent(Int.self, forKey: .latentsDim) ?? 512
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .doNormalization) {
            doNormalization = flag
        } else if let text = try c.decodeIfPresent(String.self, forKey: .doNormalization) {
            doNormalization = text == "noise_driven"  // `== "noise_driven" or is True` officially
        } else {
            doNormalization = true  // the official default is "noise_driven"
        }
        sigmaData = try c.decodeIfPresent(Double.self, forKey: .sigmaData) ?? 0.5
        doGradnormReweighting = try c.decodeIfPresent(Bool.self, forKey: .doGradnormReweighting) ?? true
        logvarChannels = try c.decodeIfPresent(Int.self, forKey: .logvarChannels) ?? 128
        logvarMLPLayers = try c.decodeIfPresent(Int.self, forKey: .logvarMLPLayers) ?? 0
    }
}

/// The whole `config.json` of a released MIRO folder (`config.json` + `model.safetensors` +
/// `uncond_embedding.npy`), as miro/scripts/convert_and_upload_to_hf.py writes it and
/// miro/pipeline.py reads it. Example (released model, abridged):
///
///     {"network": {"data_size": 32, "data_dim": 512, "num_input_channels": 4, "num_latents": 256,
///                  "latents_dim": 1024, "label_dim": 2048, "num_cond_tokens": 77, ...,
///                  "coherence_keys": ["clip_score", ...], "use_cond_rin_block": true, ...},
///      "preconditioning": {"num_latents": 256, "latents_dim": 1024, "do_normalization": true,
///                          "sigma_data": 0.5, "do_gradnorm_reweighting": true, "logvar_channels": 128,
///                          "logvar_mlp_layers": 0},
///      "data_preprocessing": {...}, "postprocessing": {...},
///      "scheduler": {"start": 1, "end": 0, "clip_min": 1e-09},
///      "coherence_keys": ["clip_score", ...],
///      "sampler_defaults": {"num_steps": 50, "guidance_scale": 7.0, "sigma_data": 0.5},
///      "data_resolution": 32, "img_resolution": 256, "max_text_len": 77, "model_type": "sdxl",
///      "vae_repo": "stabilityai/sdxl-vae", "text_encoder_repo": "google/flan-t5-xl"}
public struct MIROPipelineConfig: Codable, Sendable, Equatable {
    public struct DataPreprocessing: Codable, Sendable, Equatable {
        public var inputKeyMean: String
        public var inputKeyStd: String
        public var outputKeyRoot: String = "x_0"
        public var vaeSample: Bool = true
        public var channelWiseNormalisation: Bool = true
        public var modelType: String = "sdxl"

        enum CodingKeys: String, CodingKey {
            case inputKeyMean = "input_key_mean", inputKeyStd = "input_key_std", outputKeyRoot = "output_key_root"
            case vaeSample = "vae_sample", channelWiseNormalisation = "channel_wise_normalisation"
            case modelType = "model_type"
        }

        public init(inputKeyMean: String, inputKeyStd: String, outputKeyRoot: String = "x_0", vaeSample: Bool = true,
                    channelWiseNormalisation: Bool = true, modelType: String = "sdxl") {
            self.inputKeyMean = inputKeyMean
            self.inputKeyStd = inputKeyStd
            self.outputKeyRoot = outputKeyRoot
            self.vaeSample = vaeSample
            self.channelWiseNormalisation = channelWiseNormalisation
            self.modelType = modelType
        }

        /// A missing key takes `PrecomputedSDLatentPreconditioning.__init__`'s default (miro/models/preprocessing.py),
        /// as `PrecomputedSDLatentPreconditioning(**config["data_preprocessing"])` does — not the converter's values.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            inputKeyMean = try c.decodeIfPresent(String.self, forKey: .inputKeyMean) ?? "vae_embeddings_mean"
            inputKeyStd = try c.decodeIfPresent(String.self, forKey: .inputKeyStd) ?? "vae_embeddings_std"
            outputKeyRoot = try c.decodeIfPresent(String.self, forKey: .outputKeyRoot) ?? "x_0"
            vaeSample = try c.decodeIfPresent(Bool.self, forKey: .vaeSample) ?? false
            channelWiseNormalisation = try c.decodeIfPresent(Bool.self, forKey: .channelWiseNormalisation) ?? false
            modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "sdxl"
        }
    }

    public struct Postprocessing: Codable, Sendable, Equatable {
        public var channelWiseNormalisation: Bool = true
        public var modelType: String = "sdxl"

        enum CodingKeys: String, CodingKey {
            case channelWiseNormalisation = "channel_wise_normalisation", modelType = "model_type"
        }

        public init(channelWiseNormalisation: Bool = true, modelType: String = "sdxl") {
            self.channelWiseNormalisation = channelWiseNormalisation
            self.modelType = modelType
        }

        /// A missing key takes `VAEDecoderPostProcessing.__init__`'s default (miro/models/postprocessing.py).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            channelWiseNormalisation = try c.decodeIfPresent(Bool.self, forKey: .channelWiseNormalisation) ?? false
            modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "sdxl"
        }
    }

    public struct SamplerDefaults: Codable, Sendable, Equatable {
        public var numSteps: Int = 50
        public var guidanceScale: Double = 7
        public var sigmaData: Double = 0.5

        enum CodingKeys: String, CodingKey {
            case numSteps = "num_steps", guidanceScale = "guidance_scale", sigmaData = "sigma_data"
        }

        public init(numSteps: Int = 50, guidanceScale: Double = 7, sigmaData: Double = 0.5) {
            self.numSteps = numSteps
            self.guidanceScale = guidanceScale
            self.sigmaData = sigmaData
        }

        /// The official pipeline never reads this section; a missing key takes `MiroPipeline.__call__`'s
        /// defaults (50 steps, guidance 7) and FlowPrecond's sigma_data 0.5.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            numSteps = try c.decodeIfPresent(Int.self, forKey: .numSteps) ?? 50
            guidanceScale = try c.decodeIfPresent(Double.self, forKey: .guidanceScale) ?? 7
            sigmaData = try c.decodeIfPresent(Double.self, forKey: .sigmaData) ?? 0.5
        }
    }

    public var network: MIROConfig
    public var preconditioning: FlowPrecondConfig
    public var dataPreprocessing: DataPreprocessing?
    public var postprocessing: Postprocessing?
    public var scheduler: LinearScheduler?
    /// Top-level copy of the reward keys (what `MiroPipeline.coherence_keys` reads).
    public var coherenceKeys: [String]?
    public var samplerDefaults: SamplerDefaults?
    public var dataResolution: Int?
    public var imgResolution: Int?
    /// Text tokens the HF pipeline pads/truncates prompts to (77).
    public var maxTextLen: Int?
    public var modelType: String?
    public var vaeRepo: String?
    public var textEncoderRepo: String?

    enum CodingKeys: String, CodingKey {
        case network, preconditioning, scheduler, postprocessing
        case dataPreprocessing = "data_preprocessing", coherenceKeys = "coherence_keys"
        case samplerDefaults = "sampler_defaults", dataResolution = "data_resolution"
        case imgResolution = "img_resolution", maxTextLen = "max_text_len", modelType = "model_type"
        case vaeRepo = "vae_repo", textEncoderRepo = "text_encoder_repo"
    }

    /// The layout the official converter writes for a network trained on SDXL latents.
    public init(network: MIROConfig, preconditioning: FlowPrecondConfig? = nil, guidanceScale: Double = 7,
                imageResolution: Int? = nil, maxTextLength: Int = 77) {
        self.network = network
        self.preconditioning = preconditioning ?? FlowPrecondConfig(network: network)
        let img = imageResolution ?? network.dataSize * 8
        dataPreprocessing = DataPreprocessing(inputKeyMean: "vae_embeddings_mean_\(img)",
                                              inputKeyStd: "vae_embeddings_std_\(img)")
        postprocessing = Postprocessing()
        scheduler = LinearScheduler()
        coherenceKeys = network.coherenceKeys
        samplerDefaults = SamplerDefaults(numSteps: 50, guidanceScale: guidanceScale,
                                          sigmaData: self.preconditioning.sigmaData)
        dataResolution = network.dataSize
        imgResolution = img
        maxTextLen = maxTextLength
        modelType = "sdxl"
        vaeRepo = "stabilityai/sdxl-vae"
        textEncoderRepo = "google/flan-t5-xl"
    }

    /// The reward keys the pipeline offers: top-level `coherence_keys`, else the network's.
    public var rewardKeys: [String] { coherenceKeys ?? network.coherenceKeys }
}

extension FlowPrecondConfig {
    /// Checks the preconditioner's values against the network it wraps; messages name the
    /// `preconditioning.*` key.
    public func validate(network: MIROConfig) throws {
        func fail(_ m: String) throws -> Never { throw MIROModelError.invalidConfig("preconditioning.\(m)") }
        if numLatents != network.numLatents {
            try fail("num_latents \(numLatents) differs from network.num_latents \(network.numLatents)")
        }
        if latentsDim != network.latentsDim {
            try fail("latents_dim \(latentsDim) differs from network.latents_dim \(network.latentsDim)")
        }
        if !(sigmaData.isFinite && sigmaData > 0) { try fail("sigma_data must be a positive number, got \(sigmaData)") }
        if !(1...MIROConfig.maximumSize).contains(logvarChannels) || logvarChannels % 2 != 0 {
            try fail("logvar_channels must be even and in 2...\(MIROConfig.maximumSize), got \(logvarChannels)")
        }
        if logvarMLPLayers != 0 {
            throw MIROModelError.unsupported("preconditioning.logvar_mlp_layers = \(logvarMLPLayers) (only 0, the release, is ported)")
        }
    }
}

extension MIROPipelineConfig {
    /// The largest `max_text_len` accepted (the official pipeline uses 77).
    public static let maximumTextLength = 4096
    /// The largest `sampler_defaults.num_steps` accepted.
    public static let maximumSteps = 10_000
    /// The largest guidance weight accepted anywhere (config defaults and user options alike): far
    /// beyond any useful value (the release uses 7), and small enough that `(1 + w)·c − w·u` stays finite.
    public static let maximumGuidance = 1000.0

    /// Checks every value of config.json that sizes an allocation, an index or a loop, or enters the
    /// sampler, before anything is built from it; messages name the key (`max_text_len`,
    /// `network.patch_size`, ...). The decoders run this, so a config that decodes is safe to use.
    public func validate() throws {
        func fail(_ m: String) throws -> Never { throw MIROModelError.invalidConfig(m) }
        do {
            try network.validate()
        } catch MIROModelError.invalidConfig(let m) {
            try fail("network.\(m)")
        }
        try preconditioning.validate(network: network)
        if let dataResolution, dataResolution != network.dataSize {
            try fail("data_resolution \(dataResolution) differs from network.data_size \(network.dataSize)")
        }
        if let imgResolution, !(1...MIROConfig.maximumSize).contains(imgResolution) {
            try fail("img_resolution must be in 1...\(MIROConfig.maximumSize), got \(imgResolution)")
        }
        if let maxTextLen, !(1...Self.maximumTextLength).contains(maxTextLen) {
            try fail("max_text_len must be in 1...\(Self.maximumTextLength), got \(maxTextLen)")
        }
        if let s = samplerDefaults {
            if !(1...Self.maximumSteps).contains(s.numSteps) {
                try fail("sampler_defaults.num_steps must be in 1...\(Self.maximumSteps), got \(s.numSteps)")
            }
            if !(s.guidanceScale.isFinite && (0...Self.maximumGuidance).contains(s.guidanceScale)) {
                try fail("sampler_defaults.guidance_scale must be in [0, \(Int(Self.maximumGuidance))], got \(s.guidanceScale)")
            }
            if !(s.sigmaData.isFinite && s.sigmaData > 0) {
                try fail("sampler_defaults.sigma_data must be a positive number, got \(s.sigmaData)")
            }
        }
        if let s = scheduler {
            for (key, v) in [("start", s.start), ("end", s.end), ("shift", s.shift), ("clip_min", s.clipMin)] where !v.isFinite {
                try fail("scheduler.\(key) must be a finite number, got \(v)")
            }
            if !(s.shift > 0) { try fail("scheduler.shift must be positive, got \(s.shift)") }
            if !(s.clipMin >= 0) { try fail("scheduler.clip_min must not be negative, got \(s.clipMin)") }
        }
        if let keys = coherenceKeys, Set(keys).count != keys.count { try fail("coherence_keys has duplicates: \(keys)") }
        for (key, type) in [("data_preprocessing.model_type", dataPreprocessing?.modelType),
                            ("postprocessing.model_type", postprocessing?.modelType), ("model_type", modelType)] {
            if let type, type != "sdxl" { try fail("\(key): unknown model type '\(type)'; available types: [\"sdxl\"]") }
        }
    }
}
