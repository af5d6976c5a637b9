import Foundation
import Testing

/// `miro export --overwrite` replaces only a previous export: never the run being exported, a folder
/// containing it (`.`), or any other non-empty folder.
@Suite(.serialized) struct ExportOverwriteTests {
    @Test func overwriteRefusesTheRunItsParentAndForeignFolders() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        let train = try CLI.run(CLI.tinyTrain(run: run, steps: 1))
        #expect(train.status == 0, "\(train.output)")
        let checkpoint = run.appendingPathComponent("checkpoints/step-0000001.safetensors")
        for out in [run.path, ".", dir.path, run.appendingPathComponent("checkpoints").path] {
            let r = try CLI.run(["export", "--checkpoint", run.path, "--out", out, "--overwrite"], in: dir)
            #expect(r.status == 1, "\(out): \(r.output)")
            #expect(r.stderr.contains("refusing to overwrite"), "\(out): \(r.output)")
            #expect(FileManager.default.fileExists(atPath: checkpoint.path), "\(out) destroyed the run")
        }
        let mine = dir.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: mine, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: mine.appendingPathComponent("notes.txt"))
        let foreign = try CLI.run(["export", "--checkpoint", run.path, "--out", mine.path, "--overwrite"])
        #expect(foreign.status == 1 && foreign.stderr.contains("notes.txt"), "\(foreign.output)")
        #expect(FileManager.default.fileExists(atPath: mine.appendingPathComponent("notes.txt").path))
    }

    @Test func overwriteReplacesAPreviousExport() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        #expect(try CLI.run(CLI.tinyTrain(run: run, steps: 1)).status == 0)
        let out = dir.appendingPathComponent("exported")
        let first = try CLI.run(["export", "--checkpoint", run.path, "--out", out.path])
        #expect(first.status == 0, "\(first.output)")
        let again = try CLI.run(["export", "--checkpoint", run.path, "--out", out.path])
        #expect(again.status == 1 && again.stderr.contains("--overwrite"), "\(again.output)")
        let replaced = try CLI.run(["export", "--checkpoint", run.path, "--out", out.path, "--overwrite", "--raw"])
        #expect(replaced.status == 0, "\(replaced.output)")
        let config = try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("\"weights\": \"raw\""))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["exported", "run"])
    }
}
