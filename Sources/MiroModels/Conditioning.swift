// Port of the conditioning batch keys of miro/models/networks/rin.py and miro/pipeline.py (miro-t2i 0.1.4):
// text tokens + mask + reward values (method §4.4, §7.3).

import MiroEngine

/// What a MIRO network is conditioned on besides x and γ (method §4.4): text-encoder tokens with
/// their padding mask, and one value per reward.
///
/// - `text`: (B, n, label_dim) token embeddings (cast to float32 first, as the official `.float()`).
/// - `textMask`: (B, n) bool, true = real token (non-bool masks are read as `≠ 0`).
/// - `rewards`: (B, K) target values in [0, 1] in the order of `MIROConfig.coherenceKeys`;
///   NaN marks a missing reward (training: embedded as the value 0; inference: a zero embedding).
public struct MIROConditioning: Sendable {
    public var text: Tensor
    public var textMask: Tensor
    public var rewards: Tensor
    /// The network's condition tokens for this text and these rewards (`MIRONetwork.encoding`), when already
    /// computed: in eval mode they do not change from one sampling step to the next, so the sampler computes them
    /// once instead of running the text transformer at every step. The transforms below except `stacked` and `rows`
    /// drop it.
    public var encoded: Tensor?
    /// Training mode: the reward-dropout keep mask (B, K), float, already drawn — for a batch whose rows run on several
    /// threads, which must not each draw from one generator. Nil: the network draws it from its dropout generator.
    /// The transforms below except `rows` drop it.
    public var rewardKeep: Tensor?

    public init(text: Tensor, textMask: Tensor, rewards: Tensor, encoded: Tensor? = nil, rewardKeep: Tensor? = nil) {
        self.text = text
        self.textMask = textMask
        self.rewards = rewards
        self.encoded = encoded
        self.rewardKeep = rewardKeep
    }

    public var batchSize: Int { text.size(0) }

    /// Rows `range` of the batch (text, mask, rewards, and the condition tokens and reward keep mask when present).
    public func rows(_ range: Range<Int>) throws -> MIROConditioning {
        try mappingRows { try $0.slice(0, range.lowerBound, range.upperBound) }
    }

    /// The rows at `index` (a 1-D int64 tensor), in its order.
    public func selecting(_ index: Tensor) throws -> MIROConditioning {
        try mappingRows { try $0.indexSelect(0, index.to(device: $0.device)) }
    }

    /// `transform` applied to each tensor that has one row per batch element.
    private func mappingRows(_ transform: (Tensor) throws -> Tensor) throws -> MIROConditioning {
        try MIROConditioning(text: transform(text), textMask: transform(textMask), rewards: transform(rewards),
                             encoded: encoded.map(transform), rewardKeep: rewardKeep.map(transform))
    }

    /// Rows of both, stacked along the batch (the CFG batch: positive rows first).
    public static func stacked(_ a: MIROConditioning, _ b: MIROConditioning) throws -> MIROConditioning {
        var encoded: Tensor? = nil
        if let ea = a.encoded, let eb = b.encoded { encoded = try Tensor.cat([ea, eb]) }
        return try MIROConditioning(text: Tensor.cat([a.text, b.text]), textMask: Tensor.cat([a.textMask, b.textMask]),
                                    rewards: Tensor.cat([a.rewards, b.rewards]), encoded: encoded)
    }

    /// Text padded with zero tokens (mask false) up to `length` tokens; unchanged when already that long.
    public func paddingText(to length: Int) throws -> MIROConditioning {
        let n = text.size(1)
        guard length > n else { return self }
        // torch.cat([emb, torch.zeros(B, length - n, D)], dim=1); masks padded with False
        return try MIROConditioning(text: text.padded([0, 0, 0, length - n]),
                                    textMask: textMask.to(.bool).padded([0, length - n], value: 0), rewards: rewards)
    }

    /// The text cut after the last token any row attends to (at least one token is kept).
    ///
    /// Padding tokens enter the network only as masked attention keys (the text transformer's self-attention and the
    /// RIN blocks' cross-attention to the conditioning), so without them every output is the same up to float
    /// rounding — and their work is skipped: T5 text is padded to 256 tokens, real captions are often a fifth of
    /// that, and the text transformer's attention grows with the square of the length. The official code keeps
    /// the padding; the trainer and the sampler call this once per batch (one read of the mask on the host).
    public func trimmingPadding() throws -> MIROConditioning {
        let n = text.size(1)
        guard n > 1 else { return self }
        let used = try textMask.ne(0).any([0]).to(.float32).floats()
        let keep = max(1, (used.lastIndex { $0 != 0 } ?? 0) + 1)
        guard keep < n else { return self }
        return try MIROConditioning(text: text.slice(1, 0, keep), textMask: textMask.slice(1, 0, keep), rewards: rewards)
    }

    /// Repeats a batch-1 conditioning to `batchSize` rows (text, mask and rewards).
    public func expanded(to batchSize: Int) throws -> MIROConditioning {
        guard self.batchSize != batchSize else { return self }
        guard self.batchSize == 1 else {
            throw MIROModelError.invalidInput("conditioning has batch \(self.batchSize), expected 1 or \(batchSize)")
        }
        let r = rewards.rank == 1 ? try rewards.unsqueezed(0) : rewards
        return try MIROConditioning(text: text.expanded([batchSize, -1, -1]).contiguous(),
                                    textMask: textMask.expanded([batchSize, -1]).contiguous(),
                                    rewards: r.expanded([batchSize, -1]).contiguous())
    }

    /// A (batchSize, K) reward tensor from named targets, as `MiroPipeline._build_coherence`:
    /// unnamed keys get `default` (1.0 for the positive branch, 0.0 for the negative one), names
    /// outside `keys` throw.
    public static func rewards(_ targets: [String: Double], keys: [String], default value: Double, batchSize: Int,
                               dtype: DType = .float32) throws -> Tensor {
        let unknown = targets.keys.filter { !keys.contains($0) }
        guard unknown.isEmpty else { throw MIROModelError.unknownRewardKeys(unknown, valid: keys) }
        let row = keys.map { targets[$0] ?? value }
        return try Tensor(row, shape: [1, keys.count]).to(dtype).expanded([batchSize, keys.count]).contiguous()
    }
}
