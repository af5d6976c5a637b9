// Port of MiroPipeline.__call__ / _encode_prompts / _build_coherence (miro/pipeline.py, miro-t2i 0.1.4) for a
// precomputed prompt embedding (method §5.2, §7.1–§7.3).

import Foundation
import MiroEngine
import MiroFormats
import MiroIO
import MiroModels

/// Sampling from an official folder as `MiroPipeline.__call__` does, given the prompt's T5 embedding
/// instead of the prompt (TextToImage.swift puts the T5 encoder and the VAE around it):
///
///     text, mask  = embedding zero-padded / truncated to max_text_len (77), mask true on the real tokens
///                   (repeat_interleave'd to B = num_images_per_prompt)
///     negative    = uncond_embedding (n_u, D) with an all-true mask, expanded to B
///     s⁺ = reward_targets (unnamed: 1.0)     s⁻ = negative_reward_targets (unnamed: 0.0)
///     x_N         = torch.randn(B, 4, res, res, generator=torch.Generator().manual_seed(seed))
///     latents     = flow_euler_sampler(...)  with v = (1 + w)·v(c⁺, s⁺) − w·v(c⁻, s⁻)
///
/// The official tokenizer pads with T5's pad token, whose encoder outputs are not zero; here the padded
/// positions hold zeros. That changes nothing: in miro/models/networks/rin.py the text tokens are used
/// (1) as queries/keys of the 2-layer text transformer, whose attention mask
/// (`SelfAttentionBlock`: token_mask.unsqueeze(1) × ones) hides padded KEYS from every query, while
/// padded QUERY rows only produce outputs at padded positions; and (2) as keys/values of
/// `retrieve_cond` in every RIN block, masked by `return_cond_mask` = [ones for time/rewards/registers,
/// text_tokens_mask]. No other layer mixes tokens (norms, MLPs and `map_text_tokens` act per token), so
/// a padded position never reaches a real token or the latents, whatever its value.
public final class ReleasePipeline {
    public let folder: ReleaseFolder

    public struct Settings: Sendable {
        public var steps: Int
        public var guidance: Double
        public var rewardTargets: [String: Double] = [:]
        public var negativeRewardTargets: [String: Double] = [:]
        public var numImagesPerPrompt = 1
        public var seed: UInt64 = 0

        public init(steps: Int, guidance: Double) {
            self.steps = steps
            self.guidance = guidance
        }
    }

    public init(folder: ReleaseFolder) {
        self.folder = folder
    }

    public var config: MIROPipelineConfig { folder.config }
    public var rewardKeys: [String] { folder.model.config.coherenceKeys }
    /// `sampler_defaults.num_steps`, else the pipeline's default 50.
    public var defaultSteps: Int { config.samplerDefaults?.numSteps ?? 50 }
    /// `sampler_defaults.guidance_scale`, else the pipeline's default 7.
    public var defaultGuidance: Double { config.samplerDefaults?.guidanceScale ?? 7 }
    public var maxTextLength: Int { config.maxTextLen ?? 77 }
    /// `config["data_resolution"]`: the latent side.
    public var resolution: Int { config.dataResolution ?? folder.model.config.dataSize }

    /// Default settings of this folder (steps and guidance from `sampler_defaults`).
    public func settings() -> Settings { Settings(steps: defaultSteps, guidance: defaultGuidance) }

    /// Reads a prompt embedding `.npy`: (n_tokens, D) like the `flan_t5_xl_embeddings.npy` members of the
    /// enriched shards, or (1, n_tokens, D); float16/32/64. Returns (n, D) float32.
    public func loadTextEmbedding(_ url: URL) throws -> Tensor {
        var e: Tensor
        do {
            e = try TensorFiles.loadNPY(url)
        } catch {
            throw InputError("cannot read the text embedding \(url.path): \(error)")
        }
        let d = folder.model.config.labelDim
        guard e.dtype.isFloatingPoint else { throw InputError("\(url.path): expected a float array, got \(e.dtype)") }
        if e.rank == 3 && e.size(0) == 1 { e = try e.squeezed(0) }
        guard e.rank == 2, e.size(0) >= 1 else {
            throw InputError("\(url.path): expected shape (n_tokens, \(d)) or (1, n_tokens, \(d)), got \(e.shape)")
        }
        guard e.size(1) == d else {
            throw InputError("\(url.path): token width \(e.size(1)) does not match the model's label_dim \(d)")
        }
        return try e.to(.float32)
    }

    /// `_encode_prompts` with padding="max_length", truncation=True: the embedding (n, D) zero-padded or
    /// truncated to `max_text_len`, and its mask; each (B, L, D) / (B, L), B = `copies`.
    public func promptTokens(_ embedding: Tensor, copies: Int = 1) throws -> (text: Tensor, mask: Tensor) {
        let length = maxTextLength
        let n = min(embedding.size(0), length)
        let kept = try embedding.slice(0, 0, n).to(.float32)
        let text = try kept.padded([0, 0, 0, length - n]).unsqueezed(0)
        let mask = try Tensor((0..<length).map { $0 < n }, shape: [1, length])
        // emb.repeat_interleave(num_images_per_prompt, dim=0) of a single prompt
        return (try text.expanded([copies, length, embedding.size(1)]).contiguous(),
                try mask.expanded([copies, length]).contiguous())
    }

    /// Throws an `InputError` naming the valid keys for unknown reward names, or for values outside [0, 1].
    public func validate(_ targets: [String: Double], option: String) throws {
        try RewardTargets.validate(targets, keys: rewardKeys, option: option)
    }

    /// The initial noise x_N of `settings` (B = numImagesPerPrompt).
    public func noise(_ settings: Settings) throws -> Tensor {
        let c = folder.model.config.numInputChannels
        // torch.randn(B, 4, res, res, dtype=torch.float32, generator=torch.Generator().manual_seed(seed))
        return try Tensor.randn([settings.numImagesPerPrompt, c, resolution, resolution], generator: Generator(seed: settings.seed))
    }

    /// The Euler sampler of one prompt embedding (n, D), ready to iterate (a `Sequence` of steps).
    public func sampler(textEmbedding: Tensor, settings: Settings) throws -> EulerSampler {
        guard settings.steps >= 1 else { throw InputError("steps must be at least 1, got \(settings.steps)") }
        guard settings.numImagesPerPrompt >= 1 else { throw InputError("num_images_per_prompt must be at least 1") }
        try SamplingChecks.guidance(settings.guidance)
        try validate(settings.rewardTargets, option: "reward targets")
        try validate(settings.negativeRewardTargets, option: "negative reward targets")
        let b = settings.numImagesPerPrompt
        let (text, mask) = try promptTokens(textEmbedding, copies: b)
        // uncond_emb.unsqueeze(0).expand(B, -1, -1); torch.ones(B, n_u, dtype=torch.bool)
        let negative = try folder.uncondEmbedding.unsqueezed(0)
        let negativeMask = try Tensor.ones([1, negative.size(1)], dtype: .bool)
        return try EulerSampler(
            model: folder.model, noise: noise(settings), text: text, textMask: mask, negativeText: negative,
            negativeTextMask: negativeMask, rewardTargets: settings.rewardTargets,
            negativeRewardTargets: settings.negativeRewardTargets, steps: settings.steps,
            guidanceScale: settings.guidance, scheduler: config.scheduler ?? LinearScheduler())
    }

    /// Samples the normalised latents (B, C, res, res) float32 that the official pipeline hands to its
    /// postprocessing (VAE decode).
    public func generate(textEmbedding: Tensor, settings: Settings, progress: ((EulerStep) throws -> Void)? = nil) throws -> Tensor {
        let sampler = try sampler(textEmbedding: textEmbedding, settings: settings)
        let latents = try withoutGrad { try sampler.run(progress: progress).to(.float32) }
        let bad = folder.nonFiniteTensors
        try SamplingChecks.requireFinite(latents, cause: bad.isEmpty
            ? "guidance \(settings.guidance) with \(settings.steps) steps diverged; try a smaller --guidance"
            : "the folder's weights are not finite (NaN or infinity in \(bad.joined(separator: ", ")))")
        return latents
    }
}
