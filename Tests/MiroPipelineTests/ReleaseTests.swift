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

/// Official checkpoint folders both ways, against the fixture of scripts/make_release_fixtures.py: a small
/// random-weight folder written as scripts/convert_and_upload_to_hf.py writes one, loaded and run by the
/// real `MiroPipeline.from_pretrained` / `MiroPipeline.__call__` (miro-t2i 0.1.4).
@Suite(.serialized)
struct ReleaseFolderTests {
    static func fixture(_ name: String) throws -> URL {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures").appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EngineError("fixtures", "missing \(name); regenerate with scripts/make_release_fixtures.py")
        }
        return url
    }

    static let expected = Result { try TensorFiles.loadSafeTensors(fixture("release_small_expected.safetensors")) }

    func expected(_ key: String) throws -> Tensor {
        let (tensors, _) = try Self.expected.get()
        return try #require(tensors[key], "release_small_expected.safetensors lacks \(key)")
    }

    /// The "cases" metadata of the expected file (the settings the official run used).
    func cases() throws -> [String: Any] {
        let (_, meta) = try Self.expected.get()
        let text = try #require(meta["cases"])
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func scratch(_ name: String = #function) throws -> URL {
        try scratchDirectory(suite: "release-tests", test: name)
    }

    @Test func loadsTheOfficialFolder() throws {
        let folder = try ReleaseFolder(contentsOf: Self.fixture("release_small"))
        let c = folder.config
        #expect(c.network.coherenceKeys == MIROConfig.releasedRewardKeys)
        #expect(c.network.dataSize == 8 && c.network.labelDim == 32 && c.maxTextLen == 77 && c.dataResolution == 8)
        #expect(c.samplerDefaults?.numSteps == 50 && c.samplerDefaults?.guidanceScale == 7)
        #expect(c.preconditioning.doNormalization)  // "noise_driven" in the file
        #expect(folder.storedDTypes == [.float32])
        #expect(folder.unknownConfigKeys.isEmpty && folder.provenance == nil)
        let file = try SafeTensorsFile(contentsOf: Self.fixture("release_small/model.safetensors"))
        #expect(folder.report.loaded == file.names.count)
        #expect(try folder.preprocessing == LatentScaleBias.official(channelWise: true))
        #expect(folder.postprocessing == folder.preprocessing)
        #expect(folder.uncondEmbedding.shape == [1, 32])
        let variant = try ReleaseFolder(contentsOf: Self.fixture("release_small"), variant: "variant_fp16")
        #expect(variant.storedDTypes == [.float16])
        #expect(variant.model.network.parameterDType == .float32)
        #expect(try ReleaseFolder.variants(in: Self.fixture("release_small")) == ["variant_fp16"])
    }

    /// Our float32 buffers equal the official float32 ones bit for bit.
    @Test func normalisationBuffersMatchTheOfficialOnes() throws {
        let file = try TensorFiles.loadSafeTensors(Self.fixture("release_small/model.safetensors")).tensors
        let ours = try LatentScaleBias.official(channelWise: true)
        #expect(try file["data_preprocessing.scale"]!.floats() == ours.scale)
        #expect(try file["data_preprocessing.bias"]!.floats() == ours.bias)
        #expect(file["postprocessing.scale"]!.shape == [1, 4, 1, 1])
        let global = try LatentScaleBias.official(channelWise: false)
        #expect(global.scale == Array(repeating: Float(1) / 0.13025, count: 4))
        #expect(global.bias.allSatisfy { $0 == 0 && $0.sign == .minus })  // -0.0, as torch computes -0 * scale
        #expect(throws: MIROModelError.self) { try LatentScaleBias.official(channelWise: true, modelType: "sd15") }
    }

    /// One preconditioned forward, fp32 folder and fp16 variant: ≤ 1e-4 relative (max |Δ| / max |ref|).
    @Test(arguments: [nil, "variant_fp16"] as [String?])
    func forwardParity(variant: String?) throws {
        let folder = try ReleaseFolder(contentsOf: Self.fixture("release_small"), variant: variant)
        let p = "forward.input."
        let cond = try MIROConditioning(text: expected(p + "text"), textMask: expected(p + "text_mask"),
                                        rewards: expected(p + "rewards"))
        let out = try withoutGrad {
            try folder.model(expected(p + "x"), gamma: expected(p + "gamma"), conditioning: cond,
                             previousLatents: expected(p + "previous_latents"))
        }
        let prefix = variant == nil ? "forward." : "forward_fp16."
        let e1 = try relativeError(out.prediction, expected(prefix + "out"))
        let e2 = try relativeError(out.latents, expected(prefix + "latents"))
        print("forward parity \(variant ?? "fp32"): prediction \(e1), latents \(e2) (max |Δ| / max |ref|)")
        #expect(e1 <= 1e-4 && e2 <= 1e-4)
    }

    /// `MiroPipeline.__call__` (4 steps, guidance 7, two images, non-default rewards) through the code path
    /// of `miro sample`: ReleasePipeline.loadTextEmbedding + generate. Latents ≤ 1e-3 max-abs.
    @Test func pipelineParity() throws {
        let folder = try ReleaseFolder(contentsOf: Self.fixture("release_small"))
        let pipeline = ReleasePipeline(folder: folder)
        let sample = try #require(try cases()["sample"] as? [String: Any])
        var settings = pipeline.settings()
        settings.steps = try #require(sample["steps"] as? Int)
        settings.guidance = try #require(sample["guidance"] as? Double)
        settings.numImagesPerPrompt = try #require(sample["num_images_per_prompt"] as? Int)
        settings.seed = UInt64(try #require(sample["seed"] as? Int))
        settings.rewardTargets = try #require(sample["reward_targets"] as? [String: Double])
        settings.negativeRewardTargets = try #require(sample["negative_reward_targets"] as? [String: Double])
        #expect(settings.steps == 4 && settings.guidance == 7 && settings.numImagesPerPrompt == 2)

        #expect(try pipeline.noise(settings).floats() == expected("sample.noise").floats())  // torch.randn, bit for bit
        let embedding = try pipeline.loadTextEmbedding(Self.fixture("text_embedding.npy"))
        #expect(embedding.shape == [5, 32] && embedding.dtype == .float32)
        var steps = 0
        let latents = try pipeline.generate(textEmbedding: embedding, settings: settings) { _ in steps += 1 }
        #expect(steps == 4 && latents.shape == [2, 4, 8, 8])
        let err = try maxAbsDifference(latents, expected("sample.latents"))
        let vae = try maxAbsDifference(folder.postprocessing.denormalize(latents), expected("sample.vae_input"))
        let rel = try relativeError(latents, expected("sample.latents"))
        print("pipeline parity: latents max |Δ| \(err), relative \(rel); VAE input max |Δ| \(vae)")
        #expect(err <= 1e-3)
        #expect(try relativeError(folder.postprocessing.denormalize(latents), expected("sample.vae_input")) <= 1e-4)
    }

    @Test func promptTokensArePaddedAndTruncatedToMaxTextLen() throws {
        let pipeline = ReleasePipeline(folder: try ReleaseFolder(contentsOf: Self.fixture("release_small")))
        let e = try Tensor.randn([5, 32], generator: Generator(seed: 1))
        let (text, mask) = try pipeline.promptTokens(e, copies: 3)
        #expect(text.shape == [3, 77, 32] && mask.shape == [3, 77] && mask.dtype == .bool)
        #expect(try mask.to(.float32).sum([1]).floats() == [5, 5, 5])
        #expect(try text.slice(1, 5, 77).abs().sum().item() == 0)
        #expect(try text.select(0, 2).slice(0, 0, 5).floats() == e.floats())
        let long = try Tensor.randn([90, 32], generator: Generator(seed: 2))
        let (t2, m2) = try pipeline.promptTokens(long)
        #expect(t2.shape == [1, 77, 32])
        #expect(try m2.to(.float32).sum().item() == 77)
        // (1, n, D) and float16 inputs load; a wrong width names the label_dim
        let dir = try scratch()
        let f16 = dir.appendingPathComponent("e16.npy")
        try TensorFiles.saveNPY(e.to(.float16).unsqueezed(0), to: f16)
        #expect(try pipeline.loadTextEmbedding(f16).shape == [5, 32])
        let wrong = dir.appendingPathComponent("wrong.npy")
        try TensorFiles.saveNPY(Tensor.zeros([4, 16]), to: wrong)
        let error = try #require(throws: InputError.self) { try pipeline.loadTextEmbedding(wrong) }
        #expect(error.description.contains("label_dim 32"))
        var s = pipeline.settings()
        s.rewardTargets = ["beauty": 1]
        let unknown = try #require(throws: InputError.self) { try pipeline.sampler(textEmbedding: e, settings: s) }
        #expect(unknown.description.contains("beauty") && unknown.description.contains("sciscore_score"))
    }

    /// write → read: the same keys, the requested dtype, the same values (exact for fp32; fp16 = torch's
    /// cast), the same config. fp32 and fp16 outputs are byte-identical to the official writer's files.
    @Test(arguments: WeightsDType.allCases)
    func roundTrip(dtype: WeightsDType) throws {
        let root = try Self.fixture("release_small")
        let folder = try ReleaseFolder(contentsOf: root)
        let out = try scratch("roundTrip\(dtype)").appendingPathComponent("exported")
        try ReleaseFolder.write(model: folder.model, config: folder.config, uncondEmbedding: folder.uncondEmbedding,
                                to: out, dtype: dtype)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out.path)) == Set(ReleaseFolder.requiredFiles))
        let back = try ReleaseFolder(contentsOf: out)
        #expect(back.config == folder.config)
        #expect(back.storedDTypes == [dtype.dtype])
        let original = try SafeTensorsFile(contentsOf: root.appendingPathComponent("model.safetensors"))
        let written = try SafeTensorsFile(contentsOf: out.appendingPathComponent("model.safetensors"))
        #expect(Set(written.names) == Set(original.names))
        for name in written.names {
            let e = try #require(written.entry(name))
            let o = try #require(original.entry(name))
            #expect(e.shape == o.shape)
            #expect(e.dtype == (o.dtype == .bool ? .bool : dtype.dtype.safeTensors), "\(name)")
        }
        let a = try back.model.stateDictionary(), b = try folder.model.stateDictionary()
        for (k, v) in b {
            let w = try #require(a[k])
            let reference = try v.dtype.isFloatingPoint ? v.to(dtype.dtype).to(v.dtype) : v
            #expect(try w.to(.float64).doubles() == reference.to(.float64).doubles(), "\(k)")
        }
        #expect(try back.uncondEmbedding.floats() == folder.uncondEmbedding.floats())
        // config.json: the converter's text (json.dump(indent=2)), byte for byte
        let official = try String(contentsOf: root.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8) == official)
        let reference: URL? = switch dtype {
        case .fp32: root.appendingPathComponent("model.safetensors")
        case .fp16: root.appendingPathComponent("variant_fp16/model.safetensors")
        case .bf16: nil
        }
        if let reference {
            #expect(try Data(contentsOf: out.appendingPathComponent("model.safetensors")) == Data(contentsOf: reference),
                    "model.safetensors differs from safetensors.torch.save_file's bytes")
            #expect(try Data(contentsOf: out.appendingPathComponent("uncond_embedding.npy"))
                    == Data(contentsOf: root.appendingPathComponent("uncond_embedding.npy")))
        }
        // a second write into the same place needs overwrite, and then replaces the folder atomically
        #expect(throws: ReleaseError.self) {
            try ReleaseFolder.write(model: folder.model, config: folder.config, uncondEmbedding: folder.uncondEmbedding, to: out)
        }
        try ReleaseFolder.write(model: folder.model, config: folder.config, uncondEmbedding: folder.uncondEmbedding,
                                to: out, overwrite: true)
        #expect(try ReleaseFolder(contentsOf: out).storedDTypes == [.float32])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path)
        #expect(leftovers == ["exported"])
    }

    /// A weights file with a missing and an extra key fails with a report naming both (and a
    /// mis-shaped normalisation buffer); nothing else is needed to find the problem.
    @Test func strictKeyReport() throws {
        let root = try Self.fixture("release_small")
        let dir = try scratch()
        for name in ReleaseFolder.requiredFiles {
            try FileManager.default.copyItem(at: root.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        var (tensors, _) = try TensorFiles.loadSafeTensors(root.appendingPathComponent("model.safetensors"))
        tensors["network.rin_blocks.0.writer_ca.ca.q.weight"] = nil
        tensors["network.extra_head.weight"] = try Tensor.zeros([2, 2])
        tensors["postprocessing.scale"] = try Tensor.ones([4])
        try TensorFiles.saveSafeTensors(tensors.map { ($0.key, $0.value) }, to: dir.appendingPathComponent("model.safetensors"))
        let error = try #require(throws: StateDictError.self) { try ReleaseFolder(contentsOf: dir) }
        let text = error.description
        print(text)
        #expect(error.report.missing == ["network.rin_blocks.0.writer_ca.ca.q.weight"])
        #expect(error.report.unexpected == ["network.extra_head.weight"])
        #expect(error.report.mismatched.map(\.key) == ["postprocessing.scale"])
        #expect(text.contains("model.safetensors") && text.contains("network.rin_blocks.0.writer_ca.ca.q.weight")
                && text.contains("network.extra_head.weight") && text.contains("postprocessing.scale"))
    }

    @Test func missingFilesAreNamed() throws {
        let root = try Self.fixture("release_small")
        let dir = try scratch()
        for name in [ReleaseFolder.configFile, ReleaseFolder.weightsFile] {
            try FileManager.default.copyItem(at: root.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let error = try #require(throws: ReleaseError.self) { try ReleaseFolder(contentsOf: dir) }
        #expect(error.description == "Missing uncond_embedding.npy in \(dir.path)")
        let variant = try #require(throws: ReleaseError.self) { try ReleaseFolder(contentsOf: root, variant: "no_clip") }
        #expect(variant.description.hasPrefix("Missing config.json in \(root.path)/no_clip"))
        #expect(variant.description.contains("variant_fp16"))
        #expect(throws: ReleaseError.self) { try ReleaseFolder(contentsOf: dir.appendingPathComponent("absent")) }
        // a config.json without the network section names the key
        try Data(#"{"preconditioning": {}}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: root.appendingPathComponent("uncond_embedding.npy"),
                                         to: dir.appendingPathComponent("uncond_embedding.npy"))
        let bad = try #require(throws: ReleaseError.self) { try ReleaseFolder(contentsOf: dir) }
        #expect(bad.description.contains("config.json") && bad.description.contains("network"))
    }

    @Test func pythonJSONMatchesJsonDump() {
        let v = PythonJSON.object([
            ("a", .array([.int(1), .float(0.5), .float(1e-9), .float(7), .bool(true), .null])),
            ("b", .object([])), ("c", .array([])), ("d é\"\\\n", .string("snow ☃ 𝄞")),
        ])
        // json.dumps({"a": [1, 0.5, 1e-9, 7.0, True, None], "b": {}, "c": [], "d é\"\\\n": "snow ☃ 𝄞"}, indent=2)
        let python = "{\n  \"a\": [\n    1,\n    0.5,\n    1e-09,\n    7.0,\n    true,\n    null\n  ],\n  \"b\": {},\n  \"c\": [],\n"
            + "  \"d \\u00e9\\\"\\\\\\n\": \"snow \\u2603 \\ud834\\udd1e\"\n}"
        #expect(v.dumps(indent: 2) == python)
        #expect(PythonJSON.yamlNumber(0) == .int(0) && PythonJSON.yamlNumber(0.1) == .float(0.1))
    }

    @Test func previewIsLabelledAndSized() throws {
        let folder = try ReleaseFolder(contentsOf: Self.fixture("release_small"))
        let images = try LatentPreview.images(latents: expected("sample.latents"), postprocessing: folder.postprocessing, upscale: 2)
        #expect(images.count == 2 && images[0].width == 16 && images[0].height == 16)
        #expect(images[0].pixels.allSatisfy { (0...1).contains($0) })
        #expect(LatentPreview.label.contains("not a VAE decode"))
    }
}

/// max |a − b| / max |b| (the normwise relative error of the parity reports).
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.to(.float64).doubles(), y = try b.to(.float64).doubles()
    precondition(x.count == y.count, "sizes \(x.count) vs \(y.count)")
    let scale = y.map { abs($0) }.max() ?? 0
    return zip(x, y).map { abs($0 - $1) }.max().map { $0 / max(scale, 1e-30) } ?? 0
}

func maxAbsDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
    let x = try a.to(.float64).doubles(), y = try b.to(.float64).doubles()
    precondition(x.count == y.count, "sizes \(x.count) vs \(y.count)")
    return zip(x, y).map { abs($0 - $1) }.max() ?? 0
}
