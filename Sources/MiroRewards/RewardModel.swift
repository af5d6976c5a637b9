import MiroImage

/// A reward scorer: maps (image, caption) pairs to one scalar each, higher is better.
/// Every scorer of the project — the Shapes world's programmatic rewards here, neural scorers
/// later — sits behind this protocol, so that annotation, evaluation and best-of-N sampling do
/// not care which one they run.
public protocol RewardModel: Sendable {
    /// The conditioning key this reward trains under, e.g. "alignment_score" (official names end
    /// in `_score`: `clip_score`, `aesthetic_score`, ...).
    var name: String { get }
    func score(images: [RGBImage], captions: [String]) throws -> [Float]
}

extension RewardModel {
    /// The count check every scorer starts with: one caption per image.
    public func checkPairing(images: [RGBImage], captions: [String]) throws {
        guard images.count == captions.count else {
            throw RewardError.countMismatch(what: "\(name): images and captions", expected: images.count, got: captions.count)
        }
    }
}

/// A reward that scores one batch of images against several caption lists at once, computing the image side
/// (a CLIP or BLIP vision tower: most of the cost) once: `score(images:captionSets:)[k]` equals
/// `score(images:captions: captionSets[k])`. Annotation uses it for the original and the synthetic caption.
public protocol CaptionSetsRewardModel: RewardModel {
    func score(images: [RGBImage], captionSets: [[String]]) throws -> [[Float]]
}

/// A reward that looks at the image only (quality, colourfulness, compressibility): it scores one
/// image, and the caption-pairing batch method comes for free.
public protocol ImageRewardModel: RewardModel {
    func score(_ image: RGBImage) -> Float
}

extension ImageRewardModel {
    public func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try checkPairing(images: images, captions: captions)
        return images.map { score($0) }
    }
}

extension Array where Element == Float {
    /// The mean, accumulated in Double (reward tables average thousands of scores); 0 when empty.
    public var mean: Double { isEmpty ? 0 : reduce(0) { $0 + Double($1) } / Double(count) }
}
