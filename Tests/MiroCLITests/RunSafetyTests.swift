import Foundation
import Testing

/// `miro train` never loses work: an existing run is not overwritten, one run directory has one trainer,
/// signals save before exiting, interrupted writes leave nothing behind, a diverged run keeps its good
/// checkpoints, and `--resume` continues the run as it was.
@Suite(.serialized) struct RunSafetyTests {
    static func checkpoints(_ run: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path)) ?? []).sorted()
    }

    /// The reproduction: a copy of a run with checkpoints at 10 and 20, then a new run into it with
    /// --keep-last 1 — today it prunes the old step 20 and keeps nothing of its own. It must refuse.
    @Test func aNewRunRefusesADirectoryHoldingAnotherUnlessOverwrite() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        #expect(try CLI.run(CLI.tinyTrain(run: run, steps: 20, extra: ["--save-every", "10", "--keep-last", "5"])).status == 0)
        #expect(Self.checkpoints(run) == ["step-0000010.safetensors", "step-0000020.safetensors"])
        let before = try Data(contentsOf: run.appendingPathComponent("run.json"))

        var args = CLI.tinyTrain(run: run, steps: 12, extra: ["--save-every", "100", "--keep-last", "1"])
        args[args.firstIndex(of: "--seed")! + 1] = "2"
        let refused = try CLI.run(args)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.stderr.contains("already holds a run") && refused.stderr.contains("--resume")
                && refused.stderr.contains("--overwrite"), "\(refused.output)")
        #expect(Self.checkpoints(run) == ["step-0000010.safetensors", "step-0000020.safetensors"])
        #expect(try Data(contentsOf: run.appendingPathComponent("run.json")) == before)

        // --overwrite replaces the run's own files and nothing else.
        let mine = run.appendingPathComponent("notes.txt")
        try Data("keep me".utf8).write(to: mine)
        let replaced = try CLI.run(args + ["--overwrite"])
        #expect(replaced.status == 0, "\(replaced.output)")
        #expect(Self.checkpoints(run) == ["step-0000012.safetensors"])
        #expect(FileManager.default.fileExists(atPath: mine.path))
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        #expect(metrics.split(separator: "\n").count == 12, "metrics of the old run must be gone")
        #expect(try CLI.run(args + ["--overwrite", "--resume"]).status == 64)
    }

    /// A second trainer on the same run directory is refused while the first runs; a kill -9 releases the lock.
    @Test func oneTrainerPerRunDirectory() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        let first = try BackgroundMiro(CLI.tinyTrain(run: run, steps: 100000, extra: ["--save-every", "5"]),
                                       log: dir.appendingPathComponent("first.log"))
        #expect(BackgroundMiro.poll { !Self.checkpoints(run).isEmpty }, "\(first.output)")
        let second = try CLI.run(CLI.tinyTrain(run: run, steps: 100000) + ["--resume"])
        #expect(second.status == 1 && second.stderr.contains("in use by another training process"), "\(second.output)")
        first.signal(SIGKILL)
        first.wait()
        // The lock file stays behind, but the lock went with the process.
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(".lock").path))
        let step = Self.checkpoints(run).last.flatMap { Int($0.dropFirst(5).prefix(7)) } ?? 0
        let resumed = try CLI.run(CLI.tinyTrain(run: run, steps: step + 2) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
    }

    /// SIGINT, SIGTERM and SIGHUP finish the step, save and exit with 128 + the signal.
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143)), (SIGHUP, Int32(129))])
    func signalsSaveBeforeExiting(signal: Int32, status: Int32) throws {
        let dir = try CLI.scratch("signal\(signal)")
        let run = dir.appendingPathComponent("run")
        let p = try BackgroundMiro(CLI.tinyTrain(run: run, steps: 100000, extra: ["--save-every", "100000"]),
                                   log: dir.appendingPathComponent("log"))
        // Wait for training to log a step, then signal: nothing was saved yet (save-every is huge).
        #expect(BackgroundMiro.poll { p.output.contains("step      2 |") }, "\(p.output)")
        p.signal(signal)
        #expect(p.wait() == status, "\(p.output)")
        #expect(p.process.terminationReason == .exit, "must exit by itself after saving, not die of the signal")
        #expect(Self.checkpoints(run).count == 1, "\(p.output)")
        #expect(p.output.contains("resume with --resume"), "\(p.output)")
    }

    /// A kill during a checkpoint write leaves `.step-N.safetensors.<UUID>.tmp`; the next start removes it.
    @Test func staleTemporaryFilesAreRemovedAtResume() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        #expect(try CLI.run(CLI.tinyTrain(run: run, steps: 2)).status == 0)
        let checkpoints = run.appendingPathComponent("checkpoints")
        let stale = [checkpoints.appendingPathComponent(".step-0000003.safetensors.\(UUID().uuidString).tmp"),
                     run.appendingPathComponent("samples/.step-0000003.png.123.456.tmp")]
        let foreign = checkpoints.appendingPathComponent(".user-file.tmp")
        try FileManager.default.createDirectory(at: run.appendingPathComponent("samples"), withIntermediateDirectories: true)
        for f in stale + [foreign] { try Data(count: 1000).write(to: f) }
        let r = try CLI.run(CLI.tinyTrain(run: run, steps: 3) + ["--resume"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("removed 2 temporary file(s)"), "\(r.output)")
        for f in stale { #expect(!FileManager.default.fileExists(atPath: f.path), "\(f.lastPathComponent) is still there") }
        #expect(FileManager.default.fileExists(atPath: foreign.path), "a file the run did not write must stay")
    }

    /// A diverging run (learning rate 1e30) must not save or prune while its steps are non-finite.
    @Test func divergenceKeepsTheLastGoodCheckpoints() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        var args = CLI.tinyTrain(run: run, steps: 40, extra: ["--save-every", "1", "--keep-last", "3", "--optimizer", "adamw"])
        args[args.firstIndex(of: "--warmup")! + 1] = "0"
        let r = try CLI.run(args + ["--lr", "1e30"])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains("non-finite losses"), "\(r.output)")
        // Every checkpoint left holds finite weights: read them back through `miro inspect --json`.
        for name in Self.checkpoints(run) {
            let inspect = try CLI.run(["inspect", run.appendingPathComponent("checkpoints/\(name)").path])
            #expect(inspect.status == 0)
            #expect(!inspect.stdout.lowercased().contains("nan") && !inspect.stdout.contains("inf"), "\(name) holds non-finite values")
        }
        #expect(r.stderr.contains("The last checkpoint saved before it is") || Self.checkpoints(run).isEmpty, "\(r.output)")
    }

    /// --resume keeps the run's settings: flags that would change them are refused by name, the step target
    /// stays the stored one unless --steps is given, and the closing line counts the steps trained now.
    @Test func resumeDoesWhatWasAsked() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        #expect(try CLI.run(CLI.tinyTrain(run: run, steps: 4)).status == 0)

        let conflicting = try CLI.run(CLI.tinyTrain(run: run, steps: 4) + ["--resume", "--batch-size", "8", "--lr", "0.5"])
        #expect(conflicting.status == 1, "\(conflicting.output)")
        #expect(conflicting.stderr.contains("--batch-size") && conflicting.stderr.contains("--lr"), "\(conflicting.output)")

        // The same command again with --resume: same values, nothing to train (the target is the stored 4).
        var sameArgs = CLI.tinyTrain(run: run, steps: 4)
        sameArgs.removeSubrange(sameArgs.firstIndex(of: "--steps")!...sameArgs.firstIndex(of: "--steps")! + 1)
        let same = try CLI.run(sameArgs + ["--resume"])
        #expect(same.status == 0, "\(same.output)")
        #expect(same.output.contains("step 4 of 4") && same.output.contains("trained 0 steps"), "\(same.output)")
        #expect(Self.checkpoints(run).last == "step-0000004.safetensors")

        let more = try CLI.run(CLI.tinyTrain(run: run, steps: 6) + ["--resume"])
        #expect(more.status == 0 && more.output.contains("steps 4 → 6") && more.output.contains("trained 2 steps (steps 5–6)"),
                "\(more.output)")
    }
}
