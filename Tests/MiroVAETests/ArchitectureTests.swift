import Foundation
import Testing
import MiroEngine
import MiroNN
import MiroIO
import MiroVAE

/// The full-size architectures built from their real configurations have exactly the real checkpoints' key
/// sets, shapes and parameter counts (keys/*.tsv: dumped by scripts/make_vae_fixtures.py from diffusers
/// 0.27.2 models built from the same configurations, and equal to shared/docs/keys). The weights are
/// uninitialised storage, so this costs address space, not resident memory.
@Suite(.serialized)
struct ArchitectureTests {
    func shapes(_ module: Module) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: module.stateDict().map { ($0.0, $0.1.shape) })
    }

    func expectSameKeys(_ got: [String: [Int]], _ want: [String: [Int]], _ what: String) {
        let missing = Set(want.keys).subtracting(got.keys).sorted()
        let extra = Set(got.keys).subtracting(want.keys).sorted()
        #expect(missing.isEmpty, "\(what): missing \(missing.prefix(5))")
        #expect(extra.isEmpty, "\(what): unexpected \(extra.prefix(5))")
        let wrong = want.keys.sorted().filter { got[$0] != nil && got[$0] != want[$0] }
        #expect(wrong.isEmpty, "\(what): shapes differ for \(wrong.prefix(5).map { "\($0) \(got[$0]!) vs \(want[$0]!)" })")
    }

    @Test func sdxlVAEKeySetAndParameterCount() throws {
        let vae = try AutoencoderKL(config: .sdxl)
        let want = try keyTable("keys/sdxl-vae-keys.tsv")
        #expect(want.count == 248)
        expectSameKeys(shapes(vae), want, "SDXL VAE")
        #expect(vae.parameterCount == 83_653_863)
        // components.md §2: encoder + quant_conv 34,163,664; decoder + post_quant_conv 49,490,199
        let encoderSide = vae.namedParameters().filter { $0.0.hasPrefix("encoder.") || $0.0.hasPrefix("quant_conv.") }
        #expect(encoderSide.reduce(0) { $0 + $1.1.count } == 34_163_664)
        #expect(vae.downsamplingFactor == 8)
    }

    @Test func taesdxlKeySetAndParameterCount() throws {
        let taesd = try AutoencoderTiny(config: .taesdxl)
        let want = try keyTable("keys/taesdxl-keys.tsv")
        #expect(want.count == 134)
        expectSameKeys(shapes(taesd), want, "TAESDXL")
        #expect(taesd.parameterCount == 2_445_063)
        let encoder = taesd.namedParameters().filter { $0.0.hasPrefix("encoder.") }.reduce(0) { $0 + $1.1.count }
        #expect(encoder == 1_222_532)
    }

    /// The key TSVs the script dumped carry the parameter counts it measured in diffusers.
    @Test func measuredCountsInFixtureMetadata() throws {
        let (_, metadata) = try TensorFilesShim.metadata("vae_expected.safetensors")
        let params = try #require(metadata["params"])
        #expect(params.contains("\"sdxl-vae\": 83653863") && params.contains("\"taesdxl\": 2445063"), "\(params)")
    }

    @Test func ldmNamesMapOntoEveryDiffusersName() throws {
        // Every SDXL VAE key has an LDM spelling that maps back to it (up index reversed for 4 blocks).
        #expect(KLCheckpointNames.diffusersName(ldm: "decoder.up.0.block.2.nin_shortcut.weight", blocks: 4)
                == "decoder.up_blocks.3.resnets.2.conv_shortcut.weight")
        #expect(KLCheckpointNames.diffusersName(ldm: "decoder.up.3.upsample.conv.bias", blocks: 4)
                == "decoder.up_blocks.0.upsamplers.0.conv.bias")
        #expect(KLCheckpointNames.diffusersName(ldm: "encoder.down.2.downsample.conv.weight", blocks: 4)
                == "encoder.down_blocks.2.downsamplers.0.conv.weight")
        #expect(KLCheckpointNames.diffusersName(ldm: "encoder.mid.attn_1.proj_out.weight", blocks: 4)
                == "encoder.mid_block.attentions.0.to_out.0.weight")
        #expect(KLCheckpointNames.diffusersName(ldm: "decoder.mid.block_2.norm2.bias", blocks: 4)
                == "decoder.mid_block.resnets.1.norm2.bias")
        #expect(KLCheckpointNames.diffusersName(ldm: "decoder.norm_out.weight", blocks: 4) == "decoder.conv_norm_out.weight")
        #expect(KLCheckpointNames.diffusersName(ldm: "post_quant_conv.weight", blocks: 4) == "post_quant_conv.weight")
        #expect(KLCheckpointNames.diffusersName(ldm: "decoder.up.4.block.0.conv1.weight", blocks: 4) == nil)
        #expect(KLCheckpointNames.diffusersName(ldm: "loss.discriminator.main.0.weight", blocks: 4) == nil)
        #expect(KLCheckpointNames.currentAttentionName("decoder.mid_block.attentions.0.proj_attn.bias")
                == "decoder.mid_block.attentions.0.to_out.0.bias")
        #expect(TinyCheckpointNames.diffusersName(taesdEncoder: "3.conv.4.weight") == "encoder.layers.3.conv.4.weight")
        #expect(TinyCheckpointNames.diffusersName(taesdDecoder: "1.weight") == "decoder.layers.0.weight")
        #expect(TinyCheckpointNames.diffusersName(taesdDecoder: "0.weight") == nil)
    }
}

enum TensorFilesShim {
    static func metadata(_ name: String) throws -> ([String: Tensor], [String: String]) {
        try TensorFiles.loadSafeTensors(Fixtures.url(name))
    }
}
