// Port of miro/models/networks/rin.py (miro-t2i 0.1.4): CADRINTextCond, method §4.3–§5.3.

import MiroEngine
import MiroNN

/// Port of `CADRINTextCond` (with `RINBackbone`) in miro/models/networks/rin.py (miro-t2i 0.1.4):
/// the text- and reward-conditioned RIN backbone of method §4.3–§5.3.
///
///     x: (B, C, H, W) → patches (p1 p2 c) → patch_extractor → data_ln → + data_pos_embedding
///     e = time_embedder(γ)
///     cond = [e | transformer₂([reward tokens | text_registers | map_text_tokens(text)])]
///     z = latents + e;  z += ln_previous_2(z_prev + linear_previous(ln_previous_1(z_prev)))
///     (x, z) ← rin_blocks[i](x, z, cond);  output = unpatchify(map_tokens_to_patches(x))
///
/// Reward k becomes one token: coherence_embedder[k](s_k) + coherence_positional_embedding[k].
/// Key masks: rewards, registers and the time token always attend; text tokens by `textMask`.
///
/// Ported flag set: `concat_cond_token_to_latents = false` (the release); `use_cond_rin_block` and
/// `use_self_conditioning` either way. Dropout/stochastic depth and the concat mode throw
/// `MIROModelError.unsupported` at construction.
///
/// Keys equal the official state dict (`network.*` of a released `model.safetensors` minus the prefix).
public final class MIRONetwork: Module {
    public let config: MIROConfig

    @Param(key: "data_pos_embedding") public var dataPosEmbedding: Tensor
    @Param(key: "latents") public var latents: Tensor
    @Param(key: "coherence_positional_embedding") public var coherencePositionalEmbedding: Tensor
    @Param(key: "text_registers") public var textRegisters: Tensor
    /// Bool "parameters" of the official module (all true): K + R and 1 + K + R long.
    @Buffer(key: "registers_coherence_mask") public var registersCoherenceMask: Tensor
    @Buffer(key: "cond_mask") public var condMask: Tensor
    @Child(key: "patch_extractor") public var patchExtractor: Linear
    @Child(key: "data_ln") public var dataNorm: RMSNorm
    @Child(key: "time_embedder") public var timeEmbedder: TimeEmbedder
    @Child(key: "transformers_blocks") public var textTransformer: [SelfAttentionBlock]
    @Child(key: "coherence_embedder") public var coherenceEmbedder: ModuleDict<TimeEmbedder>
    @Child(key: "map_text_tokens") public var mapTextTokens: Linear
    @Child(key: "ln_previous_1") public var lnPrevious1: LayerNorm?
    @Child(key: "linear_previous") public var linearPrevious: GELUMLP?
    @Child(key: "ln_previous_2") public var lnPrevious2: LayerNorm?
    @Child(key: "rin_blocks") public var rinBlocks: [RINBlock]
    @Child(key: "map_tokens_to_patches") public var mapTokensToPatches: TokensToPatches

    /// Builds the network and initialises it as method §5.3 (see `resetParameters`). All random
    /// numbers (Fourier features included) come from `generator`, so a seed fixes the weights;
    /// they are not the numbers torch's constructor draws for the same seed.
    public init(config: MIROConfig, generator: Generator? = nil) throws {
        try config.validate()
        self.config = config
        super.init()
        let c = config, d = c.latentsDim, k = c.numRewards, r = c.numTextRegisters
        patchExtractor = try Linear(c.patchDim, c.dataDim)
        dataPosEmbedding = try Tensor.zeros([c.numDataTokens, c.dataDim])
        dataNorm = try RMSNorm(c.dataDim, eps: 1e-6)
        latents = try Tensor.zeros([c.numLatents, d])
        timeEmbedder = try TimeEmbedder(dim: c.embedderChannels, generator: generator)
        var text = SelfAttentionBlock.Options()
        text.norm = .layer; text.swiGLU = false; text.qkvBias = true; text.qkNorm = false; text.layerScale = 0.1
        text.mlpMultiplier = 4
        textTransformer = try (0..<MIROConfig.textTransformerLayers).map { _ in
            try SelfAttentionBlock(dim: d, heads: MIROConfig.textTransformerHeads, options: text)
        }
        coherenceEmbedder = ModuleDict(try c.coherenceKeys.map {
            ("\($0)_coherence", try TimeEmbedder(dim: c.embedderChannels, generator: generator))
        })
        coherencePositionalEmbedding = try Tensor.zeros([k, d])
        mapTextTokens = try Linear(c.labelDim, d)
        textRegisters = try Tensor.zeros([r, d])
        if c.useSelfConditioning {
            lnPrevious1 = try LayerNorm(d, eps: 1e-6)
            linearPrevious = try GELUMLP(d, multiplier: c.latentMLPMultiplier)
            lnPrevious2 = try LayerNorm(d, eps: 1e-6)
        }
        rinBlocks = try (0..<c.numBlocks).map { _ in try RINBlock(config: c) }
        mapTokensToPatches = try TokensToPatches(dim: c.dataDim, patchDim: c.patchDim)
        registersCoherenceMask = try Tensor.ones([r + k], dtype: .bool)
        condMask = try Tensor.ones([r + k + 1], dtype: .bool)
        try resetParameters(generator: generator)
    }

    /// The official initialisation (`RINBackbone.init_weights` and the constructors): Xavier-uniform
    /// weights and zero biases for every Linear of the network; the token tables (data positions,
    /// latents, reward positions, text registers) from a normal with std 0.02 truncated to ±0.04;
    /// norm gains 1 and biases 0, except `ln_previous_2` (weight and bias 0, so self-conditioning
    /// starts as a no-op); LayerScales 0.1. Fourier buffers are left as sampled.
    public func resetParameters(generator: Generator? = nil) throws {
        for table in [dataPosEmbedding, latents, coherencePositionalEmbedding, textRegisters] {
            try Init.truncNormal(table, std: 0.02, lo: -0.04, hi: 0.04, generator: generator)
        }
        for (_, module) in namedModules() {
            if let linear = module as? Linear {
                try Init.xavierUniform(linear.weight, generator: generator)
                if let bias = linear.bias { try Init.zeros(bias) }
            } else if let norm = module as? LayerNorm {
                if let w = norm.weight { try Init.constant(w, 1) }
                if let b = norm.bias { try Init.zeros(b) }
            } else if let norm = module as? RMSNorm, let w = norm.weight {
                try Init.constant(w, 1)
            } else if let block = module as? SelfAttentionBlock {
                for scale in [block.layerScale1, block.layerScale2].compactMap({ $0 }) { try Init.constant(scale, 0.1) }
            }
        }
        if let ln = lnPrevious2 {
            // self.ln_previous_2.weight.data.fill_(0.0); self.ln_previous_2.bias.data.fill_(0.0)
            if let w = ln.weight { try Init.zeros(w) }
            if let b = ln.bias { try Init.zeros(b) }
        }
    }

    /// The dtype the parameters are held in (inputs are cast to it where the official code would
    /// otherwise mix dtypes).
    public var parameterDType: DType { patchExtractor.weight.dtype }
    public var parameterDevice: Device { patchExtractor.weight.device }

    public func callAsFunction(_ x: Tensor, gamma: Tensor, conditioning: MIROConditioning, previousLatents: Tensor? = nil,
                               dropoutGenerator: Generator? = nil) throws -> (output: Tensor, latents: Tensor) {
        try self(x, gamma: gamma, text: conditioning.text, textMask: conditioning.textMask,
                 rewards: conditioning.rewards, previousLatents: previousLatents, dropoutGenerator: dropoutGenerator,
                 rewardKeep: conditioning.rewardKeep, conditionTokens: conditioning.encoded)
    }

    /// `conditioning` with its condition tokens computed (`MIROConditioning.encoded`), for repeated calls in eval
    /// mode on the same text and rewards (the sampler's steps). Throws in training mode, where reward dropout draws
    /// a new mask at every call.
    public func encoding(_ conditioning: MIROConditioning) throws -> MIROConditioning {
        guard !training else {
            throw MIROModelError.invalidInput("condition tokens can be reused in eval mode only (reward dropout draws anew)")
        }
        try checkConditioning(text: conditioning.text, textMask: conditioning.textMask, rewards: conditioning.rewards,
                              batch: conditioning.text.rank == 3 ? conditioning.text.size(0) : -1)
        let mask = try conditioning.textMask.dtype == .bool ? conditioning.textMask : conditioning.textMask.ne(0)
        var c = conditioning
        c.encoded = try withoutGrad {
            try conditionTokens(text: conditioning.text, textMask: mask.to(device: parameterDevice),
                                rewards: conditioning.rewards)
        }
        return c
    }

    /// The raw network output F (B, C, H, W) and the final latents z (B, L, latents_dim).
    ///
    /// - Parameters:
    ///   - x: (B, C, data_size, data_size), already scaled by c_in when called through `FlowPrecond`.
    ///   - gamma: (B,) signal fraction γ (a single value is broadcast).
    ///   - text / textMask / rewards: see `MIROConditioning`.
    ///   - previousLatents: self-conditioning latents (B, L, latents_dim); nil skips the path
    ///     entirely (FlowPrecond passes zeros instead, which is *not* the same).
    ///   - dropoutGenerator: draws the reward-dropout mask in training mode.
    ///   - rewardKeep: that mask (B, K) already drawn (`MIROConditioning.rewardKeep`); nil draws it.
    ///   - conditionTokens: `conditionTokens(text:textMask:rewards:)` already computed for these inputs (eval mode).
    public func callAsFunction(_ x: Tensor, gamma: Tensor, text: Tensor, textMask: Tensor, rewards: Tensor,
                               previousLatents: Tensor? = nil, dropoutGenerator: Generator? = nil,
                               rewardKeep: Tensor? = nil, conditionTokens precomputed: Tensor? = nil) throws
        -> (output: Tensor, latents: Tensor)
    {
        let (output, z) = try run(x, gamma: gamma, text: text, textMask: textMask, rewards: rewards,
                                  previousLatents: previousLatents, dropoutGenerator: dropoutGenerator,
                                  rewardKeep: rewardKeep, conditionTokens: precomputed, latentsOnly: false)
        guard let output else { throw MIROModelError.invalidInput("the network returned no output") }
        return (output, z)
    }

    /// The final latents z (B, L, latents_dim) alone: the same values `callAsFunction` returns with the output,
    /// without the work only the output needs (the last block's write to the data tokens, and the output head). The
    /// self-conditioning pass keeps only these.
    public func latents(_ x: Tensor, gamma: Tensor, conditioning: MIROConditioning, previousLatents: Tensor? = nil,
                        dropoutGenerator: Generator? = nil) throws -> Tensor {
        try run(x, gamma: gamma, text: conditioning.text, textMask: conditioning.textMask, rewards: conditioning.rewards,
                previousLatents: previousLatents, dropoutGenerator: dropoutGenerator, rewardKeep: conditioning.rewardKeep,
                conditionTokens: conditioning.encoded, latentsOnly: true).latents
    }

    private func run(_ x: Tensor, gamma: Tensor, text: Tensor, textMask: Tensor, rewards: Tensor, previousLatents: Tensor?,
                     dropoutGenerator: Generator?, rewardKeep: Tensor?, conditionTokens precomputed: Tensor?,
                     latentsOnly: Bool) throws -> (output: Tensor?, latents: Tensor) {
        let c = config
        let (b, hostMask) = try checkInputs(x, text: text, textMask: textMask, rewards: rewards)
        let (dtype, device) = (parameterDType, parameterDevice)
        let mask = try hostMask.to(device: device)
        var g = try gamma.to(dtype, device: device)
        if g.count == 1 && b != 1 { g = try g.reshaped([1]).expanded([b]) }
        guard g.count == b else { throw MIROModelError.invalidInput("gamma has \(g.count) values for batch \(b)") }
        g = try g.reshaped([b])
        let (h, w) = (x.size(2) / c.patchSize, x.size(3) / c.patchSize)

        // x = self.data_ln(self.patch_extractor(rearrange(x, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)")))
        //     + self.data_pos_embedding.unsqueeze(0)
        var data = try patchExtractor(Patches.patchify(x.to(dtype, device: device), patch: c.patchSize))
        data = try dataNorm(data) + dataPosEmbedding.unsqueezed(0)

        let encodedNoise = try timeEmbedder(g)  // (B, latents_dim)
        if precomputed != nil && training {
            throw MIROModelError.invalidInput("precomputed condition tokens are for eval mode only")
        }
        let mapped = try precomputed?.to(dtype, device: device)
            ?? conditionTokens(text: text, textMask: mask, rewards: rewards, generator: dropoutGenerator,
                               rewardKeep: rewardKeep)
        guard mapped.size(0) == b, mapped.size(1) == condMask.count - 1 + mask.size(1) else {
            throw MIROModelError.invalidInput("precomputed condition tokens \(mapped.shape) do not match this text and batch")
        }
        // z = latents + encoded_noise.unsqueeze(1); cond = torch.cat([encoded_noise.unsqueeze(1), mapped], dim=1)
        var z = try latents.unsqueezed(0) + encodedNoise.unsqueezed(1)
        let cond = try Tensor.cat([encodedNoise.unsqueezed(1), mapped], dim: 1)

        if let previous = previousLatents, let ln1 = lnPrevious1, let mlp = linearPrevious, let ln2 = lnPrevious2 {
            // z = z + self.ln_previous_2(previous_latents + self.linear_previous(self.ln_previous_1(previous_latents)))
            let p = try previous.to(dtype, device: device)
            z = try z + ln2(p + mlp(ln1(p)))
        }

        // return_cond_mask: torch.cat([self.cond_mask.expand(B, -1), text_mask], dim=1)
        let fullMask = try Tensor.cat([condMask.unsqueezed(0).expanded([b, -1]), mask], dim: 1)
        for (i, block) in rinBlocks.enumerated() {
            if latentsOnly && i == rinBlocks.count - 1 {
                return (nil, try block.latents(data: data, latents: z, cond: cond, condMask: fullMask))
            }
            (data, z) = try block(data: data, latents: z, cond: cond, condMask: fullMask)
        }
        if latentsOnly { return (nil, z) }
        let patches = try mapTokensToPatches(data)
        let output = try Patches.unpatchify(patches, patch: c.patchSize, channels: c.numInputChannels, height: h, width: w)
        return (output, z)
    }

    /// `cond_mapping`: the reward tokens, text registers and projected text tokens after the
    /// 2-layer text transformer, (B, K + R + n, latents_dim).
    ///
    /// Missing rewards (NaN), exactly as officially: in training mode the value is replaced by 0.0
    /// and embedded (then multiplied by the reward-dropout mask); in eval mode the NaN propagates
    /// through the embedder and the resulting embedding is set to 0 (`nan_to_num`), so only the
    /// reward position embedding remains.
    public func conditionTokens(text: Tensor, textMask: Tensor, rewards: Tensor, generator: Generator? = nil,
                                rewardKeep: Tensor? = nil) throws -> Tensor {
        let b = text.size(0)
        // embeddings = self.map_text_tokens(batch["text_tokens_embeddings"].float())
        let tokens = try mapTextTokens(text.to(.float32, device: parameterDevice).to(parameterDType))
        let values = try rewards.to(tokens.dtype, device: parameterDevice)
        var coherence: Tensor
        if training {
            // coherence_embedder[key](torch.nan_to_num(batch[key], nan=0.0)) * dropout mask
            let clean = try values.maskedFill(values.isNaN(), 0)
            coherence = try embedRewards(clean)
            if let given = rewardKeep, given.shape != [b, config.numRewards] {
                throw MIROModelError.invalidInput("reward keep mask \(given.shape) does not match batch \(b) × \(config.numRewards) rewards")
            }
            let keep = try (rewardKeep ?? rewardDropoutMask(batchSize: b, generator: generator)).to(device: parameterDevice)
            coherence = try coherence * keep.unsqueezed(-1)
        } else {
            // torch.nan_to_num(torch.stack([coherence_embedder[key](batch[key]) ...], dim=1), nan=0.0)
            let embedded = try embedRewards(values)
            coherence = try embedded.maskedFill(embedded.isNaN(), 0)
        }
        var sequence = try Tensor.cat([
            coherence + coherencePositionalEmbedding.unsqueezed(0),
            textRegisters.unsqueezed(0).expanded([b, -1, -1]),
            tokens,
        ], dim: 1)
        let mask = try Tensor.cat([registersCoherenceMask.unsqueezed(0).expanded([b, -1]),
                                   textMask.to(.bool, device: parameterDevice)], dim: 1)
        for block in textTransformer { sequence = try block(sequence, mask: mask) }
        return sequence
    }

    /// (B, K) → (B, K, latents_dim): one embedder per reward column.
    private func embedRewards(_ values: Tensor) throws -> Tensor {
        let columns = try coherenceEmbedder.values.enumerated().map { k, embedder in try embedder(values.select(1, k)) }
        return try Tensor.stack(columns, dim: 1)
    }

    /// `create_coherence_dropout_mask`: a float32 (B, K) keep mask (1 = keep) drawn like the official
    /// code (same draws in the same order, so a `Generator` seeded like `torch.manual_seed` gives
    /// the official mask), on the CPU. Used in training mode only.
    public func rewardDropoutMask(batchSize b: Int, generator: Generator? = nil) throws -> Tensor {
        let k = config.numRewards
        switch config.dropoutStrategy {
        case .binomial:
            // mask = torch.bernoulli(torch.ones(B, K) * (1 - p))
            let mask = try (Tensor.ones([b, k]) * (1 - config.coherenceDropout)).bernoulli(generator: generator)
            // rows that lost every reward keep one at random: scatter_(1, randint(0, K, (B,)), 1.0)
            let zeroRows = try mask.sum([1]).eq(0).unsqueezed(1)
            let index = try Tensor.randint(0, k, [b], generator: generator)
            let fallback = try Tensor.arange(0, Double(k), dtype: .int64).unsqueezed(0).eq(index.unsqueezed(1)).to(.float32)
            return try Tensor.where_(zeroRows, fallback, mask)
        case .uniform:
            // drop the first num_to_drop rewards of a random order: rank >= randint(0, K, (B,))
            let numToDrop = try Tensor.randint(0, k, [b], generator: generator)
            let scores = try Tensor.rand([b, k], generator: generator)
            let order = try scores.sorted(dim: 1).indices
            let ranks = try order.sorted(dim: 1).indices.to(.float32)  // ranks.scatter_(1, indices, arange(K))
            return try ranks.ge(numToDrop.unsqueezed(1)).to(.float32)
        case .none:
            return try Tensor.ones([b, k])
        }
    }

    private func checkConditioning(text: Tensor, textMask: Tensor, rewards: Tensor, batch b: Int) throws {
        let c = config
        func fail(_ m: String) -> MIROModelError { .invalidInput(m) }
        guard text.rank == 3, text.size(0) == b, text.size(2) == c.labelDim else {
            throw fail("text must be (\(b), n, \(c.labelDim)), got \(text.shape)")
        }
        guard textMask.shape == [b, text.size(1)] else {
            throw fail("text mask must be (\(b), \(text.size(1))), got \(textMask.shape)")
        }
        guard rewards.shape == [b, c.numRewards] else {
            throw fail("rewards must be (\(b), \(c.numRewards)) in the order \(c.coherenceKeys), got \(rewards.shape)")
        }
    }

    private func checkInputs(_ x: Tensor, text: Tensor, textMask: Tensor, rewards: Tensor) throws -> (Int, Tensor) {
        let c = config
        func fail(_ m: String) -> MIROModelError { .invalidInput(m) }
        let s = x.shape
        guard s.count == 4, s[1] == c.numInputChannels else {
            throw fail("x must be (B, \(c.numInputChannels), H, W), got \(s)")
        }
        guard s[2] % c.patchSize == 0, s[3] % c.patchSize == 0,
              (s[2] / c.patchSize) * (s[3] / c.patchSize) == c.numDataTokens else {
            throw fail("x is \(s[2])×\(s[3]); the network takes \(c.dataSize)×\(c.dataSize) inputs (patch \(c.patchSize))")
        }
        let b = s[0]
        try checkConditioning(text: text, textMask: textMask, rewards: rewards, batch: b)
        return (b, try textMask.dtype == .bool ? textMask : textMask.ne(0))
    }
}
