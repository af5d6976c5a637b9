import Foundation
import Testing

/// `miro eval --suite shapes --calibrate`: ShapesEval's ceiling and floors without a model.
@Suite struct EvalCalibrateTests {
    @Test func calibratePrintsTheTableAndWritesJSON() throws {
        let json = try CLI.scratch().appendingPathComponent("out/calibration.json")
        let r = try CLI.run(["eval", "--suite", "shapes", "--calibrate", "--per-prompt", "1", "--json", json.path])
        #expect(r.status == 0, "\(r.output)")
        for word in ["clean", "shuffled", "noise", "blur r=1", "overall by threshold", "minConfidence"] {
            #expect(r.stdout.contains(word), "should print '\(word)': \(r.output)")
        }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any]
        #expect(object?["perPrompt"] as? Int == 1 && object?["images"] as? Int == 42)
        let sets = object?["sets"] as? [[String: Any]] ?? []
        #expect(sets.compactMap { $0["name"] as? String } == ["clean", "shuffled", "noise", "blur r=1", "blur r=2"])
    }

    @Test func calibrateRefusesModelFlagsAndEvalNeedsACheckpointOtherwise() throws {
        let dir = try CLI.scratch()
        for extra in [["--checkpoint", dir.path], ["--sweep"], ["--reward", "quality_score=1"]] {
            let r = try CLI.run(["eval", "--calibrate"] + extra)
            #expect(r.status == 64, "\(extra): \(r.output)")
            #expect(r.stderr.contains("--calibrate") && r.stderr.contains(extra[0]), "\(extra): \(r.output)")
        }
        let missing = try CLI.run(["eval", "--per-prompt", "1"])
        #expect(missing.status == 64, "\(missing.output)")
        #expect(missing.stderr.contains("--checkpoint"), "\(missing.output)")
        let bad = try CLI.run(["eval", "--calibrate", "--per-prompt", "0"])
        #expect(bad.status == 64 && bad.stderr.contains("--per-prompt"), "\(bad.output)")
        let dirAsJSON = try CLI.run(["eval", "--calibrate", "--per-prompt", "1", "--json", dir.path])
        #expect(dirAsJSON.status == 64 && dirAsJSON.stderr.contains("--json"), "\(dirAsJSON.output)")
    }
}
