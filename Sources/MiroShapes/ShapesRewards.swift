/// The Shapes world's reward set: its "coherence_keys", in the fixed order that indexes MIRO's per-reward
/// position embeddings (as `clip_score, aesthetic_score, …` does for the web-data model).

import MiroImage
import MiroRewards

public enum ShapesRewards {
    /// Alignment (CLIP-like), quality (aesthetic-like), colourfulness, compressibility (DDPO's).
    public static let all: [any RewardModel] = [AlignmentReward(), QualityReward(), ColorfulnessReward(), CompressibilityReward()]

    /// `all.map(\.name)`: "alignment_score", "quality_score", "colorfulness_score", "compressibility_score".
    public static let keys: [String] = all.map(\.name)

    /// Every reward for every (image, caption) pair, keyed by reward name.
    public static func score(images: [RGBImage], captions: [String]) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for reward in all { out[reward.name] = try reward.score(images: images, captions: captions) }
        return out
    }
}
