import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroModels
import MiroNN
import MiroPipeline
import MiroShapes
import MiroTraining

/// `miro export`: a training checkpoint → an official folder (EMA weights by default).
@Suite(.serialized)
struct CheckpointExportTests {
    func scratch(_ name: String = #function) throws -> URL {
        try scratchDirectory(suite: "export-tests", test: name)
    }

    /// A tiny Shapes-run checkpoint whose EMA weights differ from its raw weights.
    func makeCheckpoint(in dir: URL, textEncoder: TextEncoderKind = .shapes) throws -> (url: URL, model: MIROModel, ema: [String: Tensor]) {
        var run = RunConfig()
        run.textEncoder.name = textEncoder
        run.normalization = PixelNormalization(mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3])
        let model = try MIROModel(network: run.network, generator: Generator(seed: 5))
        var ema: [String: Tensor] = [:]
        for (k, p) in model.trainableParameters() { ema[k] = try (p.detached() * 0.5 + 0.01) }
        let checkpoint = Checkpoint(step: 42, model: try model.stateDictionary(), ema: ema, emaUpdates: 42, optimizer: [:],
                                    rng: [:], configJSON: try run.json(), dataCursorJSON: "{}")
        let url = try checkpoint.write(to: dir.appendingPathComponent("run/checkpoints"))
        return (url, model, ema)
    }

    @Test func exportsEMAWeightsOfAShapesRun() throws {
        let dir = try scratch()
        let (_, model, ema) = try makeCheckpoint(in: dir)
        let out = dir.appendingPathComponent("export")
        var options = CheckpointExport.Options()
        options.dtype = .fp16
        // a run directory resolves to its newest checkpoints/step-*.safetensors
        let summary = try CheckpointExport.export(checkpoint: dir.appendingPathComponent("run"), to: out, options: options)
        #expect(summary.step == 42 && summary.weights == "ema" && summary.inputChannels == 3 && summary.textEncoder == "shapes")
        let folder = try ReleaseFolder(contentsOf: out)
        #expect(folder.storedDTypes == [.float16])
        #expect(folder.config.network == model.config)
        #expect(folder.config.dataResolution == 32 && folder.config.imgResolution == 32 && folder.config.maxTextLen == 16)
        #expect(folder.uncondEmbedding.shape == [1, 64])  // the Shapes encoder's empty prompt: EOS alone
        let p = try #require(folder.provenance)
        #expect(p.step == 42 && p.weights == "ema" && p.textEncoder == "shapes" && p.pixelMean == [0.5, 0.4, 0.3])
        let weights = try folder.model.stateDictionary()
        for (k, v) in ema {
            let expected = try v.to(.float16).to(.float32).floats()
            #expect(try weights[k]!.floats() == expected, "\(k)")
        }
        // the same, raw
        options.raw = true
        options.dtype = .fp32
        options.overwrite = true
        try CheckpointExport.export(checkpoint: dir.appendingPathComponent("run"), to: out, options: options)
        let raw = try ReleaseFolder(contentsOf: out)
        let original = try model.stateDictionary()
        for (k, v) in try raw.model.stateDictionary() where v.dtype.isFloatingPoint {
            #expect(try v.floats() == original[k]!.floats(), "\(k)")
        }
        #expect(raw.provenance?.weights == "raw")
    }

    @Test func nonShapesRunsNeedAnUncondEmbedding() throws {
        let dir = try scratch()
        let (url, _, _) = try makeCheckpoint(in: dir, textEncoder: .precomputed)
        let error = try #require(throws: InputError.self) {
            try CheckpointExport.export(checkpoint: url, to: dir.appendingPathComponent("out"))
        }
        #expect(error.description.contains("--uncond-embedding") && error.description.contains("flan_t5_xl_uncond.npy"))
        let e = dir.appendingPathComponent("uncond.npy")
        try TensorFiles.saveNPY(Tensor.randn([64], generator: Generator(seed: 3)), to: e)
        var options = CheckpointExport.Options()
        options.uncondEmbedding = e
        try CheckpointExport.export(checkpoint: url, to: dir.appendingPathComponent("out"), options: options)
        let folder = try ReleaseFolder(contentsOf: dir.appendingPathComponent("out"))
        #expect(folder.uncondEmbedding.shape == [1, 64])
        #expect(folder.config.imgResolution == 256 && folder.config.maxTextLen == 77)
        let wrong = dir.appendingPathComponent("wrong.npy")
        try TensorFiles.saveNPY(Tensor.zeros([1, 2048]), to: wrong)
        options.uncondEmbedding = wrong
        options.overwrite = true
        let widthError = try #require(throws: InputError.self) {
            try CheckpointExport.export(checkpoint: url, to: dir.appendingPathComponent("out"), options: options)
        }
        #expect(widthError.description.contains("label_dim 64"))
    }
}
