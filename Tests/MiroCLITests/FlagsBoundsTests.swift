import Foundation
import Testing

/// Numeric flags outside their documented ranges are usage errors (exit 64, the flag named), reported before any
/// work: no overflow trap, no allocation sized by an absurd value, no silent clamp, no run with 100k threads.
@Suite(.serialized) struct FlagsBoundsTests {
    /// Asserts a usage error that names `flag`.
    func expectUsageError(_ args: [String], naming flag: String, in dir: URL? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try CLI.run(args, in: dir)
        #expect(r.status == 64, "\(args): \(r.output)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(flag), "\(args) should name \(flag): \(r.output)", sourceLocation: sourceLocation)
    }

    /// A directory standing in for a checkpoint: the checks run before anything is loaded.
    func checkpointDir() throws -> URL { try CLI.scratch("checkpoint") }

    @Test(arguments: ["9223372036854775807", "1000000", "0"])
    func sampleBestOf(_ value: String) throws {
        let ckpt = try checkpointDir()
        try expectUsageError(["sample", "--checkpoint", ckpt.path, "a red circle", "--best-of", value], naming: "--best-of")
    }

    @Test(arguments: ["1000000000", "9223372036854775807", "0"])
    func sampleImagesPerPrompt(_ value: String) throws {
        let ckpt = try checkpointDir()
        try expectUsageError(["sample", "--checkpoint", ckpt.path, "a red circle", "-n", value], naming: "-n")
    }

    @Test func sampleImagesAndCandidatesAreBoundedTogether() throws {
        let dir = try CLI.scratch()
        let file = dir.appendingPathComponent("prompts.txt")
        try Data((1...20).map { "prompt \($0)" }.joined(separator: "\n").utf8).write(to: file)
        // 20 prompts × 10000 images each: every flag is in range, the product is not.
        try expectUsageError(["sample", "--checkpoint", dir.path, "--prompt-file", file.path, "-n", "10000"], naming: "-n")
        try expectUsageError(["sample", "--checkpoint", dir.path, "--prompt-file", file.path, "-n", "1000", "--best-of", "1000"],
                             naming: "--best-of")
    }

    @Test(arguments: [["--steps", "9223372036854775807"], ["--guidance-start=-1"], ["--guidance-start", "5", "--guidance-end", "2"]])
    func sampleSteps(_ flags: [String]) throws {
        let ckpt = try checkpointDir()
        try expectUsageError(["sample", "--checkpoint", ckpt.path, "a red circle"] + flags, naming: flags[0].split(separator: "=")[0].description)
    }

    @Test(arguments: ["9223372036854775807", "1000000000", "0"])
    func evalPerPrompt(_ value: String) throws {
        let ckpt = try checkpointDir()
        try expectUsageError(["eval", "--checkpoint", ckpt.path, "--per-prompt", value], naming: "--per-prompt")
    }

    @Test(arguments: [["--eval-steps", "9223372036854775807"], ["--sweep", "--sweep-images", "9223372036854775807"]])
    func evalCounts(_ flags: [String]) throws {
        let ckpt = try checkpointDir()
        try expectUsageError(["eval", "--checkpoint", ckpt.path] + flags, naming: flags.last(where: { $0.hasPrefix("--") })!)
    }

    /// `--threads` through the one ThreadOptions check: bench (block), bench train, experiment convergence.
    @Test(arguments: ["3000000000", "100000", "0", "-4", "9223372036854775807"])
    func threads(_ value: String) throws {
        for command in [["bench"], ["bench", "block"], ["bench", "train", "--preset", "tiny"], ["experiment", "convergence"]] {
            try expectUsageError(command + ["--threads=\(value)"], naming: "--threads")
        }
    }

    @Test func benchSizes() throws {
        try expectUsageError(["bench", "--batch", "9223372036854775807"], naming: "--batch")
        // Each in range, the activations (4096 × 65536 × 65536 floats) not.
        try expectUsageError(["bench", "--batch", "4096", "--tokens", "65536", "--dim", "65536", "--heads", "1"], naming: "--batch")
        try expectUsageError(["bench", "train", "--batch", "9223372036854775807"], naming: "--batch")
        try expectUsageError(["bench", "train", "--text-tokens", "9223372036854775807"], naming: "--text-tokens")
    }

    @Test func trainWarmupMustLieWithinTheSteps() throws {
        let run = try CLI.scratch().appendingPathComponent("run")
        // Used to train one step and trap on `step - warmupSteps` (overflow) at the second.
        try expectUsageError(CLI.tinyTrain(run: run, steps: 2, extra: ["--warmup=-9223372036854775808"]), naming: "--warmup")
        try expectUsageError(CLI.tinyTrain(run: run, steps: 2, extra: ["--warmup", "3"]), naming: "--warmup")
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoints").path))
    }

    @Test(arguments: [["--dataset-size", "9223372036854775807"], ["--steps", "9223372036854775807"],
                      ["--batch-size", "9223372036854775807"]])
    func trainSizes(_ flags: [String]) throws {
        let run = try CLI.scratch().appendingPathComponent("run")
        try expectUsageError(CLI.tinyTrain(run: run, steps: 2, extra: flags), naming: flags[0])
    }

    @Test func experimentCounts() throws {
        try expectUsageError(["experiment", "convergence", "--sweep-images", "9223372036854775807"], naming: "--sweep-images")
        try expectUsageError(["experiment", "convergence", "--warmup=-1"], naming: "--warmup")
    }

    @Test func demoCounts() throws {
        try expectUsageError(["demo", "--steps", "9223372036854775807"], naming: "--steps")
        try expectUsageError(["demo", "--minutes", "inf"], naming: "--minutes")
    }

    /// `--network` names the key whose value is out of range or of the wrong kind (not "not valid JSON").
    @Test(arguments: [#"{"data_dim": 1e20}"#, #"{"data_dim": 12.5}"#, #"{"data_dim": "wide"}"#, #"{"data_dim": 9223372036854775807}"#])
    func networkValues(_ json: String) throws {
        let run = try CLI.scratch().appendingPathComponent("run")
        let r = try CLI.run(CLI.tinyTrain(run: run, steps: 1) + ["--network", json])
        #expect(r.status == 64, "\(json): \(r.output)")
        #expect(r.stderr.contains("data_dim"), "\(json): \(r.output)")
        #expect(!r.stderr.contains("not valid JSON"), "\(json): \(r.output)")
    }

    @Test func networkFromAFileIsCheckedToo() throws {
        let dir = try CLI.scratch()
        let file = dir.appendingPathComponent("net.json")
        try Data(#"{"num_blocks": 1e300}"#.utf8).write(to: file)
        let r = try CLI.run(CLI.tinyTrain(run: dir.appendingPathComponent("run"), steps: 1) + ["--network", file.path])
        #expect(r.status == 64, "\(r.output)")
        #expect(r.stderr.contains("num_blocks"), "\(r.output)")
    }
}
