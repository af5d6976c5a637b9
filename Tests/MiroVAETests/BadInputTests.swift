import Foundation
import Testing
import MiroEngine
import MiroIO
import MiroVAE

/// Broken files and inputs are `VAEError`s that name the file and the tensor or field, raised before any
/// weight is copied.
@Suite(.serialized)
struct BadInputTests {
    /// Rewrites the tiny VAE folder's weights with `edit` and returns the load error.
    func loadError(_ edit: (inout [(String, Tensor)]) throws -> Void) throws -> String? {
        let folder = try editableCopy(of: "vae_tiny")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let weights = folder.appendingPathComponent("diffusion_pytorch_model.safetensors")
        var list = try tensors(of: weights)
        try edit(&list)
        try TensorFiles.saveSafeTensors(list, to: weights)
        return vaeErrorMessage { _ = try AutoencoderKL.load(folder) }
    }

    @Test func missingTensor() throws {
        let error = try loadError { $0.removeAll { $0.0 == "decoder.up_blocks.2.resnets.0.conv_shortcut.weight" } }
        #expect(error?.contains("missing tensor 'decoder.up_blocks.2.resnets.0.conv_shortcut.weight'") == true, "\(error ?? "")")
        #expect(error?.contains("diffusion_pytorch_model.safetensors") == true)
    }

    @Test func wrongShape() throws {
        let error = try loadError { list in
            let i = try #require(list.firstIndex { $0.0 == "encoder.conv_in.weight" })
            list[i].1 = try Tensor.zeros([8, 3, 5, 5])
        }
        #expect(error?.contains("tensor 'encoder.conv_in.weight' has shape [8, 3, 5, 5]") == true, "\(error ?? "")")
        #expect(error?.contains("[8, 3, 3, 3]") == true)
    }

    @Test func integerWeights() throws {
        let error = try loadError { list in
            let i = try #require(list.firstIndex { $0.0 == "quant_conv.bias" })
            list[i].1 = try Tensor.zeros([8], dtype: .int32)
        }
        #expect(error?.contains("'quant_conv.bias' has dtype I32") == true, "\(error ?? "")")
    }

    @Test func unexpectedTensor() throws {
        let error = try loadError { try $0.append(("encoder.down_blocks.9.resnets.0.norm1.weight", Tensor.zeros([4]))) }
        #expect(error?.contains("'encoder.down_blocks.9.resnets.0.norm1.weight' is not in the model") == true, "\(error ?? "")")
    }

    /// config.json says two layers per block; the weights have one: the first missing resnet is named.
    @Test func configDisagreeingWithWeights() throws {
        let folder = try editableCopy(of: "vae_tiny")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let configURL = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: configURL, encoding: .utf8)
        let edited = text.replacingOccurrences(of: "\"layers_per_block\": 1", with: "\"layers_per_block\": 2")
        #expect(edited != text, "the fixture config spells layers_per_block as expected")
        try edited.write(to: configURL, atomically: true, encoding: .utf8)
        let error = vaeErrorMessage { _ = try AutoencoderKL.load(folder) }
        #expect(error?.contains("missing tensor 'encoder.down_blocks.0.resnets.1.") == true, "\(error ?? "")")
        #expect(error?.contains("config.json") == true)
        // A wider configuration: a shape error naming the tensor and the config.
        try text.replacingOccurrences(of: "\"latent_channels\": 4", with: "\"latent_channels\": 8").write(to: configURL, atomically: true, encoding: .utf8)
        let wide = vaeErrorMessage { _ = try AutoencoderKL.load(folder) }
        #expect(wide?.contains("encoder.conv_out.weight") == true && wide?.contains("config.json needs") == true, "\(wide ?? "")")
    }

    @Test func ldmFileWithTheWrongConfiguration() throws {
        // The tiny LDM file read with the default (SDXL) configuration.
        let error = vaeErrorMessage { _ = try AutoencoderKL.load(Fixtures.url("vae_tiny_ldm.safetensors")) }
        #expect(error?.contains("the SDXL VAE configuration") == true, "\(error ?? "")")
    }

    @Test func folderProblems() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(vaeErrorMessage { _ = try AutoencoderKL.load(dir) }?.contains("no diffusion_pytorch_model.safetensors") == true)
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("diffusion_pytorch_model.bin"))
        #expect(vaeErrorMessage { _ = try AutoencoderKL.load(dir) }?.contains("PyTorch pickle") == true)
        try FileManager.default.copyItem(at: Fixtures.url("vae_tiny/diffusion_pytorch_model.safetensors"),
                                         to: dir.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        #expect(vaeErrorMessage { _ = try AutoencoderKL.load(dir) }?.contains("config.json: missing") == true)
        // A truncated weights file.
        let weights = dir.appendingPathComponent("diffusion_pytorch_model.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count - 100).write(to: weights)
        try FileManager.default.copyItem(at: Fixtures.url("vae_tiny/config.json"), to: dir.appendingPathComponent("config.json"))
        let truncated = vaeErrorMessage { _ = try AutoencoderKL.load(dir) }
        #expect(truncated?.contains("not a readable safetensors file") == true, "\(truncated ?? "")")
        #expect(vaeErrorMessage { _ = try AutoencoderKL.load(dir.appendingPathComponent("nope.safetensors")) }?.contains("no such file") == true)
    }

    @Test func wrongBatches() throws {
        let vae = try AutoencoderKL.load(Fixtures.url("vae_tiny"))
        let cases: [(Tensor, String)] = try [
            (Tensor.zeros([3, 16, 24]), "must be (B, 3, H, W)"),
            (Tensor.zeros([1, 4, 16, 24]), "has 4 channels, expected 3"),
            (Tensor.zeros([0, 3, 16, 24]), "is empty"),
            (Tensor.zeros([1, 3, 16, 24], dtype: .int64), "expected a floating-point tensor"),
            (Tensor.zeros([1, 3, 2, 24]), "smaller than 4×4"),
        ]
        for (images, message) in cases {
            let error = vaeErrorMessage { _ = try vae.encode(images) }
            #expect(error?.contains(message) == true, "\(images.shape): \(error ?? "no error")")
        }
        let latentError = vaeErrorMessage { _ = try vae.decode(Tensor.zeros([1, 3, 4, 4])) }
        #expect(latentError?.contains("latent batch has 3 channels, expected 4") == true)
        let taesd = try AutoencoderTiny.load(Fixtures.url("taesd_tiny"))
        #expect(vaeErrorMessage { _ = try taesd.decode(Tensor.zeros([2, 8, 4, 4])) }?.contains("expected 4") == true)
    }

    @Test func taesdFilesSwapped() throws {
        // The decoder file given as the encoder: its `1.weight` is not an encoder layer of that shape.
        let error = vaeErrorMessage {
            _ = try AutoencoderTiny.load(taesdEncoder: Fixtures.url("taesd_tiny_decoder.safetensors"), taesdDecoder: nil,
                                         config: AutoencoderTinyConfig(encoderBlockOutChannels: [8, 8, 8, 8],
                                                                       decoderBlockOutChannels: [8, 8, 8, 8]))
        }
        #expect(error != nil)
        #expect(vaeErrorMessage { _ = try AutoencoderTiny.load(taesdEncoder: nil, taesdDecoder: nil) }?.contains("give a taesd") == true)
    }
}
