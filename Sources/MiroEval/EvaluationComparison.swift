import Foundation
import MiroData
import MiroPipeline
import MiroRewards
import MiroShapes

/// Two ShapesEval runs compared image by image: "does model A beat model B?" with its uncertainty.
///
/// `miro eval` draws the same prompts and the same noise (seed + chunk index) for every model of the same data
/// shape, so image i of one evaluation and image i of another share prompt and starting noise. The difference of
/// two means is then the mean of per-image differences, and its standard error comes from their spread — much
/// smaller than treating the two runs as independent, because the prompt-to-prompt and noise-to-noise variation
/// is common to both. ShapesEval overall is a mean of per-category accuracies, so its difference is the mean of
/// the per-category paired differences, with variance Σ_c var_c / n_c / C².
public struct EvaluationComparison: Sendable {
    public struct Row: Sendable {
        public var name: String
        public var value: Double
        public var reference: Double
        public var difference: Double { value - reference }
        /// Standard error of `difference` (paired).
        public var standardError: Double

        /// "ahead" / "behind" when the difference exceeds two standard errors, otherwise "within 2 s.e.".
        public var verdict: String {
            if difference > 2 * standardError { return "ahead" }
            if difference < -2 * standardError { return "behind" }
            return "within 2 s.e."
        }
    }

    /// ShapesEval overall first, then the rewards in name order.
    public var rows: [Row]
    public var images: Int

    /// Compares `evaluation` with `reference`; both must hold per-image scores for the same prompts, images per
    /// prompt and seed.
    public init(_ evaluation: ShapesEvaluation, against reference: ShapesEvaluation) throws {
        guard let a = evaluation.perImage, let b = reference.perImage else {
            throw InputError("cannot compare: an evaluation has no per-image scores "
                                          + "(written before they were kept); run miro eval --json again")
        }
        // A hand-edited or truncated --compare-to file: one verdict per image, or nothing to pair (never an index trap).
        guard a.correct.count == a.categories.count, b.correct.count == b.categories.count else {
            throw InputError("cannot compare: an evaluation's per-image verdicts (\(a.correct.count), \(b.correct.count)) "
                             + "do not match its images (\(a.categories.count), \(b.categories.count))")
        }
        guard a.categories == b.categories, evaluation.images == reference.images else {
            throw InputError("cannot compare: the evaluations used different prompts or images per prompt "
                                          + "(\(evaluation.images) vs \(reference.images) images)")
        }
        guard let seedA = evaluation.seed, let seedB = reference.seed, seedA == seedB else {
            throw InputError("cannot compare image by image: evaluation seeds differ or are unknown "
                                          + "(\(evaluation.seed.map(String.init) ?? "none") vs \(reference.seed.map(String.init) ?? "none"))")
        }
        var rows: [Row] = []
        // ShapesEval overall: per category, the paired difference of the 0/1 verdicts.
        let present = ShapesCategory.allCases.map(\.rawValue).filter { a.categories.contains($0) }
        var variance = 0.0
        for category in present {
            let idx = a.categories.indices.filter { a.categories[$0] == category }
            let d = idx.map { Double(a.correct[$0] ? 1 : 0) - Double(b.correct[$0] ? 1 : 0) }
            variance += Self.sampleVariance(d) / Double(d.count)
        }
        let c = Double(max(present.count, 1))
        rows.append(Row(name: "ShapesEval overall", value: evaluation.overall, reference: reference.overall,
                        standardError: variance.squareRoot() / c))
        for key in a.rewards.keys.sorted() {
            guard let x = a.rewards[key], let y = b.rewards[key], x.count == y.count, !x.isEmpty else { continue }
            let d = zip(x, y).map { Double($0) - Double($1) }
            rows.append(Row(name: key, value: Self.mean(x), reference: Self.mean(y),
                            standardError: (Self.sampleVariance(d) / Double(d.count)).squareRoot()))
        }
        self.rows = rows
        self.images = evaluation.images
    }

    public func table(name: String, referenceName: String) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        var lines = ["\(name) vs \(referenceName), image by image (\(images) images, same prompts and noise):",
                     "  " + pad("", 24) + pad(name, 10) + " " + pad(referenceName, 10) + " difference ± s.e."]
        for r in rows {
            lines.append("  " + pad(r.name, 24) + pad(String(format: "%.4f", r.value), 10) + " "
                         + pad(String(format: "%.4f", r.reference), 10) + " "
                         + String(format: "%+.4f ± %.4f  ", r.difference, r.standardError) + r.verdict)
        }
        return lines.joined(separator: "\n")
    }

    static func mean(_ x: [Float]) -> Double { x.isEmpty ? 0 : x.reduce(0) { $0 + Double($1) } / Double(x.count) }

    static func sampleVariance(_ d: [Double]) -> Double {
        guard d.count > 1 else { return 0 }
        let m = d.reduce(0, +) / Double(d.count)
        return d.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(d.count - 1)
    }
}
