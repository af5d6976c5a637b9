import Foundation
import Testing

/// The `miro` executable end to end: exit codes and messages of usage errors, a tiny training run.
@Suite(.serialized) struct CLIBasicsTests {
    @Test func usageErrorsExitWith64() throws {
        let r = try CLI.run(["train", "--steps", "0"])
        #expect(r.status == 64, "\(r.output)")
        #expect(r.stderr.contains("--steps"), "\(r.output)")
    }

    @Test func aTinyRunTrainsAndWritesItsCheckpoint() throws {
        let dir = try CLI.scratch()
        let run = dir.appendingPathComponent("run")
        let r = try CLI.run(CLI.tinyTrain(run: run, steps: 2))
        #expect(r.status == 0, "\(r.output)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoints/step-0000002.safetensors").path))
    }
}
