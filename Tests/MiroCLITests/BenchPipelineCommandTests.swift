import Foundation
import Testing

/// `miro bench pipeline` at the tiny size (the full size needs ~7 GB and minutes): the JSON the comparison script
/// reads, and flags outside their ranges refused before any work.
@Suite(.serialized) struct BenchPipelineCommandTests {
    @Test func tinyRunPrintsTheKeysTheScriptReads() throws {
        let r = try CLI.run(["bench", "pipeline", "--size", "tiny", "--threads", "1", "--json"])
        #expect(r.status == 0, "\(r.output)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["impl"] as? String == "swift")
        #expect(object?["order"] as? [String] == ["t5", "miro", "vae"])
        #expect(object?["peak_rss_mb"] is Double)
        let stages = object?["stages"] as? [String: [String: Any]]
        for name in ["t5", "miro", "vae"] {
            let s = stages?[name]
            #expect(s?["seconds"] is Double, "\(name)")
            #expect(s?["rss_growth_mb"] is Double && s?["peak_mb"] is Double, "\(name)")
            #expect(s?["finite"] as? Bool == true, "\(name)")
        }
        #expect(stages?["miro"]?["steps"] as? Int == 3)
    }

    @Test func textOutputHasOneLinePerStage() throws {
        let r = try CLI.run(["bench", "pipeline", "--size", "tiny", "--threads", "1", "--stages", "vae,t5"])
        #expect(r.status == 0, "\(r.output)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("stage | ") }.map { $0.split(separator: "|")[1].trimmingCharacters(in: .whitespaces) }
                == ["vae", "t5"])
        #expect(lines.last?.hasPrefix("result | swift | vae ") == true)
    }

    @Test(arguments: [(["--stages", "t5,foo"], "--stages"), (["--stages", "t5,t5"], "--stages"), (["--stages", ","], "--stages"),
                      (["--steps", "0"], "--steps"), (["--prompt-tokens", "78"], "--prompt-tokens"),
                      (["--size", "huge"], "--size"), (["--t5-dtype", "fp16"], "--t5-dtype"), (["--t5-runs", "0"], "--t5-runs"), (["--threads", "0"], "--threads")])
    func badFlags(_ flags: [String], _ named: String) throws {
        let r = try CLI.run(["bench", "pipeline"] + flags)
        #expect(r.status == 64, "\(flags): \(r.output)")
        #expect(r.stderr.contains(named), "\(flags): \(r.output)")
    }
}
