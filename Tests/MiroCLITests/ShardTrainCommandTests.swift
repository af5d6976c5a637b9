import Foundation
import Testing

/// `miro train --data` over shards a user really has: a renamed bins cache, garbage tars among the shards, a
/// shuffle buffer larger than the data.
@Suite(.serialized) struct ShardTrainCommandTests {
    /// A copy of the fixture shards with their bins cache, built by `miro bins`.
    static func shardsWithBins() throws -> (dir: URL, bins: URL) {
        let dir = try CLI.scratch("shards")
        for name in try FileManager.default.contentsOfDirectory(atPath: BinsCommandTests.fixtureShards.path) where name.hasSuffix(".tar") {
            try FileManager.default.copyItem(at: BinsCommandTests.fixtureShards.appendingPathComponent(name),
                                             to: dir.appendingPathComponent(name))
        }
        let r = try CLI.run(["bins", dir.path])
        #expect(r.status == 0, "\(r.output)")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("coherence_bins_") })
        return (dir, dir.appendingPathComponent(name))
    }

    static func train(run: URL, data: URL, bins: URL, extra: [String] = []) -> [String] {
        ["train", "--run", run.path, "--data", data.path, "--bins", bins.path, "--steps", "1", "--batch-size", "4",
         "--warmup", "1", "--sample-every", "0", "--log-every", "1", "--seed", "5", "--threads", "1", "--workers", "1",
         "--network", #"{"data_dim": 16, "num_latents": 8, "latents_dim": 32, "num_blocks": 1, "num_processing_layers": 1, "read_write_heads": 2, "compute_heads": 2}"#]
            + extra
    }

    @Test func aRenamedBinsCacheSaysWhatToDoWithTheFlagsThatExist() throws {
        let (dir, bins) = try Self.shardsWithBins()
        let renamed = dir.appendingPathComponent("my-bins.json")
        try FileManager.default.moveItem(at: bins, to: renamed)
        let r = try CLI.run(Self.train(run: dir.appendingPathComponent("run"), data: dir, bins: renamed))
        #expect(r.status == 1, "\(r.output)")
        #expect(r.stderr.contains(renamed.path), "\(r.output)")
        #expect(r.stderr.contains("--bins") && r.stderr.contains("coherence_bins_") && r.stderr.contains("miro bins"), "\(r.output)")
        #expect(!r.stderr.contains("pass numBins"), "\(r.output)")
    }

    @Test func garbageTarsAndAnOversizedBufferDoNotStopTraining() throws {
        let (dir, bins) = try Self.shardsWithBins()
        try BinsCommandTests.garbage(4096, seed: 4).write(to: dir.appendingPathComponent("shard-000006.tar"))
        try Data().write(to: dir.appendingPathComponent("shard-000007.tar"))
        let run = dir.appendingPathComponent("run")
        let r = try CLI.run(Self.train(run: run, data: dir, bins: bins, extra: ["--shuffle-buffer", "5000"]))
        #expect(r.status == 0, "\(r.output)")
        #expect(r.stderr.contains(dir.appendingPathComponent("shard-000006.tar").path) && r.stderr.contains("not a tar archive"), "\(r.output)")
        #expect(r.stderr.contains("skipped 2 of 8 shards"), "\(r.output)")
        #expect(r.stderr.contains("shuffle buffer is larger than the data"), "\(r.output)")
        #expect(!r.output.unicodeScalars.contains { $0 == "\u{FFFD}" || ($0.value < 0x20 && $0 != "\n" && $0 != "\r" && $0 != "\t" && $0 != "\u{1B}") },
                "unprintable bytes in the output")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoints/step-0000001.safetensors").path))
    }
}
