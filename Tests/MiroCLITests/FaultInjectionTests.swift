import Foundation
import Testing

/// Exact resume under faults: a run killed with SIGKILL at random moments (checkpoints are written every
/// step, so some kills land inside a write or a prune) and resumed each time ends bit for bit where an
/// uninterrupted run ends, and leaves no temporary file behind.
@Suite(.serialized) struct FaultInjectionTests {
    static let steps = 80

    static func args(_ run: URL) -> [String] {
        CLI.tinyTrain(run: run, steps: steps, extra: ["--save-every", "1", "--keep-last", "2", "--log-every", "5"])
    }

    @Test func killedAndResumedRunsMatchAnUninterruptedOne() throws {
        let dir = try CLI.scratch()
        let straight = dir.appendingPathComponent("straight"), killed = dir.appendingPathComponent("killed")
        let reference = try CLI.run(Self.args(straight))
        #expect(reference.status == 0, "\(reference.output)")

        var rng = SystemRandomNumberGenerator()
        var delays: [Double] = []
        var kills = 0
        for attempt in 0..<5 {
            let log = dir.appendingPathComponent("attempt\(attempt).log")
            let p = try BackgroundMiro(Self.args(killed) + (attempt == 0 ? [] : ["--resume"]), log: log)
            // Kill at a random moment once this attempt is training (its first loss line), so that a kill lands
            // in every attempt however fast the machine is; checkpoints are written every step, so some land
            // inside a write or a prune.
            _ = BackgroundMiro.poll(timeout: 60) { p.output.contains("| loss") || !p.process.isRunning }
            let delay = Double.random(in: 0.02...0.4, using: &rng)
            delays.append(delay)
            usleep(UInt32(delay * 1_000_000))
            if p.process.isRunning {
                p.signal(SIGKILL)
                kills += 1
            }
            p.wait()
        }
        let last = try CLI.run(Self.args(killed) + ["--resume"])
        #expect(last.status == 0, "kill delays \(delays): \(last.output)")
        #expect(kills >= 3, "too few kills landed (delays \(delays)): the run finished before them")

        let name = String(format: "step-%07d.safetensors", Self.steps)
        let a = try Data(contentsOf: straight.appendingPathComponent("checkpoints/\(name)"))
        let b = try Data(contentsOf: killed.appendingPathComponent("checkpoints/\(name)"))
        #expect(a == b, "the final checkpoint differs after \(kills) kills at \(delays) s")

        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: killed.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        // The metrics hold each logged step once.
        let steps = try String(contentsOf: killed.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { line -> Int? in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["step"] as? Int
            }
        #expect(steps == Array(stride(from: 5, through: Self.steps, by: 5)), "metrics.jsonl must hold each logged step once: \(steps)")
    }
}
