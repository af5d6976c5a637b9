import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroVAE

/// Numerical parity with diffusers 0.27.2 on random-weight models that diffusers itself wrote
/// (scripts/make_vae_fixtures.py; references computed in float64): encode (posterior mean / std / logvar) and
/// decode within 1e-4 of the reference's scale, for every way the weights can be named on disk.
@Suite(.serialized)
struct ParityTests {
    func checkKL(_ vae: AutoencoderKL, _ what: String, tolerance: Double = 1e-4) throws {
        let posterior = try vae.encode(Fixtures.tensor("kl.input.images"))
        try expectClose(posterior.mean, Fixtures.tensor("kl.encode.mean"), "\(what) mean", tolerance: tolerance)
        try expectClose(posterior.std, Fixtures.tensor("kl.encode.std"), "\(what) std", tolerance: tolerance)
        try expectClose(posterior.logvar, Fixtures.tensor("kl.encode.logvar"), "\(what) logvar", tolerance: tolerance)
        let decoded = try vae.decode(Fixtures.tensor("kl.input.latents"))
        try expectClose(decoded, Fixtures.tensor("kl.decode.sample"), "\(what) decode", tolerance: tolerance)
    }

    @Test func tinyKLFromDiffusersFolder() throws {
        let vae = try AutoencoderKL.load(Fixtures.url("vae_tiny"))
        #expect(vae.config.blockOutChannels == [8, 16, 16] && vae.config.normNumGroups == 4)
        try checkKL(vae, "diffusers folder")
    }

    @Test func tinyKLFromLDMNamedFile() throws {
        let config = try AutoencoderKLConfig.load(Fixtures.url("vae_tiny/config.json"))
        try checkKL(AutoencoderKL.load(Fixtures.url("vae_tiny_ldm.safetensors"), config: config), "LDM names")
    }

    @Test func tinyKLWithOldAttentionNames() throws {
        let config = try AutoencoderKLConfig.load(Fixtures.url("vae_tiny/config.json"))
        try checkKL(AutoencoderKL.load(Fixtures.url("vae_tiny_oldattn.safetensors"), config: config), "old attention names")
    }

    /// The VAE inside a whole LDM checkpoint: `first_stage_model.` tensors read, everything else skipped.
    @Test func tinyKLInsideAWholeCheckpoint() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var list = try tensors(of: Fixtures.url("vae_tiny_ldm.safetensors")).map { ("first_stage_model.\($0.0)", $0.1) }
        list.append(("model.diffusion_model.input_blocks.0.0.weight", try Tensor.zeros([2, 4, 3, 3])))
        list.append(("cond_stage_model.transformer.text_model.final_layer_norm.weight", try Tensor.zeros([2])))
        let file = dir.appendingPathComponent("sd_xl_tiny.safetensors")
        try TensorFiles.saveSafeTensors(list, to: file)
        let config = try AutoencoderKLConfig.load(Fixtures.url("vae_tiny/config.json"))
        try checkKL(AutoencoderKL.load(file, config: config), "whole checkpoint")
    }

    /// Chunking changes memory, not numbers: one image per call gives the same posterior and images.
    @Test func chunkingDoesNotChangeResults() throws {
        let vae = try AutoencoderKL.load(Fixtures.url("vae_tiny"))
        let images = try Fixtures.tensor("kl.input.images"), latents = try Fixtures.tensor("kl.input.latents")
        let whole = try vae.encode(images).mean, wholeDecoded = try vae.decode(latents)
        vae.chunkSize = 1
        // Only rounding may differ (libtorch picks its convolution blocking by batch size).
        let encodeError = try relativeError(vae.encode(images).mean, whole)
        let decodeError = try relativeError(vae.decode(latents), wholeDecoded)
        #expect(encodeError <= 1e-5 && decodeError <= 1e-5, "encode \(encodeError), decode \(decodeError)")
    }

    /// bf16 / fp16 files load into float32 compute: the result equals the float32 model whose weights were
    /// rounded the same way.
    @Test func reducedPrecisionWeightsComputeInFloat32() throws {
        let folder = try editableCopy(of: "vae_tiny")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let weights = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let original = try tensors(of: weights)
        for dtype in [DType.bfloat16, .float16] {
            try TensorFiles.saveSafeTensors(original, to: weights, saveAs: dtype)
            let reduced = try AutoencoderKL.load(folder)
            #expect(reduced.stateDict().allSatisfy { $0.1.dtype == .float32 })
            let rounded = try original.map { ($0.0, try $0.1.to(dtype).to(.float32)) }
            try TensorFiles.saveSafeTensors(rounded, to: weights)
            let reference = try AutoencoderKL.load(folder)
            let latents = try Fixtures.tensor("kl.input.latents")
            #expect(try relativeError(reduced.decode(latents), reference.decode(latents)) == 0, "\(dtype)")
        }
    }

    /// The other folder layouts diffusers writes: a sharded checkpoint with its index, and the fp16 variant name.
    @Test func shardedAndVariantFolders() throws {
        let folder = try editableCopy(of: "vae_tiny")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let weights = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let list = try tensors(of: weights)
        try FileManager.default.removeItem(at: weights)
        let entries = try list.map { name, t in
            SafeTensorsWriter.Tensor(name: name, dtype: .f32, shape: t.shape, bytes: Data(try t.bytes()))
        }
        let written = try SafeTensorsWriter.writeSharded(entries, to: folder, baseName: "diffusion_pytorch_model",
                                                         maxShardBytes: 100_000)
        #expect(written.count >= 3, "several shards and an index")
        try checkKL(AutoencoderKL.load(folder), "sharded")
        for url in written { try FileManager.default.removeItem(at: url) }
        try TensorFiles.saveSafeTensors(list, to: folder.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors"),
                                        saveAs: .float16)
        try checkKL(AutoencoderKL.load(folder), "fp16 variant", tolerance: 5e-3)
    }

    @Test func posteriorSampleAndClamp() throws {
        // moments with logvar beyond the clamp: std = exp(0.5 · clamp(logvar, −30, 20))
        let moments = try Tensor([Float](arrayLiteral: 1, 2, 25, -40), shape: [1, 4, 1, 1])
        let posterior = try DiagonalGaussian(moments: moments)
        #expect(try posterior.logvar.floats() == [20, -30])
        let std = try posterior.std.floats()
        #expect(abs(Double(std[0]) - exp(10.0)) / exp(10.0) < 1e-6 && abs(Double(std[1]) - exp(-15.0)) / exp(-15.0) < 1e-6)
        let noise = try Tensor([Float](arrayLiteral: 0.5, -1), shape: [1, 2, 1, 1])
        let sample = try posterior.sample(noise: noise).floats()
        #expect(abs(Double(sample[0]) - (1 + 0.5 * exp(10.0))) < 1e-2 && abs(Double(sample[1]) - 2) < 1e-6)
    }

    func checkTiny(_ taesd: AutoencoderTiny, _ prefix: String, _ what: String) throws {
        if taesd.hasEncoder {
            try expectClose(taesd.encode(Fixtures.tensor("\(prefix).input.images")),
                            Fixtures.tensor("\(prefix).encode.latents"), "\(what) encode")
        }
        if taesd.hasDecoder {
            try expectClose(taesd.decode(Fixtures.tensor("\(prefix).input.latents")),
                            Fixtures.tensor("\(prefix).decode.sample"), "\(what) decode")
        }
    }

    /// The real TAESDXL configuration with random weights stored in float16 (diffusers save_pretrained).
    @Test func taesdxlRealConfigurationFP16Folder() throws {
        let taesd = try AutoencoderTiny.load(Fixtures.url("taesdxl_random_fp16"))
        var config = taesd.config
        config.className = nil
        #expect(config == .taesdxl)
        #expect(taesd.parameterCount == 2_445_063)
        try checkTiny(taesd, "taesdxl", "TAESDXL")
    }

    @Test func tinyTAESDFolderAndTaesdNamedFiles() throws {
        let folder = try AutoencoderTiny.load(Fixtures.url("taesd_tiny"))
        try checkTiny(folder, "taesd_tiny", "folder")
        let config = folder.config
        let split = try AutoencoderTiny.load(taesdEncoder: Fixtures.url("taesd_tiny_encoder.safetensors"),
                                             taesdDecoder: Fixtures.url("taesd_tiny_decoder.safetensors"), config: config)
        try checkTiny(split, "taesd_tiny", "taesd files")
        let decoderOnly = try AutoencoderTiny.load(taesdEncoder: nil, taesdDecoder: Fixtures.url("taesd_tiny_decoder.safetensors"),
                                                   config: config)
        #expect(!decoderOnly.hasEncoder)
        try checkTiny(decoderOnly, "taesd_tiny", "decoder only")
        let error = vaeErrorMessage { _ = try decoderOnly.encode(Fixtures.tensor("taesd_tiny.input.images")) }
        #expect(error?.contains("without its encoder") == true)
    }

    @Test func tinyLatentScaling() throws {
        let taesd = try AutoencoderTiny(config: .taesdxl, encoder: false, decoder: false)
        let x = try Tensor([Float](arrayLiteral: -6, 0, 1.5, 9), shape: [1, 4, 1, 1])
        #expect(try taesd.scaleLatents(x).floats() == [0, 0.5, 0.75, 1])
        #expect(try taesd.unscaleLatents(Tensor([Float](arrayLiteral: 0, 0.5, 1, 0.25), shape: [1, 4, 1, 1])).floats() == [-3, 0, 3, -1.5])
    }
}
