import Foundation
import Testing
import MiroTestSupport

/// Untrusted checkpoints and folders through `miro sample`: bad stored configs, relabelled dtypes,
/// bad step metadata, NaN weights and absurd guidance end in exit 1 (or 64) and a message naming the
/// file and the key or tensor; never a trap, never a black PNG with exit 0.
@Suite(.serialized) struct ConfigCheckpointTests {
    /// One tiny trained run, copied for each case.
    static let trained: Result<URL, Error> = Result {
        let dir = try CLI.scratch("trained")
        let run = dir.appendingPathComponent("run")
        let r = try CLI.run(CLI.tinyTrain(run: run, steps: 1))
        guard r.status == 0 else { throw CLIFailure(description: r.output) }
        return run
    }

    struct CLIFailure: Error, CustomStringConvertible { let description: String }

    /// A copy of the trained run and its checkpoint file.
    func freshRun(_ name: String = #function) throws -> (dir: URL, run: URL, checkpoint: URL) {
        let dir = try CLI.scratch(name)
        let run = dir.appendingPathComponent("run")
        try FileManager.default.copyItem(at: try Self.trained.get(), to: run)
        return (dir, run, run.appendingPathComponent("checkpoints/step-0000001.safetensors"))
    }

    func pngs(in dir: URL) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".png") }
    }

    func sample(_ run: URL, _ extra: [String] = [], out: URL) throws -> CLI.Result {
        try CLI.run(["sample", "--checkpoint", run.path, "a red circle", "--steps", "2", "--seed", "1", "--out", out.path] + extra)
    }

    @Test func aStoredConfigWithBadSizesIsAnError() throws {
        for (key, edit) in [
            ("textEncoder.width", { (c: inout [String: Any]) in var t = c["textEncoder"] as! [String: Any]; t["width"] = 3; c["textEncoder"] = t }),
            ("textEncoder.maxTokens", { (c: inout [String: Any]) in var t = c["textEncoder"] as! [String: Any]; t["maxTokens"] = 0; c["textEncoder"] = t }),
            ("normalization.std", { (c: inout [String: Any]) in var n = c["normalization"] as! [String: Any]; n["std"] = [Double](); c["normalization"] = n }),
        ] as [(String, (inout [String: Any]) -> Void)] {
            let (dir, run, checkpoint) = try freshRun("config" + key)
            try SafeTensorsSurgery.editRunConfig(checkpoint, edit)
            let r = try sample(run, out: dir.appendingPathComponent("out"))
            #expect(r.status == 1, "\(key): \(r.output)")
            #expect(r.stderr.contains(checkpoint.path) && r.stderr.contains(key), "\(key): \(r.output)")
        }
    }

    @Test func aRelabelledTensorAndBadStepMetadataAreRefusedByName() throws {
        let (dir, run, checkpoint) = try freshRun()
        let name = try #require(try SafeTensorsSurgery.names(checkpoint).first { $0.hasPrefix("ema.") && $0.hasSuffix(".weight") })
        try SafeTensorsSurgery.relabel(checkpoint, tensor: name, as: "I32")
        let r = try sample(run, out: dir.appendingPathComponent("out"))
        #expect(r.status == 1 && r.stderr.contains(name) && r.stderr.contains("I32"), "\(r.output)")
        try SafeTensorsSurgery.relabel(checkpoint, tensor: name, as: "F32")
        for (key, value) in [("miro.step", "-3"), ("miro.ema_updates", "1.5")] {
            try SafeTensorsSurgery.setMetadata(checkpoint, key, value)
            let bad = try sample(run, out: dir.appendingPathComponent("out"))
            #expect(bad.status == 1 && bad.stderr.contains(key), "\(key)=\(value): \(bad.output)")
            try SafeTensorsSurgery.setMetadata(checkpoint, key, "1")
        }
        #expect(pngs(in: dir).isEmpty)
    }

    @Test func nanWeightsFailLoudlyInsteadOfABlackImage() throws {
        let (dir, run, checkpoint) = try freshRun()
        let name = try #require(try SafeTensorsSurgery.poison(checkpoint, prefix: "ema.").first)
        let r = try sample(run, out: dir.appendingPathComponent("out"))
        let weight = String(name.dropFirst("ema.".count))
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("not finite") && r.output.contains(weight), "\(r.output)")
        #expect(pngs(in: dir).isEmpty)
    }

    @Test func absurdGuidanceIsRefused() throws {
        let (dir, run, _) = try freshRun()
        for w in ["1e300", "5000"] {
            let r = try sample(run, ["--guidance", w], out: dir.appendingPathComponent("out"))
            #expect(r.status != 0 && r.stderr.contains("guidance"), "\(w): \(r.output)")
        }
        #expect(pngs(in: dir).isEmpty)
        // an exported folder refuses it at validation (usage error)
        let folder = dir.appendingPathComponent("folder")
        #expect(try CLI.run(["export", "--checkpoint", run.path, "--out", folder.path]).status == 0)
        let r = try sample(folder, ["--guidance", "1e300"], out: dir.appendingPathComponent("out"))
        #expect(r.status == 64 && r.stderr.contains("--guidance"), "\(r.output)")
    }

    @Test func aFolderConfigWithBadValuesIsAnError() throws {
        let (dir, run, _) = try freshRun()
        for (key, edit) in [
            ("max_text_len", { (c: inout [String: Any]) in c["max_text_len"] = -3 }),
            ("miro_swift.text_encoder_width", { (c: inout [String: Any]) in
                var p = c["miro_swift"] as! [String: Any]; p["text_encoder_width"] = 3; c["miro_swift"] = p }),
            ("miro_swift.pixel_std", { (c: inout [String: Any]) in
                var p = c["miro_swift"] as! [String: Any]; p["pixel_std"] = [Double](); c["miro_swift"] = p }),
        ] as [(String, (inout [String: Any]) -> Void)] {
            let folder = dir.appendingPathComponent("folder")
            #expect(try CLI.run(["export", "--checkpoint", run.path, "--out", folder.path, "--overwrite"]).status == 0)
            let configURL = folder.appendingPathComponent("config.json")
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
            edit(&object)
            try JSONSerialization.data(withJSONObject: object).write(to: configURL)
            let r = try sample(folder, out: dir.appendingPathComponent("out"))
            #expect(r.status == 1, "\(key): \(r.output)")
            #expect(r.stderr.contains(configURL.path) && r.stderr.contains(key), "\(key): \(r.output)")
        }
        #expect(pngs(in: dir).isEmpty)
    }
}
