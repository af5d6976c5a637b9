/// ShapesEval's ceiling and floors, measured on images whose right score is known, and the detection threshold
/// chosen from them (docs/shapeseval-calibration.md).
///
/// - clean: renders of each prompt (`ShapesWorld.render`), which satisfy every fact: the ceiling, ≈ 1;
/// - shuffled: the same renders with their 4×4 patches permuted (seeded): the right colours in the right amounts,
///   but no shape — what a patch model's early mosaics look like. Nothing here is a shape, so the floor is 0;
/// - noise: uniform random pixels, the floor a detector passes trivially;
/// - blur r=1, r=2: the clean renders blurred (`ShapesDegradation.blur`, the generator's mildest and middle radius);
///   still the prompt's shapes, so a threshold that drops them is too strict.
///
/// Each set is detected once and judged at every threshold of `thresholds`, plus `ShapesEval.minConfidence`.
/// A benchmark whose floors are far above 0 credits what is not there. The rule for the threshold
/// (`recommendedThreshold`): the strictest one that costs the clean ceiling nothing — GenEval, too, thresholds
/// its detector at a fixed confidence.

import Foundation
import MiroData
import MiroImage

public struct ShapesEvalCalibration: Codable, Sendable {
    /// One image set's ShapesEval scores at one threshold.
    public struct Scores: Codable, Sendable, Equatable {
        public var overall: Double
        public var categories: [String: Double]
        /// Mean confidence of the verdicts that came out right (0 when none did).
        public var meanConfidence: Double
    }

    /// One image set, judged without a threshold and at `ShapesEval.minConfidence`.
    public struct ImageSet: Codable, Sendable {
        public var name: String
        /// "ceiling" (should score 1), "floor" (should score 0) or "degraded" (should stay near the ceiling).
        public var role: String
        public var unthresholded: Scores
        public var thresholded: Scores
        /// Overall score at each of `ShapesEvalCalibration.thresholds`.
        public var sweep: [Double]
    }

    public var perPrompt: Int
    public var seed: UInt64
    public var images: Int
    /// `ShapesEval.minConfidence` when this was measured.
    public var threshold: Float
    /// The thresholds of every set's `sweep`.
    public var thresholds: [Float]
    public var sets: [ImageSet]

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case perPromptOutOfRange(Int)
        public var description: String {
            switch self {
            case .perPromptOutOfRange(let k):
                return "images per prompt must be in 1…\(ShapesEvalCalibration.maxPerPrompt), got \(k)"
            }
        }
    }

    /// Each set holds 42 prompts × this many images in memory at once.
    public static let maxPerPrompt = 1_000
    public static let defaultPerPrompt = 16
    /// The side of the shuffled patches: the tiny RIN's patch size, the grid its mosaics are drawn on.
    public static let patch = 4
    public static let defaultThresholds: [Float] = [0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5]
    /// The generator's mildest and middle blur (it draws radius 1…3).
    public static let blurRadii = [1, 2]

    /// Renders and scores the four sets: `perPrompt` images of every ShapesEval prompt each.
    public static func run(perPrompt: Int = defaultPerPrompt, seed: UInt64 = 0,
                           thresholds: [Float] = defaultThresholds) throws -> ShapesEvalCalibration {
        guard (1...maxPerPrompt).contains(perPrompt) else { throw Failure.perPromptOutOfRange(perPrompt) }
        let prompts = ShapesEval.prompts()
        let clean = prompts.flatMap { p in
            (0..<perPrompt).map { j in ShapesWorld.render(p.spec, seed: derivedSeed(seed, salt: 0, index: j)) }
        }
        // Separate streams (distinct salts) so that no set's randomness repeats another's.
        let shuffled = clean.enumerated().map { i, image in
            shufflePatches(image, patch: patch, seed: derivedSeed(seed, salt: 0x5348_5546, index: i))
        }
        let noise = clean.indices.map { i in
            var rng = SplitMix64(seed: seed ^ 0x4E4F_4953, index: UInt64(i))
            return RGBImage(width: 32, height: 32, pixels: (0..<(32 * 32 * 3)).map { _ in Float(rng.uniform()) })
        }
        let blurred = blurRadii.map { r in ("blur r=\(r)", "degraded", clean.map { ShapesDegradation.blur(radius: r).apply(to: $0) }) }
        let sets: [ImageSet] = try ([("clean", "ceiling", clean), ("shuffled", "floor", shuffled),
                                     ("noise", "floor", noise)] + blurred).map { name, role, images in
            let detections = images.map { ShapeDetector.detect($0) }
            func scores(_ t: Float) throws -> Scores {
                let r = try ShapesEval.score(detections: detections, prompts: prompts, minConfidence: t)
                let right = r.perPrompt.flatMap { zip($0.correct, $0.confidence).filter(\.0).map { Double($0.1) } }
                return Scores(overall: r.overall, categories: r.categories,
                              meanConfidence: right.isEmpty ? 0 : right.reduce(0, +) / Double(right.count))
            }
            return ImageSet(name: name, role: role, unthresholded: try scores(0), thresholded: try scores(ShapesEval.minConfidence),
                            sweep: try thresholds.map { try scores($0).overall })
        }
        return ShapesEvalCalibration(perPrompt: perPrompt, seed: seed, images: clean.count, threshold: ShapesEval.minConfidence,
                                     thresholds: thresholds, sets: sets)
    }

    /// The seed of image `index` of the stream `salt` (one SplitMix64 draw: neighbouring indices get unrelated seeds).
    static func derivedSeed(_ seed: UInt64, salt: UInt64, index: Int) -> UInt64 {
        var rng = SplitMix64(seed: seed ^ salt, index: UInt64(index))
        return rng.next()
    }

    /// `image` with its `patch`×`patch` tiles permuted (Fisher–Yates on `SplitMix64(seed)`): every pixel kept,
    /// every shape cut into pieces. Sides that are not a multiple of `patch` keep their last partial row/column.
    public static func shufflePatches(_ image: RGBImage, patch: Int, seed: UInt64) -> RGBImage {
        let p = max(patch, 1), cols = image.width / p, rows = image.height / p
        guard cols * rows > 1 else { return image }
        var order = Array(0..<(cols * rows))
        var rng = SplitMix64(seed: seed)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(in: 0...i)) }
        var out = image
        for (destination, source) in order.enumerated() {
            let (dx, dy) = (destination % cols * p, destination / cols * p), (sx, sy) = (source % cols * p, source / cols * p)
            for y in 0..<p {
                for x in 0..<p {
                    let d = 3 * ((dy + y) * image.width + dx + x), s = 3 * ((sy + y) * image.width + sx + x)
                    for c in 0..<3 { out.pixels[d + c] = image.pixels[s + c] }
                }
            }
        }
        return out
    }

    /// The calibration as JSON with sorted keys (what `miro eval --calibrate --json` writes).
    public func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    /// The set named `name`, if measured.
    public func set(_ name: String) -> ImageSet? { sets.first { $0.name == name } }

    /// The largest threshold of the sweep at which the clean renders score what they score without one: as strict
    /// as possible without rejecting a verdict on images that are the prompt. Nil without a clean set.
    public var recommendedThreshold: Float? {
        guard let clean = set("clean"), let base = clean.sweep.first, thresholds.first == 0 else { return nil }
        return zip(thresholds, clean.sweep).filter { $0.1 >= base }.map(\.0).max()
    }

    /// Per category and overall, each set without a threshold → at `threshold`; then the overall threshold sweep.
    public func table() -> String {
        func cell(_ s: ImageSet, _ key: String?) -> String {
            let before = key.map { s.unthresholded.categories[$0] ?? 0 } ?? s.unthresholded.overall
            let after = key.map { s.thresholded.categories[$0] ?? 0 } ?? s.thresholded.overall
            return String(format: "%.3f → %.3f", before, after).padding(toLength: 18, withPad: " ", startingAt: 0)
        }
        func label(_ text: String) -> String { text.padding(toLength: 18, withPad: " ", startingAt: 0) }
        var lines = ["ShapesEval calibration: \(perPrompt) images per prompt (\(images) per set), seed \(seed); "
                     + "scores without a threshold → at ShapesEval.minConfidence \(threshold)",
                     label("") + sets.map { label($0.name) }.joined(), label("") + sets.map { label("(\($0.role))") }.joined()]
        for c in ShapesCategory.allCases { lines.append(label(c.rawValue) + sets.map { cell($0, c.rawValue) }.joined()) }
        lines.append(label("overall") + sets.map { cell($0, nil) }.joined())
        lines.append(label("mean confidence") + sets.map {
            label(String(format: "%.3f → %.3f", $0.unthresholded.meanConfidence, $0.thresholded.meanConfidence))
        }.joined())
        lines.append("overall by threshold:")
        lines.append(label("threshold") + sets.map { label($0.name) }.joined())
        for (i, t) in thresholds.enumerated() {
            lines.append(label(String(format: "%.2f", t)) + sets.map { label(String(format: "%.3f", $0.sweep[i])) }.joined())
        }
        if let t = recommendedThreshold {
            lines.append("strictest threshold that keeps the clean score: \(t) (ShapesEval.minConfidence: \(threshold))")
        }
        return lines.joined(separator: "\n")
    }
}
