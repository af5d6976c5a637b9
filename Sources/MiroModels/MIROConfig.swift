// Port of the `network` section of config.json / the CADRINTextCond kwargs in miro/models/networks/rin.py
// (miro-t2i 0.1.4), method §5.3.

import MiroEngine

/// The architecture of a MIRO network: the `network` section of the official `config.json`
/// (method §5.3), i.e. the keyword arguments of `CADRINTextCond` in miro/models/networks/rin.py
/// (miro-t2i 0.1.4). JSON keys are the official snake_case kwarg names, so a released
/// `config.json` decodes unchanged; keys it leaves out take the official constructor defaults.
///
/// The reward keys live here as `coherence_keys` (the official name; the released `config.json`
/// also repeats them at top level, see `MIROPipelineConfig`). Their order fixes the reward token
/// order and the rows of `coherence_positional_embedding`, so it must match the checkpoint.
public struct MIROConfig: Codable, Sendable, Equatable {
    /// Side of the (latent) input image: 32 for 256² SDXL latents.
    public var dataSize: Int
    /// Width of the data (patch) tokens.
    public var dataDim: Int
    public var numInputChannels: Int
    public var numLatents: Int
    public var latentsDim: Int
    /// Width of the text-encoder tokens (2048 for FLAN-T5-XL).
    public var labelDim: Int
    /// Only used by the (unported) `concat_cond_token_to_latents` mode; kept for `config.json`.
    public var numCondTokens: Int
    public var numProcessingLayers: Int
    public var numBlocks: Int
    public var patchSize: Int
    public var readWriteHeads: Int = 16
    public var computeHeads: Int = 16
    public var latentMLPMultiplier: Int = 4
    public var dataMLPMultiplier: Int = 4
    public var computeDropout: Double = 0
    public var rwStochasticDepth: Double = 0
    public var computeStochasticDepth: Double = 0
    public var numTextRegisters: Int = 16
    /// The reward names (without the `_coherence` suffix the official batches use).
    public var coherenceKeys: [String]
    /// Training-time reward dropout probability (0 in the released recipe, method §4.5).
    public var coherenceDropout: Double = 0
    public var dropoutStrategy: RewardDropoutStrategy = .binomial
    public var useCondRINBlock: Bool = false
    public var concatCondTokenToLatents: Bool = true
    public var useSelfConditioning: Bool = false

    /// The text/reward transformer of `CADRINTextCond` always has 16 heads (hard-coded officially).
    public static let textTransformerHeads = 16
    /// It always has 2 layers.
    public static let textTransformerLayers = 2

    public init(dataSize: Int, dataDim: Int, numInputChannels: Int, numLatents: Int, latentsDim: Int, labelDim: Int,
                numCondTokens: Int = 77, numProcessingLayers: Int, numBlocks: Int, patchSize: Int,
                readWriteHeads: Int = 16, computeHeads: Int = 16, latentMLPMultiplier: Int = 4,
                dataMLPMultiplier: Int = 4, numTextRegisters: Int = 16, coherenceKeys: [String],
                coherenceDropout: Double = 0, dropoutStrategy: RewardDropoutStrategy = .binomial,
                useCondRINBlock: Bool = true, concatCondTokenToLatents: Bool = false, useSelfConditioning: Bool = true) {
        self.dataSize = dataSize
        self.dataDim = dataDim
        self.numInputChannels = numInputChannels
        self.numLatents = numLatents
        self.latentsDim = latentsDim
        self.labelDim = labelDim
        self.numCondTokens = numCondTokens
        self.numProcessingLayers = numProcessingLayers
        self.numBlocks = numBlocks
        self.patchSize = patchSize
        self.readWriteHeads = readWriteHeads
        self.computeHeads = computeHeads
        self.latentMLPMultiplier = latentMLPMultiplier
        self.dataMLPMultiplier = dataMLPMultiplier
        self.numTextRegisters = numTextRegisters
        self.coherenceKeys = coherenceKeys
        self.coherenceDropout = coherenceDropout
        self.dropoutStrategy = dropoutStrategy
        self.useCondRINBlock = useCondRINBlock
        self.concatCondTokenToLatents = concatCondTokenToLatents
        self.useSelfConditioning = useSelfConditioning
    }

    enum CodingKeys: String, CodingKey {
        case dataSize = "data_size", dataDim = "data_dim", numInputChannels = "num_input_channels"
        case numLatents = "num_latents", latentsDim = "latents_dim", labelDim = "label_dim"
        case numCondTokens = "num_cond_tokens", numProcessingLayers = "num_processing_layers"
        case numBlocks = "num_blocks", patchSize = "patch_size", readWriteHeads = "read_write_heads"
        case computeHeads = "compute_heads", latentMLPMultiplier = "latent_mlp_multiplier"
        case dataMLPMultiplier = "data_mlp_multiplier", computeDropout = "compute_dropout"
        case rwStochasticDepth = "rw_stochastic_depth", computeStochasticDepth = "compute_stochastic_depth"
        case numTextRegisters = "num_text_registers", coherenceKeys = "coherence_keys"
        case coherenceDropout = "coherence_dropout", dropoutStrategy = "dropout_strategy"
        case useCondRINBlock = "use_cond_rin_block", concatCondTokenToLatents = "concat_cond_token_to_latents"
        case useSelfConditioning = "use_self_conditioning"
    }

    /// Required keys are the official positional arguments; the others default as in the official
    /// constructors (note: `use_cond_rin_block` false, `concat_cond_token_to_latents` true and
    /// `use_self_conditioning` false there — the released model sets all three the other way).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataSize = try c.decode(Int.self, forKey: .dataSize)
        dataDim = try c.decode(Int.self, forKey: .dataDim)
        numInputChannels = try c.decode(Int.self, forKey: .numInputChannels)
        numLatents = try c.decode(Int.self, forKey: .numLatents)
        latentsDim = try c.decode(Int.self, forKey: .latentsDim)
        labelDim = try c.decode(Int.self, forKey: .labelDim)
        numCondTokens = try c.decode(Int.self, forKey: .numCondTokens)
        numProcessingLayers = try c.decode(Int.self, forKey: .numProcessingLayers)
        numBlocks = try c.decode(Int.self, forKey: .numBlocks)
        patchSize = try c.decode(Int.self, forKey: .patchSize)
        coherenceKeys = try c.decode([String].self, forKey: .coherenceKeys)
        readWriteHeads = try c.decodeIfPresent(Int.self, forKey: .readWriteHeads) ?? 16
        computeHeads = try c.decodeIfPresent(Int.self, forKey: .computeHeads) ?? 16
        latentMLPMultiplier = try c.decodeIfPresent(Int.self, forKey: .latentMLPMultiplier) ?? 4
        dataMLPMultiplier = try c.decodeIfPresent(Int.self, forKey: .dataMLPMultiplier) ?? 4
        computeDropout = try c.decodeIfPresent(Double.self, forKey: .computeDropout) ?? 0
        rwStochasticDepth = try c.decodeIfPresent(Double.self, forKey: .rwStochasticDepth) ?? 0
        computeStochasticDepth = try c.decodeIfPresent(Double.self, forKey: .computeStochasticDepth) ?? 0
        numTextRegisters = try c.decodeIfPresent(Int.self, forKey: .numTextRegisters) ?? 16
        coherenceDropout = try c.decodeIfPresent(Double.self, forKey: .coherenceDropout) ?? 0
        dropoutStrategy = try c.decodeIfPresent(RewardDropoutStrategy.self, forKey: .dropoutStrategy) ?? .binomial
        useCondRINBlock = try c.decodeIfPresent(Bool.self, forKey: .useCondRINBlock) ?? false
        concatCondTokenToLatents = try c.decodeIfPresent(Bool.self, forKey: .concatCondTokenToLatents) ?? true
        useSelfConditioning = try c.decodeIfPresent(Bool.self, forKey: .useSelfConditioning) ?? false
    }

    // MARK: Derived sizes

    public var tokensPerSide: Int { dataSize / patchSize }
    public var numDataTokens: Int { tokensPerSide * tokensPerSide }
    /// C·p·p, the width of one flattened patch.
    public var patchDim: Int { numInputChannels * patchSize * patchSize }
    /// Fourier channels of the time and reward embedders (their output width is 4× this).
    public var embedderChannels: Int { latentsDim / 4 }
    public var numRewards: Int { coherenceKeys.count }
    /// Length of the conditioning sequence for `textLength` text tokens: time + rewards + registers + text.
    public func conditioningLength(textLength: Int) -> Int { 1 + numRewards + numTextRegisters + textLength }

    /// The largest width, side or token count `validate()` accepts (2¹⁶).
    public static let maximumSize = 1 << 16
    /// The largest layer / block count or MLP multiplier `validate()` accepts.
    public static let maximumCount = 1024

    /// Checks the sizes and the flags this port implements, with a message naming the key.
    public func validate() throws {
        func fail(_ m: String) throws -> Never { throw MIROModelError.invalidConfig(m) }
        if coherenceKeys.isEmpty { try fail("coherence_keys must list at least one reward (the official code raises too)") }
        if Set(coherenceKeys).count != coherenceKeys.count { try fail("coherence_keys has duplicates: \(coherenceKeys)") }
        for (name, v) in [("data_size", dataSize), ("data_dim", dataDim), ("num_input_channels", numInputChannels),
                          ("num_latents", numLatents), ("latents_dim", latentsDim), ("label_dim", labelDim),
                          ("num_blocks", numBlocks), ("patch_size", patchSize), ("read_write_heads", readWriteHeads),
                          ("compute_heads", computeHeads)] where v <= 0 {
            try fail("\(name) must be positive, got \(v)")
        }
        for (name, v) in [("num_processing_layers", numProcessingLayers), ("num_text_registers", numTextRegisters),
                          ("num_cond_tokens", numCondTokens)] where v < 0 {
            try fail("\(name) must not be negative, got \(v)")
        }
        for (name, v) in [("latent_mlp_multiplier", latentMLPMultiplier), ("data_mlp_multiplier", dataMLPMultiplier)] where v <= 0 {
            try fail("\(name) must be positive, got \(v)")
        }
        // Upper bounds keep every derived size (C·p·p, tokens², widths × multipliers) far from Int overflow
        // and every allocation plausible; the released model is far inside them (widths ≤ 2048, 4 blocks).
        for (name, v) in [("data_size", dataSize), ("data_dim", dataDim), ("num_input_channels", numInputChannels),
                          ("num_latents", numLatents), ("latents_dim", latentsDim), ("label_dim", labelDim),
                          ("num_cond_tokens", numCondTokens), ("patch_size", patchSize), ("read_write_heads", readWriteHeads),
                          ("compute_heads", computeHeads), ("num_text_registers", numTextRegisters)] where v > Self.maximumSize {
            try fail("\(name) \(v) is larger than \(Self.maximumSize)")
        }
        for (name, v) in [("num_blocks", numBlocks), ("num_processing_layers", numProcessingLayers),
                          ("latent_mlp_multiplier", latentMLPMultiplier), ("data_mlp_multiplier", dataMLPMultiplier)]
            where v > Self.maximumCount {
            try fail("\(name) \(v) is larger than \(Self.maximumCount)")
        }
        if dataSize % patchSize != 0 { try fail("data_size \(dataSize) is not divisible by patch_size \(patchSize)") }
        if latentsDim % 4 != 0 { try fail("latents_dim \(latentsDim) must be divisible by 4 (time/reward embedders)") }
        if latentsDim % Self.textTransformerHeads != 0 {
            try fail("latents_dim \(latentsDim) must be divisible by the text transformer's 16 heads")
        }
        if latentsDim % computeHeads != 0 { try fail("latents_dim \(latentsDim) is not divisible by compute_heads \(computeHeads)") }
        if min(dataDim, latentsDim) % readWriteHeads != 0 || latentsDim % readWriteHeads != 0 {
            try fail("read_write_heads \(readWriteHeads) must divide min(data_dim, latents_dim) and latents_dim")
        }
        if !(0...1).contains(coherenceDropout) { try fail("coherence_dropout must be in [0, 1], got \(coherenceDropout)") }
        if concatCondTokenToLatents {
            throw MIROModelError.unsupported("concat_cond_token_to_latents = true (the base CAD variant) is not ported; "
                                             + "the released MIRO models use false with use_cond_rin_block = true")
        }
        if computeDropout != 0 || rwStochasticDepth != 0 || computeStochasticDepth != 0 {
            throw MIROModelError.unsupported("compute_dropout / stochastic depth are not ported (all 0 in the release)")
        }
    }
}

/// How `coherence_dropout` drops rewards during training (method §4.5).
public enum RewardDropoutStrategy: String, Codable, Sendable, CaseIterable {
    /// Each reward dropped with probability p, then one random reward kept if a row lost them all.
    case binomial
    /// A uniformly random number 0…K−1 of rewards dropped (p is not used).
    case uniform
    /// Never dropped.
    case none
}

/// Errors of the model layer: bad configurations, unsupported options, inputs of the wrong shape.
public enum MIROModelError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidConfig(String)
    case unsupported(String)
    case invalidInput(String)
    case unknownRewardKeys([String], valid: [String])

    public var description: String {
        switch self {
        case .invalidConfig(let m): "invalid MIRO configuration: \(m)"
        case .unsupported(let m): "not supported: \(m)"
        case .invalidInput(let m): "invalid input: \(m)"
        case .unknownRewardKeys(let keys, let valid):
            "reward targets name keys this model was not trained on: \(keys.sorted()). Valid keys: \(valid.sorted())."
        }
    }
}

// MARK: - Presets

extension MIROConfig {
    /// The seven rewards of the released model, in the official order (`MiroPipeline.COHERENCE_KEYS`).
    public static let releasedRewardKeys = [
        "clip_score", "aesthetic_score", "image_reward_score", "pick_a_score_score", "hpsv2_score", "vqa_score",
        "sciscore_score",
    ]

    /// The reward scorers of the built-in Shapes world (see MiroData).
    public static let shapesRewardKeys = ["alignment_score", "quality_score", "colorfulness_score", "compressibility_score"]

    /// The released architecture (`nicolas-dufour/miro`, `multi_cad.yaml`): 360,411,664 parameters.
    public static let miro = MIROConfig(
        dataSize: 32, dataDim: 512, numInputChannels: 4, numLatents: 256, latentsDim: 1024, labelDim: 2048,
        numCondTokens: 77, numProcessingLayers: 4, numBlocks: 4, patchSize: 2, readWriteHeads: 16, computeHeads: 32,
        numTextRegisters: 16, coherenceKeys: releasedRewardKeys)

    /// A smaller member of the same family (the widths of the base `config.yaml`, ≈ 54M parameters).
    public static let small = MIROConfig(
        dataSize: 32, dataDim: 256, numInputChannels: 4, numLatents: 128, latentsDim: 512, labelDim: 2048,
        numCondTokens: 77, numProcessingLayers: 2, numBlocks: 3, patchSize: 2, readWriteHeads: 8, computeHeads: 16,
        numTextRegisters: 16, coherenceKeys: releasedRewardKeys)

    /// A CPU demo model for the built-in Shapes world: 32×32 RGB inputs, patch 4 (64 data tokens),
    /// the Shapes text encoder's 64-wide tokens, 32 latents × 128. 1,978,225 parameters and
    /// 0.1 GFLOP per sample forward, so a 2-core laptop trains it for a thousand steps in minutes.
    public static func tiny(rewardKeys: [String] = shapesRewardKeys, inputChannels: Int = 3, labelDim: Int = 64) -> MIROConfig {
        MIROConfig(
            dataSize: 32, dataDim: 64, numInputChannels: inputChannels, numLatents: 32, latentsDim: 128,
            labelDim: labelDim, numCondTokens: 16, numProcessingLayers: 2, numBlocks: 2, patchSize: 4,
            readWriteHeads: 4, computeHeads: 4, latentMLPMultiplier: 2, dataMLPMultiplier: 2, numTextRegisters: 4,
            coherenceKeys: rewardKeys)
    }

    public static let tiny = tiny()
}
