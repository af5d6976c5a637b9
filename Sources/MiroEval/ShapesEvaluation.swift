import Foundation
import MiroData
import MiroImage
import MiroPipeline
import MiroRewards
import MiroShapes

/// ShapesEval plus reward means for a model (the Shapes world's GenEval + reward table).
public struct ShapesEvaluation: Codable, Sendable {
    /// Mean of the per-category accuracies (GenEval's "overall").
    public var overall: Double
    public var categories: [String: Double]
    /// Mean of each Shapes reward over all generated images (scored against their prompts).
    public var rewards: [String: Double]
    /// Means of the quality reward's three factors ("sharpness", "noise", "blockiness"; 1 = no such defect).
    public var qualityFactors: [String: Double]? = nil
    public var images: Int
    public var step: Int
    /// The evaluation noise seed (`Settings.seed`); absent in evaluations written before it was kept.
    public var seed: UInt64? = nil
    /// Every image's scores, in generation order (prompt by prompt), so that two evaluations made with the same
    /// prompts and noise can be compared image by image (`EvaluationComparison`).
    public var perImage: PerImage? = nil

    public struct PerImage: Codable, Sendable, Equatable {
        /// ShapesEval category of each image's prompt.
        public var categories: [String]
        /// ShapesEval verdict of each image.
        public var correct: [Bool]
        /// reward → each image's score.
        public var rewards: [String: [Float]]
    }

    /// The most images per prompt `run` makes: it holds all of them (48 prompts × this) in memory at once.
    public static let maxPerPrompt = 1_000

    /// Generates `perPrompt` images (1…`maxPerPrompt`) for every ShapesEval prompt with `settings` and scores them.
    public static func run(_ pipeline: ShapesPipeline, settings: ShapesPipeline.Settings, perPrompt: Int = 4,
                           batch: Int = 64, progress: ((Int, Int) -> Void)? = nil) throws -> (ShapesEvaluation, [RGBImage]) {
        guard (1...maxPerPrompt).contains(perPrompt) else {
            throw InputError("images per prompt must be in 1…\(maxPerPrompt), got \(perPrompt)")
        }
        guard batch >= 1 else { throw InputError("the evaluation batch must be at least 1, got \(batch)") }
        let prompts = ShapesEval.prompts()
        let texts = prompts.flatMap { p in Array(repeating: p.prompt, count: perPrompt) }
        let images = try pipeline.generate(texts, settings: settings, batch: batch) { progress?($0, texts.count) }
        let result = try ShapesEval.score(images: images, prompts: prompts)
        let scores = try ShapesRewards.score(images: images, captions: texts)
        let means = scores.mapValues(\.mean)
        let perImage = PerImage(categories: result.perPrompt.flatMap { p in p.correct.map { _ in p.category.rawValue } },
                                correct: result.perPrompt.flatMap(\.correct), rewards: scores)
        return (ShapesEvaluation(overall: result.overall, categories: result.categories, rewards: means,
                                 qualityFactors: QualityReward.meanFactors(images), images: images.count,
                                 step: pipeline.step, seed: settings.seed, perImage: perImage), images)
    }

    /// `{"overall", "categories": {...}, "rewards": {name: mean}, ...}` with sorted keys.
    public func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    /// Reads a `json()` file, naming the file in errors.
    public static func read(_ url: URL) throws -> ShapesEvaluation {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw InputError("cannot read evaluation \(url.path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(ShapesEvaluation.self, from: data) } catch {
            throw InputError("\(url.path) is not a miro eval --json file: \(error)")
        }
    }

    /// A small aligned table.
    public func table(title: String) -> String {
        func row(_ indent: Int, _ name: String, _ value: String) -> String {
            String(repeating: " ", count: indent) + name.padding(toLength: 24 - indent, withPad: " ", startingAt: 0) + value
        }
        var lines = [title, row(2, "ShapesEval overall", String(format: "%.3f", overall))]
        for c in ShapesCategory.allCases {
            if let v = categories[c.rawValue] { lines.append(row(4, c.rawValue, String(format: "%.3f", v))) }
        }
        for (k, v) in rewards.sorted(by: { $0.key < $1.key }) { lines.append(row(2, k, String(format: "%.4f", v))) }
        if let f = qualityFactors {
            let parts = QualityReward.factorNames.compactMap { k in f[k].map { "\(k) " + String(format: "%.3f", $0) } }
            lines.append(row(4, "quality factors", parts.joined(separator: " · ")))
        }
        return lines.joined(separator: "\n")
    }
}

