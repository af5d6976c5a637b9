import Foundation
import MiroData
import MiroEngine
import MiroImage
import MiroIO
import MiroVAE
import Testing

/// `miro annotate` / `miro prepare` as child processes: SIGKILL once the first shard's marker exists, rerun, and
/// compare with an uninterrupted run byte for byte.
@Suite(.serialized)
struct PrepCommandTests {
    /// `shards` tars of `perShard` samples with `side`² PNGs, captions and JSON.
    static func dataset(in dir: URL, shards: Int, perShard: Int, side: Int) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for s in 0..<shards {
            var members: [(name: String, data: [UInt8])] = []
            for i in 0..<perShard {
                let key = String(format: "%03d%04d", s, i)
                var bytes: [UInt8] = []
                for p in 0..<(side * side) {
                    bytes += [UInt8(truncatingIfNeeded: p &* 7 &+ i), UInt8(truncatingIfNeeded: p / side &* 5 &+ s), UInt8(truncatingIfNeeded: i &* 31)]
                }
                members.append(("\(key).png", [UInt8](try PNG.encode(bytes: bytes, width: side, height: side, alpha: false))))
                members.append(("\(key).txt", Array("a picture number \(i) of shard \(s)".utf8)))
                members.append(("\(key).json", Array(#"{"width": \#(side), "height": \#(side), "synthetic_caption": "long \#(i)"}"#.utf8)))
            }
            // One corrupt sample per shard: skipped and counted in both runs alike.
            members.append(("\(String(format: "%03d", s))zzzz.png", Array("not an image".utf8)))
            members.append(("\(String(format: "%03d", s))zzzz.txt", Array("broken".utf8)))
            try TarWriter.archive(members).write(to: dir.appendingPathComponent(String(format: "shard-%03d.tar", s)))
        }
    }

    /// Regular files under `dir` (relative path → bytes), the hidden work directory left out unless asked.
    static func files(_ dir: URL, hidden: Bool = false) -> [String: Data] {
        var out: [String: Data] = [:]
        let base = dir.resolvingSymlinksInPath().path
        guard let entries = FileManager.default.enumerator(atPath: base) else { return out }
        for case let rel as String in entries {
            if !hidden, rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: base + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: base + "/" + rel)
            }
        }
        return out
    }

    static func modificationDates(_ dir: URL) -> [String: Date] {
        var out: [String: Date] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
            out[name] = (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(name).path))?[.modificationDate] as? Date
        }
        return out
    }

    /// Runs `args(out)` once to completion (the reference), then again killed with SIGKILL as soon as `marker`
    /// appears, then resumed; the resumed output must equal the reference, and units finished before the kill
    /// must not be redone. When the run is too fast to be caught before it finishes, the dataset grows and the
    /// whole check starts over (it never passes without a kill).
    func killAndResume(command: String, args: (URL, URL) -> [String], firstMarker: String, finalMarker: String,
                       perShard start: Int, side: Int) throws {
        var perShard = start
        for attempt in 0..<5 {
            let dir = try CLI.scratch("\(command)-kill-\(attempt)")
            let input = dir.appendingPathComponent("in")
            try Self.dataset(in: input, shards: 4, perShard: perShard, side: side)
            let reference = dir.appendingPathComponent("reference")
            let full = try CLI.run(args(input, reference))
            try #require(full.status == 0, "\(full.output)")

            let out = dir.appendingPathComponent("out")
            let markers = out.appendingPathComponent(".miro-\(command)/done")
            let child = try BackgroundMiro(args(input, out), log: dir.appendingPathComponent("killed.log"))
            let caught = BackgroundMiro.poll(timeout: 300) {
                FileManager.default.fileExists(atPath: markers.appendingPathComponent(firstMarker).path) || !child.process.isRunning
            }
            child.signal(SIGKILL)
            child.wait()
            let finishedBeforeKill = FileManager.default.fileExists(atPath: markers.appendingPathComponent(finalMarker).path)
            guard caught, child.process.terminationReason == .uncaughtSignal, !finishedBeforeKill else {
                perShard *= 3  // too fast to interrupt: grow the dataset and try again
                continue
            }
            // Markers only: a temporary file caught mid-write is the killed run's and is cleaned on resume.
            let before = Self.modificationDates(markers).filter { !$0.key.hasPrefix(".") }
            #expect(before[firstMarker] != nil)
            Thread.sleep(forTimeInterval: 0.05)
            let resumed = try CLI.run(args(input, out))
            try #require(resumed.status == 0, "\(resumed.output)")
            let after = Self.modificationDates(markers)
            for (name, date) in before { #expect(after[name] == date, "\(name) was redone") }
            // The unit whose marker triggered the kill is not computed again.
            #expect(!resumed.output.contains("colorfulness_score: shard-000.tar scored"), "\(resumed.output)")
            let got = Self.files(out), want = Self.files(reference)
            #expect(got.keys.sorted() == want.keys.sorted())
            for (name, data) in want { #expect(got[name] == data, "\(name) differs from the uninterrupted run") }
            let extra = Set(Self.files(out, hidden: true).keys).symmetricDifference(Self.files(reference, hidden: true).keys)
            #expect(extra.isEmpty, "leftover or missing work files: \(extra.sorted())")
            return
        }
        Issue.record("the \(command) run finished before it could be killed, even on the largest dataset")
    }

    @Test func annotateKilledAndResumedEqualsUninterrupted() throws {
        try killAndResume(command: "annotate",
                          args: { input, out in ["annotate", input.path, "--rewards", "colorfulness_score,quality_score",
                                                 "--out", out.path, "--batch-size", "4", "--threads", "1"] },
                          firstMarker: "shard-000.tar.colorfulness_score.scores", finalMarker: "shard-003.tar",
                          perShard: 24, side: 40)
    }

    /// The tiny random T5 and VAE of scripts/make_pipeline_fixtures.py.
    static let components = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MiroPipelineTests/Fixtures/pipeline/miro_tiny")

    @Test func prepareKilledAndResumedEqualsUninterrupted() throws {
        let te = Self.components.appendingPathComponent("text_encoder").path, vae = Self.components.appendingPathComponent("vae").path
        try killAndResume(command: "prepare",
                          args: { input, out in ["prepare", input.path, "--out", out.path, "--text-encoder", te, "--vae", vae,
                                                 "--rewards", "colorfulness_score", "--image-size", "40", "--batch-size", "4",
                                                 "--threads", "1"] },
                          firstMarker: "shard-000.tar", finalMarker: "shard-003.tar", perShard: 12, side: 40)
    }

    /// A random VAE of the tiny fixture's widths with four blocks (×8 downsampling, like the SDXL VAE), so that 256²
    /// images give the 4×32×32 latents `miro train --data` reads.
    static func vaeWithFactor8(in dir: URL) throws -> URL {
        let folder = dir.appendingPathComponent("vae8")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: components.appendingPathComponent("vae/config.json"))) as? [String: Any])
        config["block_out_channels"] = [8, 8, 8, 8]
        config["down_block_types"] = Array(repeating: "DownEncoderBlock2D", count: 4)
        config["up_block_types"] = Array(repeating: "UpDecoderBlock2D", count: 4)
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        let model = try AutoencoderKL(config: try AutoencoderKLConfig.load(folder.appendingPathComponent("config.json")))
        var k = 0.0
        let weights = try model.stateDict().map { name, t -> (String, Tensor) in
            let n = t.shape.reduce(1, *)
            k += 1
            let fanIn = Double(t.shape.dropFirst().reduce(1, *))
            let values = (0..<n).map { i in Float(sin(1.7 * Double(i) + k) / max(1, fanIn).squareRoot()) }
            return (name, try Tensor(values, shape: t.shape))
        }
        try TensorFiles.saveSafeTensors(weights, to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        return folder
    }

    /// `miro train --data OUT` trains on what `miro prepare` writes (the bins cache and index included).
    @Test func trainRunsOnPreparedShards() throws {
        let dir = try CLI.scratch()
        let input = dir.appendingPathComponent("in")
        try Self.dataset(in: input, shards: 2, perShard: 4, side: 256)
        let out = dir.appendingPathComponent("prepared")
        let prepared = try CLI.run(["prepare", input.path, "--out", out.path, "--text-encoder", Self.components.appendingPathComponent("text_encoder").path,
                                    "--vae", try Self.vaeWithFactor8(in: dir).path, "--rewards", "colorfulness_score,quality_score",
                                    "--threads", "1"])
        try #require(prepared.status == 0, "\(prepared.output)")
        #expect(prepared.stdout.contains("prepared 8 of 10 samples"), "\(prepared.output)")
        let run = dir.appendingPathComponent("run")
        let trained = try CLI.run(["train", "--run", run.path, "--data", out.path, "--rewards", "colorfulness_score,quality_score",
                                   "--steps", "2", "--batch-size", "4", "--warmup", "1", "--sample-every", "0", "--log-every", "1",
                                   "--seed", "5", "--threads", "1", "--workers", "1",
                                   "--network", #"{"data_dim": 16, "num_latents": 8, "latents_dim": 32, "num_blocks": 1, "num_processing_layers": 1, "read_write_heads": 2, "compute_heads": 2}"#])
        #expect(trained.status == 0, "\(trained.output)")
        #expect(trained.output.contains("data: 2 shards, 8 samples, text width 32, bins \(out.path)/coherence_bins_64_bins_colorfulness_score-quality_score"),
                "\(trained.output)")
        #expect(trained.output.contains("step      2 | loss"), "\(trained.output)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoints/step-0000002.safetensors").path), "\(trained.output)")
    }

    @Test func annotateRefusesUnknownRewardsAndForeignFolders() throws {
        let dir = try CLI.scratch()
        try Self.dataset(in: dir.appendingPathComponent("in"), shards: 1, perShard: 2, side: 8)
        let unknown = try CLI.run(["annotate", dir.appendingPathComponent("in").path, "--rewards", "nope_score", "--out", dir.appendingPathComponent("o").path])
        #expect(unknown.status != 0 && unknown.output.contains("nope_score") && unknown.output.contains("colorfulness_score"), "\(unknown.output)")
        let foreign = dir.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: foreign.appendingPathComponent("mine.txt"))
        let refused = try CLI.run(["annotate", dir.appendingPathComponent("in").path, "--rewards", "colorfulness_score", "--out", foreign.path])
        #expect(refused.status != 0 && refused.output.contains("mine.txt"), "\(refused.output)")
        #expect(try Data(contentsOf: foreign.appendingPathComponent("mine.txt")) == Data("keep".utf8))
    }
}
