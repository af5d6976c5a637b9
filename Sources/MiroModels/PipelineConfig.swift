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
    }

    public struct Postprocessing: Codable, Sendable, Equatable {
        public var channelWiseNormalisation: Bool = true
        public var modelType: String = "sdxl"

        enum CodingKeys: String, CodingKey {
            case channelWiseNormalisation = "channel_wise_normalisation", modelType = "model_type"
        }
    }

    public struct SamplerDefaults: Codable, Sendable, Equatable {
        public var numSteps: Int = 50
        public var guidanceScale: Double = 7
        public var sigmaData: Double = 0.5

        enum CodingKeys: String, CodingKey {
            case numSteps = "num_steps", guidanceScale = "guidance_scale", sigmaData = "sigma_data"
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
