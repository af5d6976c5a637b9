import MiroImage
import MiroRewards

/// Best-of-N sampling's choice (test-time scaling), shared by Shapes runs and official folders: the candidate with
/// the highest reward, the first one on ties.
public enum BestOfSelection {
    public struct Choice: Sendable, Equatable {
        /// Index of the chosen candidate among all candidates scored.
        public var index: Int
        public var score: Double
        /// Every score of its group, in candidate order.
        public var scores: [Double]
    }

    /// The index of the highest score (the first on ties); nil for none.
    public static func best<S: Collection>(_ scores: S) -> Int? where S.Element: Comparable, S.Index == Int {
        scores.indices.max { scores[$0] < scores[$1] }
    }

    /// One choice per group of `groupSize` consecutive candidates (the last group may be shorter).
    public static func choose(scores: [Double], groupSize: Int) -> [Choice] {
        stride(from: 0, to: scores.count, by: max(groupSize, 1)).map { start in
            let group = Array(scores[start..<min(start + max(groupSize, 1), scores.count)])
            let i = best(group) ?? 0
            return Choice(index: start + i, score: group[i], scores: group)
        }
    }

    /// Scores the 8-bit candidates of one prompt with `model` (the prompt as every caption) and chooses per group.
    public static func choose(_ images: [UInt8Image], caption: String, groupSize: Int, model: any RewardModel) throws -> [Choice] {
        let floats = try images.map { try RGBImage8(width: $0.width, height: $0.height, pixels: $0.bytes).rgbImage }
        let scores = try model.score(images: floats, captions: Array(repeating: caption, count: images.count))
        return choose(scores: scores.map(Double.init), groupSize: groupSize)
    }
}
