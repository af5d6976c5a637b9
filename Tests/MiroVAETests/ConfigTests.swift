import Foundation
import Testing
import MiroVAE

/// config.json reading: real files' spellings, constructor defaults for absent keys, and clear refusals.
struct ConfigTests {
    func write(_ json: String) throws -> URL {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("config.json")
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// stabilityai/sdxl-vae's config.json as published (diffusers 0.18 wrote it: no shift_factor, no use_quant_conv).
    static let sdxlVAEJSON = """
    {"_class_name": "AutoencoderKL", "_diffusers_version": "0.18.0.dev0", "_name_or_path": ".", "act_fn": "silu",
     "block_out_channels": [128, 256, 512, 512],
     "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
     "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
     "sample_size": 1024, "scaling_factor": 0.13025,
     "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
     "force_upcast": true}
    """

    @Test func realSDXLConfigEqualsTheBuiltInOne() throws {
        var config = try AutoencoderKLConfig.load(write(Self.sdxlVAEJSON))
        #expect(config.className == "AutoencoderKL")
        config.className = nil
        #expect(config == .sdxl)
        #expect(config.shiftFactor == nil && config.useQuantConv && config.usePostQuantConv)
    }

    @Test func newerDiffusersKeysAndListSampleSize() throws {
        let json = Self.sdxlVAEJSON.replacingOccurrences(of: "\"sample_size\": 1024",
            with: "\"sample_size\": [1024, 1024], \"shift_factor\": null, \"use_quant_conv\": false, \"latents_mean\": null")
        let config = try AutoencoderKLConfig.load(write(json))
        #expect(config.sampleSize == [1024, 1024] && !config.useQuantConv && config.usePostQuantConv)
        let vae = try AutoencoderKL(config: config)
        #expect(!vae.stateDict().contains { $0.0.hasPrefix("quant_conv.") })
    }

    @Test func absentKeysTakeTheConstructorDefaults() throws {
        let config = try AutoencoderKLConfig.load(write("{}"))
        #expect(config.blockOutChannels == [64] && config.layersPerBlock == 1 && config.scalingFactor == 0.18215)
        let tiny = try AutoencoderTinyConfig.load(write("{\"_class_name\": \"AutoencoderTiny\"}"))
        var expected = AutoencoderTinyConfig.taesdxl
        expected.className = "AutoencoderTiny"
        #expect(tiny == expected)
    }

    @Test func taesdxlConfigAsPublished() throws {
        let json = """
        {"_class_name": "AutoencoderTiny", "_diffusers_version": "0.20.0.dev0", "act_fn": "relu",
         "decoder_block_out_channels": [64, 64, 64, 64], "encoder_block_out_channels": [64, 64, 64, 64],
         "force_upcast": false, "in_channels": 3, "latent_channels": 4, "latent_magnitude": 3, "latent_shift": 0.5,
         "num_decoder_blocks": [3, 3, 3, 1], "num_encoder_blocks": [1, 3, 3, 3], "out_channels": 3,
         "scaling_factor": 1.0, "upsampling_scaling_factor": 2}
        """
        var config = try AutoencoderTinyConfig.load(write(json))
        config.className = nil
        #expect(config == .taesdxl)
    }

    @Test(arguments: [
        ("\"act_fn\": \"silu\"", "\"act_fn\": \"gelu\"", "act_fn is \"gelu\""),
        ("\"norm_num_groups\": 32", "\"norm_num_groups\": 48", "not divisible by norm_num_groups = 48"),
        ("\"layers_per_block\": 2", "\"layers_per_block\": 0", "layers_per_block is 0"),
        ("\"layers_per_block\": 2", "\"layers_per_block\": \"two\"", "layers_per_block has the wrong type"),
        ("\"scaling_factor\": 0.13025", "\"scaling_factor\": -1", "scaling_factor is -1.0"),
        ("\"_class_name\": \"AutoencoderKL\"", "\"_class_name\": \"AutoencoderTiny\"", "expected \"AutoencoderKL\""),
        ("\"block_out_channels\": [128, 256, 512, 512]", "\"block_out_channels\": [128, 256, 512]",
         "down_block_types has 4 entries but block_out_channels has 3"),
        ("\"down_block_types\": [\"DownEncoderBlock2D\"", "\"down_block_types\": [\"CrossAttnDownBlock2D\"",
         "down_block_types[0] is \"CrossAttnDownBlock2D\""),
    ])
    func badKLConfigs(_ from: String, _ to: String, _ message: String) throws {
        let url = try write(Self.sdxlVAEJSON.replacingOccurrences(of: from, with: to))
        let error = vaeErrorMessage { _ = try AutoencoderKLConfig.load(url) }
        #expect(error?.contains(message) == true, "\(error ?? "no error")")
        #expect(error?.contains("config.json") == true, "names the file: \(error ?? "")")
    }

    @Test func malformedJSON() throws {
        let url = try write("{\"in_channels\": 3,")
        let error = vaeErrorMessage { _ = try AutoencoderKLConfig.load(url) }
        #expect(error?.contains("not valid JSON") == true, "\(error ?? "no error")")
    }

    @Test func badTinyConfigs() throws {
        for (json, message) in [("{\"encoder_block_out_channels\": [64, 32, 64, 64]}", "all entries must be equal"),
                                ("{\"num_decoder_blocks\": [3, 3, 3]}", "expected the same length"),
                                ("{\"act_fn\": \"silu\"}", "only \"relu\""),
                                ("{\"upsampling_scaling_factor\": 4}", "only 2")] {
            let url = try write(json)
            let error = vaeErrorMessage { _ = try AutoencoderTinyConfig.load(url) }
            #expect(error?.contains(message) == true, "\(json): \(error ?? "no error")")
        }
    }

    @Test func configRoundTripsThroughJSON() throws {
        let data = try JSONEncoder().encode(AutoencoderKLConfig.sdxl)
        var back = try JSONDecoder().decode(AutoencoderKLConfig.self, from: data)
        #expect(back.className == "AutoencoderKL")
        back.className = nil
        #expect(back == .sdxl)
    }
}
