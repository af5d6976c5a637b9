/// "alignment_score": how well a caption describes its image, the Shapes world's CLIP score.
///
/// The caption is parsed back into facts (`ShapesPromptSpec.parse`), the image is read by `ShapeDetector`,
/// and the score is the mean graded fact score (`FactCheck.score`: 0.75–1 per satisfied fact, by detector
/// confidence; partial credit for half-right objects and near counts), times 1 − 0.05 per detected object the
/// caption does not mention (at most 4), since a caption that leaves things out describes the image less well.
/// A caption that names no shape scores 0.

import MiroImage
import MiroRewards

public struct AlignmentReward: RewardModel {
    public let name = "alignment_score"
    public var options: ShapeDetector.Options

    public init(options: ShapeDetector.Options = ShapeDetector.Options()) {
        self.options = options
    }

    public func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try checkPairing(images: images, captions: captions)
        return zip(images, captions).map { score($0, caption: $1) }
    }

    public func score(_ image: RGBImage, caption: String) -> Float {
        guard let spec = ShapesPromptSpec.parse(caption) else { return 0 }
        return score(image, spec: spec)
    }

    public func score(_ image: RGBImage, spec: ShapesPromptSpec) -> Float {
        let detections = ShapeDetector.detect(image, options: options)
        let facts = spec.facts
        let mean = facts.map { FactCheck.score($0, in: detections) }.reduce(0, +) / Float(max(facts.count, 1))
        let extra = min(FactCheck.unexplained(spec, detections), 4)
        return mean * (1 - 0.05 * Float(extra))
    }
}
