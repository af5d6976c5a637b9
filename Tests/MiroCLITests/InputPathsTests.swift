import Foundation
import Testing

/// Paths named by flags are checked before any work, with a message naming the flag and the path: outputs that
/// are files where a directory is needed (or the reverse), under a file, empty, or devices; checkpoints that are
/// devices; prompt files written on Windows.
@Suite(.serialized) struct InputPathsTests {
    /// One tiny trained checkpoint, shared by the tests that sample or evaluate for real.
    static let trained: Result<URL, Error> = Result {
        let run = try CLI.scratch("shared-run").appendingPathComponent("run")
        let r = try CLI.run(CLI.tinyTrain(run: run, steps: 1))
        guard r.status == 0 else { throw CLIFailure(output: r.output) }
        return run
    }

    struct CLIFailure: Error { let output: String }

    func expectUsageError(_ args: [String], naming words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try CLI.run(args)
        #expect(r.status == 64, "\(args): \(r.output)", sourceLocation: sourceLocation)
        for w in words { #expect(r.stderr.contains(w), "\(args) should say '\(w)': \(r.output)", sourceLocation: sourceLocation) }
        #expect(!r.output.contains("NSCocoaErrorDomain"), "\(r.output)", sourceLocation: sourceLocation)
    }

    @Test func evalOutputsAreCheckedBeforeTheEvaluation() throws {
        let ckpt = try Self.trained.get()
        let dir = try CLI.scratch()
        let file = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        // A directory where the JSON file goes; a JSON file under a file; a device; nothing at all.
        try expectUsageError(["eval", "--checkpoint", ckpt.path, "--per-prompt", "1", "--json", dir.path], naming: ["--json", dir.path])
        let under = file.appendingPathComponent("eval.json").path
        try expectUsageError(["eval", "--checkpoint", ckpt.path, "--per-prompt", "1", "--json", under], naming: ["--json", under])
        // A named pipe stands in for /dev/null: a binary without the check replaces what it writes to atomically (a
        // run of the old code as root replaced the machine's /dev/null with a regular file).
        let fifo = dir.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o644) == 0)
        try expectUsageError(["eval", "--checkpoint", ckpt.path, "--per-prompt", "1", "--denoise", fifo],
                             naming: ["--denoise", fifo, "not a regular file"])
        try expectUsageError(["eval", "--checkpoint", ckpt.path, "--per-prompt", "1", "--json", ""], naming: ["--json", "empty"])
        try expectUsageError(["eval", "--checkpoint", ckpt.path, "--per-prompt", "1", "--compare-to", dir.appendingPathComponent("none.json").path],
                             naming: ["--compare-to"])
    }

    @Test func evalStillWritesItsJSON() throws {
        let ckpt = try Self.trained.get()
        let json = try CLI.scratch().appendingPathComponent("new/folder/eval.json")
        let r = try CLI.run(["eval", "--checkpoint", ckpt.path, "--per-prompt", "1", "--eval-steps", "2", "--json", json.path])
        #expect(r.status == 0, "\(r.output)")
        #expect(FileManager.default.fileExists(atPath: json.path))
        // The same file as --compare-to, and the wrong --per-prompt for it, refused up front.
        let again = try CLI.run(["eval", "--checkpoint", ckpt.path, "--per-prompt", "2", "--compare-to", json.path])
        #expect(again.status == 64, "\(again.output)")
        #expect(again.stderr.contains("--per-prompt"), "\(again.output)")
    }

    @Test func outputDirectoriesThatAreFilesOrEmpty() throws {
        let dir = try CLI.scratch()
        let file = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        try expectUsageError(["sample", "--checkpoint", dir.path, "a red circle", "--out", file.path], naming: ["--out", file.path])
        try expectUsageError(["sample", "--checkpoint", dir.path, "a red circle", "--out", ""], naming: ["--out", "empty"])
        try expectUsageError(["demo", "--out", file.path], naming: ["--out", file.path])
        try expectUsageError(["demo", "--out", ""], naming: ["--out"])
        try expectUsageError(["experiment", "convergence", "--out", file.appendingPathComponent("sub").path], naming: ["--out"])
    }

    @Test func unwritableOutputDirectory() throws {
        guard getuid() != 0 else { return }  // root writes anywhere
        let dir = try CLI.scratch()
        let locked = dir.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked.path) }
        try expectUsageError(["eval", "--checkpoint", dir.path, "--json", locked.appendingPathComponent("e.json").path],
                             naming: ["--json", "not writable"])
    }

    @Test(arguments: ["sample", "eval"])
    func aDeviceIsNotACheckpoint(_ command: String) throws {
        let args = command == "sample" ? ["sample", "--checkpoint", "/dev/null", "a red circle"] : ["eval", "--checkpoint", "/dev/null"]
        try expectUsageError(args, naming: ["--checkpoint", "/dev/null", "not a checkpoint file or folder"])
        #expect(!(try CLI.run(args)).output.contains("permission"))
    }

    @Test func inspectRefusesDevicesAndDirectories() throws {
        try expectUsageError(["inspect", "/dev/null"], naming: ["/dev/null", "not a file"])
        try expectUsageError(["inspect", try CLI.scratch().path], naming: ["not a file"])
    }

    /// A prompt file saved on Windows (CRLF line ends, UTF-8 byte-order mark) samples its prompts.
    @Test func windowsPromptFile() throws {
        let ckpt = try Self.trained.get()
        let dir = try CLI.scratch()
        let file = dir.appendingPathComponent("prompts.txt")
        try Data([0xEF, 0xBB, 0xBF] + Array("# shapes\r\na red circle\r\n\r\ntwo blue squares\r\n".utf8)).write(to: file)
        let out = dir.appendingPathComponent("out")
        let r = try CLI.run(["sample", "--checkpoint", ckpt.path, "--prompt-file", file.path, "--steps", "2", "--seed", "1",
                             "--out", out.path])
        #expect(r.status == 0, "\(r.output)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        #expect(names.sorted() == ["a-red-circle.0.1.png", "two-blue-squares.0.2.png"], "\(names) \(r.output)")
    }

    @Test func emptyAndMissingPromptFiles() throws {
        let dir = try CLI.scratch()
        try expectUsageError(["sample", "--checkpoint", dir.path, "--prompt-file", dir.appendingPathComponent("none.txt").path],
                             naming: ["prompt file"])
    }
}
