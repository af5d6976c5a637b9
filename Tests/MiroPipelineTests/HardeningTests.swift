import Foundation
import Testing
import MiroTestSupport
import MiroEngine
import MiroFormats
import MiroIO
import MiroModels
import MiroNN
import MiroPipeline

/// "No lost work, no crash": untrusted configs, checkpoints and folders fail with errors naming the file
/// and the key; `overwrite` never destroys anything but a previous export; non-finite weights or outputs
/// are reported instead of becoming black images.
@Suite(.serialized)
struct HardeningTests {
    func scratch(_ name: String = #function) throws -> URL {
        try scratchDirectory(suite: "hardening-tests", test: name)
    }

    /// A tiny Shapes-run checkpoint in `dir/run/checkpoints`.
    func makeCheckpoint(in dir: URL) throws -> URL {
        var run = RunConfig()
        run.normalization = PixelNormalization(mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3])
        let model = try MIROModel(network: run.network, generator: Generator(seed: 5))
        var ema: [String: Tensor] = [:]
        for (k, p) in model.trainableParameters() { ema[k] = try p.detached() * 1 }
        return try Checkpoint(step: 42, model: try model.stateDictionary(), ema: ema, emaUpdates: 42, optimizer: [:],
                              rng: [:], configJSON: try run.json(), dataCursorJSON: "{}")
            .write(to: dir.appendingPathComponent("run/checkpoints"))
    }

    /// An exported folder of a tiny Shapes run.
    func makeFolder(in dir: URL) throws -> URL {
        let out = dir.appendingPathComponent("folder")
        try CheckpointExport.export(checkpoint: try makeCheckpoint(in: dir), to: out)
        return out
    }

    // MARK: Case 2: config values are validated when decoded

    /// Breaks one key of a run configuration (JSON object) the way a tampered checkpoint would.
    static func breakRunConfig(_ key: String, _ c: inout [String: Any]) {
        func set(_ section: String, _ field: String, _ value: Any) {
            var o = c[section] as? [String: Any] ?? [:]
            o[field] = value
            c[section] = o
        }
        switch key {
        case "textEncoder.width": set("textEncoder", "width", 3)
        case "textEncoder.maxTokens": set("textEncoder", "maxTokens", 0)
        case "normalization.std": set("normalization", "std", [Double]())
        case "train.batchSize": set("train", "batchSize", 0)
        case "network.patch_size": set("network", "patch_size", 0)
        default: Issue.record("unknown key \(key)")
        }
    }

    /// Breaks one key of a folder's config.json.
    static func breakFolderConfig(_ key: String, _ c: inout [String: Any]) {
        func set(_ section: String, _ field: String, _ value: Any) {
            var o = c[section] as? [String: Any] ?? [:]
            o[field] = value
            c[section] = o
        }
        switch key {
        case "max_text_len": c["max_text_len"] = -3
        case "data_resolution": c["data_resolution"] = 7
        case "miro_swift.text_encoder_width": set("miro_swift", "text_encoder_width", 3)
        case "miro_swift.pixel_std": set("miro_swift", "pixel_std", [Double]())
        case "miro_swift.text_encoder_max_tokens": set("miro_swift", "text_encoder_max_tokens", 0)
        case "sampler_defaults.guidance_scale": set("sampler_defaults", "guidance_scale", 1e300)
        case "sampler_defaults.num_steps": set("sampler_defaults", "num_steps", -1)
        case "network.num_blocks": set("network", "num_blocks", 0)
        case "preconditioning.sigma_data": set("preconditioning", "sigma_data", 0.0)
        default: Issue.record("unknown key \(key)")
        }
    }

    @Test(arguments: ["textEncoder.width", "textEncoder.maxTokens", "normalization.std", "train.batchSize", "network.patch_size"])
    func runConfigIsValidatedWhenDecoded(key: String) throws {
        var run = RunConfig()
        run.normalization = PixelNormalization(mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3])
        var object = try JSONSerialization.jsonObject(with: Data(try run.json().utf8)) as! [String: Any]
        Self.breakRunConfig(key, &object)
        let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let error = try #require(throws: InputError.self) { try RunConfig.decode(text, source: "/runs/x/step-1.safetensors") }
        #expect(error.description.contains("/runs/x/step-1.safetensors") && error.description.contains(key), "\(error)")
        // the decoded original is fine
        _ = try RunConfig.decode(try run.json(), source: "ok")
    }

    @Test func checkpointWithABadStoredConfigIsAnErrorNotATrap() throws {
        let dir = try scratch()
        let url = try makeCheckpoint(in: dir)
        try SafeTensorsSurgery.editRunConfig(url) { c in c["textEncoder"] = ["name": "shapes", "width": 3, "maxTokens": 16] }
        let error = try #require(throws: InputError.self) { try ShapesPipeline(checkpoint: url) }
        #expect(error.description.contains(url.path) && error.description.contains("textEncoder.width"), "\(error)")
        #expect(throws: InputError.self) { try CheckpointExport.export(checkpoint: url, to: dir.appendingPathComponent("out")) }
    }

    @Test(arguments: ["max_text_len", "data_resolution", "miro_swift.text_encoder_width", "miro_swift.pixel_std",
                      "miro_swift.text_encoder_max_tokens", "sampler_defaults.guidance_scale", "sampler_defaults.num_steps",
                      "network.num_blocks", "preconditioning.sigma_data"])
    func folderConfigIsValidatedWhenDecoded(key: String) throws {
        let dir = try scratch("folderConfig" + key)
        let folder = try makeFolder(in: dir)
        let configURL = folder.appendingPathComponent("config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        Self.breakFolderConfig(key, &object)
        try JSONSerialization.data(withJSONObject: object).write(to: configURL)
        let error = try #require(throws: ReleaseError.self) { try ReleaseFolder(contentsOf: folder) }
        #expect(error.description.contains(configURL.path) && error.description.contains(key), "\(error)")
    }

    /// Every key that miro-t2i's constructors default may be absent, as `MiroPipeline.from_pretrained` accepts
    /// it (`CADRINTextCond(**config["network"])`, `FlowPrecond(**…)`, `PrecomputedSDLatentPreconditioning(**…)`,
    /// `VAEDecoderPostProcessing(**…)`, `config.get("scheduler", …)`, `config.get("max_text_len", 77)`); the
    /// absent ones take those constructors' defaults, not the converter's values.
    @Test func folderConfigKeysTheOfficialConstructorsDefaultAreOptional() throws {
        let dir = try scratch()
        let folder = try makeFolder(in: dir)
        let configURL = folder.appendingPathComponent("config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        // A network key is dropped where the run's value is the constructor's default (else the weights would
        // no longer fit the architecture).
        var network = object["network"] as! [String: Any]
        let defaults: [String: Any] = [
            "read_write_heads": 16, "compute_heads": 16, "latent_mlp_multiplier": 4, "data_mlp_multiplier": 4,
            "compute_dropout": 0, "rw_stochastic_depth": 0, "compute_stochastic_depth": 0, "num_text_registers": 16,
            "coherence_dropout": 0, "dropout_strategy": "binomial", "use_cond_rin_block": false,
            "concat_cond_token_to_latents": true, "use_self_conditioning": false,
        ]
        var dropped: [String] = []
        for (key, value) in defaults where (network[key] as? NSObject)?.isEqual(value) == true {
            network.removeValue(forKey: key)
            dropped.append(key)
        }
        #expect(dropped.count >= 5, "only \(dropped) matched the defaults")
        object["network"] = network
        object["data_preprocessing"] = [String: Any]()
        object["postprocessing"] = [String: Any]()
        object["sampler_defaults"] = [String: Any]()
        var preconditioning = object["preconditioning"] as! [String: Any]
        preconditioning.removeValue(forKey: "do_gradnorm_reweighting")
        preconditioning.removeValue(forKey: "logvar_mlp_layers")
        object["preconditioning"] = preconditioning
        for key in ["scheduler", "max_text_len", "coherence_keys", "model_type", "vae_repo", "text_encoder_repo"] {
            object.removeValue(forKey: key)
        }
        try JSONSerialization.data(withJSONObject: object).write(to: configURL)
        let config = try ReleaseFolder(contentsOf: folder).config
        #expect(config.network == (try ReleaseFolder(contentsOf: try makeFolder(in: dir.appendingPathComponent("original"))).config.network))
        #expect(config.dataPreprocessing == MIROPipelineConfig.DataPreprocessing(
            inputKeyMean: "vae_embeddings_mean", inputKeyStd: "vae_embeddings_std", outputKeyRoot: "x_0", vaeSample: false,
            channelWiseNormalisation: false, modelType: "sdxl"))
        #expect(config.postprocessing == MIROPipelineConfig.Postprocessing(channelWiseNormalisation: false, modelType: "sdxl"))
        #expect(config.samplerDefaults == MIROPipelineConfig.SamplerDefaults(numSteps: 50, guidanceScale: 7, sigmaData: 0.5))
        #expect(config.preconditioning.doGradnormReweighting == true && config.preconditioning.logvarMLPLayers == 0)
        #expect(config.completed().maxTextLen == 77 && config.completed().scheduler == LinearScheduler())
    }

    // MARK: Case 1: overwrite only replaces a previous export

    @Test func overwriteRefusesAFolderThatIsNotAPreviousExport() throws {
        let dir = try scratch()
        let checkpoint = try makeCheckpoint(in: dir)
        let notes = dir.appendingPathComponent("mine/notes.txt")
        try FileManager.default.createDirectory(at: notes.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: notes)
        var options = CheckpointExport.Options()
        options.overwrite = true
        let error = try #require(throws: ReleaseError.self) {
            try CheckpointExport.export(checkpoint: checkpoint, to: notes.deletingLastPathComponent(), options: options)
        }
        #expect(error.description.contains("refusing to overwrite") && error.description.contains("notes.txt"), "\(error)")
        #expect(try String(contentsOf: notes, encoding: .utf8) == "precious")
    }

    @Test(arguments: ["run", "run/checkpoints", ".", "run/.."])
    func overwriteNeverDestroysTheSourceRun(out: String) throws {
        let dir = try scratch("source" + out)
        let checkpoint = try makeCheckpoint(in: dir)
        var options = CheckpointExport.Options()
        options.overwrite = true
        let target = out == "." ? dir.appendingPathComponent(".") : dir.appendingPathComponent(out)
        let error = try #require(throws: ReleaseError.self) {
            try CheckpointExport.export(checkpoint: dir.appendingPathComponent("run"), to: target, options: options)
        }
        #expect(error.description.contains("refusing to overwrite"), "\(error)")
        #expect(FileManager.default.fileExists(atPath: checkpoint.path))
    }

    @Test func overwriteReplacesAPreviousExportAtomically() throws {
        let dir = try scratch()
        let folder = try makeFolder(in: dir)
        var options = CheckpointExport.Options()
        options.raw = true
        #expect(throws: ReleaseError.self) {  // without --overwrite
            try CheckpointExport.export(checkpoint: dir.appendingPathComponent("run"), to: folder, options: options)
        }
        options.overwrite = true
        try CheckpointExport.export(checkpoint: dir.appendingPathComponent("run"), to: folder, options: options)
        #expect(try ReleaseFolder(contentsOf: folder).provenance?.weights == "raw")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["folder", "run"])  // no leftovers
        // a previous export with something added is no longer recognisably one
        try Data("x".utf8).write(to: folder.appendingPathComponent("extra.txt"))
        #expect(!ReleaseFolder.isPreviousExport(folder))
        #expect(throws: ReleaseError.self) {
            try CheckpointExport.export(checkpoint: dir.appendingPathComponent("run"), to: folder, options: options)
        }
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("extra.txt").path))
    }

    // MARK: Case 3: dtypes and metadata of checkpoints

    @Test func aRelabelledTensorIsRefusedByName() throws {
        let dir = try scratch()
        let url = try makeCheckpoint(in: dir)
        let name = try #require(try SafeTensorsSurgery.names(url).first { $0.hasPrefix("ema.") && $0.hasSuffix(".weight") })
        try SafeTensorsSurgery.relabel(url, tensor: name, as: "I32")
        let error = try #require(throws: FormatError.self) { try Checkpoint.read(url) }
        #expect("\(error)".contains(name) && "\(error)".contains("I32"), "\(error)")

        // the same in an official folder's model.safetensors
        let folder = try makeFolder(in: dir.appendingPathComponent("f"))
        let weights = folder.appendingPathComponent("model.safetensors")
        let key = try #require(try SafeTensorsSurgery.names(weights).first { $0.hasPrefix("network.") && $0.hasSuffix(".weight") })
        try SafeTensorsSurgery.relabel(weights, tensor: key, as: "I32")
        let folderError = try #require(throws: ReleaseError.self) { try ReleaseFolder(contentsOf: folder) }
        #expect(folderError.description.contains(key) && folderError.description.contains("I32"), "\(folderError)")
    }

    @Test(arguments: [("miro.step", "-5"), ("miro.step", "1.5"), ("miro.step", "99999999999999999999"),
                      ("miro.ema_updates", "-1"), ("miro.ema_updates", "lots"), ("miro.ema_updates", "1e3")])
    func badStepMetadataIsRefusedByKey(key: String, value: String) throws {
        let dir = try scratch("meta" + key + value)
        let url = try makeCheckpoint(in: dir)
        try SafeTensorsSurgery.setMetadata(url, key, value)
        let error = try #require(throws: FormatError.self) { try Checkpoint.read(url) }
        #expect("\(error)".contains(key), "\(error)")
    }

    // MARK: Case 4: non-finite weights and outputs, absurd guidance

    @Test func nonFiniteWeightsAreNamedAndSamplingFails() throws {
        let dir = try scratch()
        let url = try makeCheckpoint(in: dir)
        let name = try #require(try SafeTensorsSurgery.poison(url, prefix: "ema.").first)
        let pipeline = try ShapesPipeline(checkpoint: url)
        #expect(pipeline.nonFiniteTensors.first == String(name.dropFirst("ema.".count)), "\(pipeline.nonFiniteTensors)")
        var settings = ShapesPipeline.Settings()
        settings.steps = 2
        let error = try #require(throws: InputError.self) { try pipeline.generate(["a red circle"], settings: settings) }
        #expect(error.description.contains("not finite") && error.description.contains(String(name.dropFirst(4))), "\(error)")
    }

    @Test func absurdGuidanceIsRefused() throws {
        let dir = try scratch()
        let folder = try makeFolder(in: dir)
        let pipeline = try ShapesPipeline(checkpoint: dir.appendingPathComponent("run"))
        for w in [1e300, Double.infinity, 1001] {
            var settings = ShapesPipeline.Settings()
            settings.steps = 1
            settings.guidance = w
            let error = try #require(throws: InputError.self) { try pipeline.generate(["a red circle"], settings: settings) }
            #expect(error.description.contains("guidance"), "\(error)")
            let release = ReleasePipeline(folder: try ReleaseFolder(contentsOf: folder))
            var s = release.settings()
            s.steps = 1
            s.guidance = w
            #expect(throws: InputError.self) { try release.generate(textEmbedding: Tensor.zeros([2, 64]), settings: s) }
        }
    }

    @Test func aFolderWithNonFiniteWeightsWarnsAndFails() throws {
        let dir = try scratch()
        let folder = try makeFolder(in: dir)
        let weights = folder.appendingPathComponent("model.safetensors")
        let key = try #require(try SafeTensorsSurgery.poison(weights, prefix: "network.").first)
        let loaded = try ReleaseFolder(contentsOf: folder)
        #expect(loaded.nonFiniteTensors.first == key, "\(loaded.nonFiniteTensors)")
        let pipeline = ReleasePipeline(folder: loaded)
        var s = pipeline.settings()
        s.steps = 2
        let error = try #require(throws: InputError.self) { try pipeline.generate(textEmbedding: Tensor.zeros([2, 64]), settings: s) }
        #expect(error.description.contains("not finite") && error.description.contains(key), "\(error)")
    }
}
