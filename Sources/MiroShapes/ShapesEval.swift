/// A GenEval-style benchmark for the Shapes world: fixed prompts in GenEval's six categories, each image judged
/// right or wrong by `ShapeDetector` (all facts of its prompt must hold), accuracy per category, and the overall
/// score as the mean over categories (GenEval's summary).
///
/// As GenEval drops its detector's boxes below a confidence threshold before judging, detections below
/// `minConfidence` do not exist for the verdict (they neither satisfy an `exists` nor count). The threshold is set
/// from `ShapesEvalCalibration` (docs/shapeseval-calibration.md): clean renders of the prompts keep their score,
/// the same images with their 4×4 patches shuffled — mosaics, as a patch model draws early on — lose theirs.
///
/// Held-out split, so a score measures generalisation rather than recall of training captions:
/// - every benchmark prompt uses GenEval's frame "a photo of …", which the training generator never emits,
///   so no benchmark prompt string ever occurs in training;
/// - in the large categories (counting, position, color_attr) whole *meanings* are held out as well: a caption
///   whose `semanticKey` hashes (FNV-1a) below `heldOutPercent` is never generated for training, in any word
///   order or mismatch; the benchmark draws its prompts of those categories from that held-out set only;
/// - single_object (4 meanings), two_object (6) and colors (24) are too small to hold meanings out.

import MiroData
import MiroImage
import MiroRewards

public enum ShapesEval {
    public typealias Result = ShapesEvalResult

    /// Detections below this confidence are ignored by the verdicts (GenEval's detection threshold). Set from
    /// `ShapesEvalCalibration` (`miro eval --suite shapes --calibrate --per-prompt 16`): the strictest threshold of
    /// its sweep at which clean renders keep their full score. The fragments of patch-shuffled images sit below
    /// it (the detector's wholeness term scores them near 0). Scores made before it existed (no threshold, no
    /// wholeness term) are not comparable with scores made with it.
    public static let minConfidence: Float = 0.05

    /// Percentage of meanings held out of training, per category.
    public static let heldOutPercent: [ShapesCategory: UInt64] = [.counting: 20, .position: 10, .colorAttr: 15]

    /// Whether a caption meaning is reserved for the benchmark.
    public static func isHeldOut(_ spec: ShapesPromptSpec) -> Bool {
        guard let percent = heldOutPercent[spec.category] else { return false }
        return FNV1a.hash(spec.semanticKey) % 100 < percent
    }

    /// A benchmark prompt with what it asks for.
    public struct Prompt: Sendable, Hashable, Codable {
        public var prompt: String
        public var category: ShapesCategory
        public var spec: ShapesPromptSpec
        public var facts: [ShapeFact] { spec.facts }
    }

    /// The verdicts for one prompt's images.
    public struct PromptResult: Sendable, Hashable {
        public var prompt: String
        public var category: ShapesCategory
        /// One verdict per image of this prompt.
        public var correct: [Bool]
        /// Per image, the confidence its verdict was reached at: the lowest `FactCheck.matchConfidence` of the
        /// prompt's facts, 0 when the image is wrong.
        public var confidence: [Float] = []
        public var accuracy: Double { correct.isEmpty ? 0 : Double(correct.filter { $0 }.count) / Double(correct.count) }
    }

    /// The fixed prompt set: up to `perCategory` distinct meanings per category (single_object has only 4 and
    /// two_object 6, so the default set has 4 + 6 + 4 × 8 = 42 prompts),
    /// chosen by `seed`; the default seed 0 is the benchmark.
    public static func prompts(seed: UInt64 = 0, perCategory: Int = 8) -> [Prompt] {
        var rng = SplitMix64(seed: seed)
        var result: [Prompt] = []
        for category in ShapesCategory.allCases {
            var seen = Set<String>()
            var candidates: [ShapesPromptSpec] = []
            for spec in allSpecs(category) where isHeldOut(spec) == (heldOutPercent[category] != nil) {
                if seen.insert(spec.semanticKey).inserted { candidates.append(spec) }
            }
            // Fisher–Yates with our own generator, so the choice is the same everywhere.
            for i in stride(from: candidates.count - 1, to: 0, by: -1) {
                candidates.swapAt(i, rng.int(in: 0...i))
            }
            for spec in candidates.prefix(perCategory) {
                result.append(Prompt(prompt: ShapesTemplates.apply(ShapesTemplates.evaluation, spec.text),
                                     category: category, spec: spec))
            }
        }
        return result
    }

    /// Every caption meaning of a category the generator can produce (in a fixed order).
    static func allSpecs(_ category: ShapesCategory) -> [ShapesPromptSpec] {
        let shapes = ShapeKind.allCases, colors = ShapeColor.allCases
        let colored = shapes.flatMap { s in colors.map { ObjectSpec(s, $0) } }
        switch category {
        case .singleObject:
            return shapes.map { ShapesPromptSpec(category: category, objects: [ObjectSpec($0)]) }
        case .colors:
            return colored.map { ShapesPromptSpec(category: category, objects: [$0]) }
        case .counting:
            return (2...4).flatMap { n in colored.map { ShapesPromptSpec(category: category, objects: [$0], count: n) } }
        case .twoObject:
            return shapes.flatMap { a in shapes.filter { $0 != a }.map {
                ShapesPromptSpec(category: category, objects: [ObjectSpec(a), ObjectSpec($0)]) } }
        case .colorAttr:
            return colored.flatMap { a in colored.filter { $0.shape != a.shape && $0.color != a.color }.map {
                ShapesPromptSpec(category: category, objects: [a, $0]) } }
        case .position:
            return colored.flatMap { a in colored.filter { $0 != a }.flatMap { b in SpatialRelation.allCases.map {
                ShapesPromptSpec(category: category, objects: [a, b], relation: $0) } } }
        }
    }

    /// Judges `images` against `prompts`. With k images per prompt, images `[p·k, (p+1)·k)` belong to
    /// prompt p (GenEval generates 4 per prompt).
    public static func score(images: [RGBImage], prompts: [Prompt], options: ShapeDetector.Options = ShapeDetector.Options(),
                             minConfidence: Float = ShapesEval.minConfidence) throws -> Result {
        try score(detections: images.map { ShapeDetector.detect($0, options: options) }, prompts: prompts,
                  minConfidence: minConfidence)
    }

    /// Judges detections made beforehand (one list per image, grouped by prompt as in `score(images:)`), so that a
    /// calibration can judge one detection pass at several thresholds.
    public static func score(detections: [[DetectedShape]], prompts: [Prompt],
                             minConfidence: Float = ShapesEval.minConfidence) throws -> Result {
        guard !prompts.isEmpty, !detections.isEmpty, detections.count % prompts.count == 0 else {
            throw RewardError.countMismatch(what: "ShapesEval images per prompt", expected: prompts.count, got: detections.count)
        }
        let k = detections.count / prompts.count
        var perPrompt: [PromptResult] = []
        for (p, prompt) in prompts.enumerated() {
            let confidences = (0..<k).map { j in verdictConfidence(prompt, detections[p * k + j], minConfidence: minConfidence) }
            perPrompt.append(PromptResult(prompt: prompt.prompt, category: prompt.category,
                                          correct: confidences.map { $0 != nil }, confidence: confidences.map { $0 ?? 0 }))
        }
        var categories: [String: Double] = [:]
        for category in ShapesCategory.allCases {
            let verdicts = perPrompt.filter { $0.category == category }.flatMap(\.correct)
            guard !verdicts.isEmpty else { continue }
            categories[category.rawValue] = Double(verdicts.filter { $0 }.count) / Double(verdicts.count)
        }
        let present = ShapesCategory.allCases.compactMap { categories[$0.rawValue] }  // fixed summation order
        let overall = present.isEmpty ? 0 : present.reduce(0, +) / Double(present.count)
        return Result(overall: overall, categories: categories, perPrompt: perPrompt)
    }

    /// One image's verdict: nil when some fact fails once detections below `minConfidence` are dropped, otherwise
    /// the lowest confidence any fact was matched at.
    public static func verdictConfidence(_ prompt: Prompt, _ detections: [DetectedShape], minConfidence: Float) -> Float? {
        let kept = detections.filter { $0.confidence >= minConfidence }
        var lowest: Float = 1
        for fact in prompt.facts {
            guard let c = FactCheck.matchConfidence(fact, in: kept) else { return nil }
            lowest = min(lowest, c)
        }
        return lowest
    }
}

/// ShapesEval's scores (GenEval's summary: per-tag accuracy, overall = mean over tags).
public struct ShapesEvalResult: Sendable {
    /// Mean of the category accuracies.
    public var overall: Double
    /// Accuracy (fraction of correct images) per GenEval tag.
    public var categories: [String: Double]
    public var perPrompt: [ShapesEval.PromptResult]
}
