import Foundation
import Testing
import MiroData
import MiroEval
import MiroPipeline
import MiroShapes
import MiroTraining

@Suite struct EvaluationComparisonTests {
    /// Two evaluations over two categories (two images each) with hand-computed means, differences and paired
    /// standard errors.
    static func evaluations() throws -> (ShapesEvaluation, ShapesEvaluation) {
        let json = { (overall: Double, correct: [Bool], q: [Float]) -> String in
            let c = correct.map { $0 ? "true" : "false" }.joined(separator: ",")
            let s = q.map { String($0) }.joined(separator: ",")
            return """
            {"overall": \(overall), "categories": {}, "rewards": {}, "images": 4, "step": 1, "seed": 7,
             "perImage": {"categories": ["single_object", "single_object", "colors", "colors"],
                          "correct": [\(c)], "rewards": {"q": [\(s)]}}}
            """
        }
        // A: single 1/2, colors 2/2 → 0.75; B: single 0/2, colors 1/2 → 0.25.
        let a = try JSONDecoder().decode(ShapesEvaluation.self, from: Data(json(0.75, [true, false, true, true], [0.5, 0.6, 0.7, 0.8]).utf8))
        let b = try JSONDecoder().decode(ShapesEvaluation.self, from: Data(json(0.25, [false, false, true, false], [0.4, 0.6, 0.6, 0.6]).utf8))
        return (a, b)
    }

    @Test func pairedDifferencesAndStandardErrors() throws {
        let (a, b) = try Self.evaluations()
        let cmp = try EvaluationComparison(a, against: b)
        #expect(cmp.rows.map(\.name) == ["ShapesEval overall", "q"])
        let overall = cmp.rows[0], q = cmp.rows[1]
        #expect(abs(overall.difference - 0.5) < 1e-12)
        // Per category the verdict differences are [1, 0] and [0, 1]: variance ½ each, over n = 2 → ¼ + ¼; over C² = 4.
        #expect(abs(overall.standardError - (0.5 as Double).squareRoot() / 2) < 1e-12)
        // q differences [0.1, 0, 0.1, 0.2]: mean 0.1, sample variance 0.02/3, s.e. √(0.02/3/4).
        #expect(abs(q.difference - 0.1) < 1e-6 && abs(q.value - 0.65) < 1e-6)
        #expect(abs(q.standardError - (0.02 / 3 / 4).squareRoot()) < 1e-6)
        #expect(q.verdict == "ahead" && overall.verdict == "within 2 s.e.")
        let swapped = try EvaluationComparison(b, against: a)
        #expect(swapped.rows[1].verdict == "behind")
        #expect(cmp.table(name: "miro", referenceName: "base").contains("+0.1000 ± 0.0408  ahead"), "\(cmp.table(name: "miro", referenceName: "base"))")
    }

    @Test func refusesEvaluationsThatCannotBePaired() throws {
        let (a, b) = try Self.evaluations()
        var otherSeed = b
        otherSeed.seed = 8
        #expect(throws: InputError.self) { try EvaluationComparison(a, against: otherSeed) }
        var old = b
        old.perImage = nil
        #expect(throws: InputError.self) { try EvaluationComparison(a, against: old) }
        var fewer = b
        fewer.perImage?.categories = ["single_object", "colors", "colors", "colors"]
        #expect(throws: InputError.self) { try EvaluationComparison(a, against: fewer) }
        // A truncated file: fewer verdicts than images used to trap on an index out of range.
        var truncated = b
        truncated.perImage?.correct = [true]
        #expect(throws: InputError.self) { try EvaluationComparison(a, against: truncated) }
        #expect(throws: InputError.self) { try EvaluationComparison(truncated, against: a) }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("eval.json")
        try Data("{\"overall\": 1".utf8).write(to: bad)
        #expect { try ShapesEvaluation.read(bad) } throws: { "\($0)".contains(bad.path) }
        #expect { try ShapesEvaluation.read(dir.appendingPathComponent("missing.json")) } throws: { "\($0)".contains("missing.json") }
        let good = dir.appendingPathComponent("a.json")
        try Data(try a.json().utf8).write(to: good)
        #expect(try ShapesEvaluation.read(good).perImage == a.perImage)
    }
}
