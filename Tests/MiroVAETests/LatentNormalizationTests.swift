import Foundation
import Testing
import MiroEngine
import MiroVAE

/// MIRO's latent (de)normalisation and image conversions against the official miro-t2i 0.1.4 modules run by
/// scripts/make_vae_fixtures.py around the tiny diffusers VAE.
@Suite(.serialized)
struct LatentNormalizationTests {
    @Test(arguments: [("cw", true), ("global", false)])
    func buffersEqualTheOfficialOnes(_ tag: String, _ channelWise: Bool) throws {
        let norm = LatentNormalization.sdxl(channelWise: channelWise)
        let (scale, bias) = try norm.tensors()
        #expect(try scale.floats() == Fixtures.tensor("post.\(tag).scale").floats())
        #expect(try bias.floats() == Fixtures.tensor("post.\(tag).bias").floats())
    }

    /// VAEDecoderPostProcessing: denormalise, decode (in chunks), remap to uint8 — the same pixels (±1 level;
    /// truncation to uint8 turns a 1e-6 difference at a level boundary into one level).
    @Test(arguments: [("cw", true), ("global", false)])
    func officialPostprocessingImages(_ tag: String, _ channelWise: Bool) throws {
        let vae = try AutoencoderKL.load(Fixtures.url("vae_tiny"))
        vae.chunkSize = 2
        let z = try LatentNormalization.sdxl(channelWise: channelWise).denormalize(Fixtures.tensor("post.\(tag).latents"))
        let pixels = try VAEImages.toUInt8(vae.decode(z))
        let want = try Fixtures.tensor("post.\(tag).images")
        #expect(pixels.shape == want.shape && pixels.dtype == .uint8)
        let got = try pixels.toArray(UInt8.self), ref = try want.toArray(UInt8.self)
        let worst = zip(got, ref).map { abs(Int($0) - Int($1)) }.max() ?? 0
        let off = zip(got, ref).filter { $0 != $1 }.count
        #expect(worst <= 1 && off * 100 <= got.count, "max level difference \(worst), \(off) of \(got.count) differ")
    }

    /// PrecomputedSDLatentPreconditioning: x₀ = (mean + std · ε) · scale + bias, and x₀ = mean · scale + bias.
    @Test func officialPreprocessing() throws {
        let mean = try Fixtures.tensor("pre.mean"), std = try Fixtures.tensor("pre.std"), noise = try Fixtures.tensor("pre.noise")
        let cw = LatentNormalization.sdxl(channelWise: true), global = LatentNormalization.sdxl(channelWise: false)
        try expectClose(cw.normalize(mean: mean, std: std, noise: noise), Fixtures.tensor("pre.cw.sample"), "channel-wise", tolerance: 1e-6)
        try expectClose(global.normalize(mean: mean, std: std, noise: noise), Fixtures.tensor("pre.global.sample"), "global", tolerance: 1e-6)
        try expectClose(cw.normalize(mean: mean, std: std, noise: nil), Fixtures.tensor("pre.cw.mean_only"), "mean only", tolerance: 1e-6)
    }

    @Test func normalizeInvertsDenormalize() throws {
        let x = try Tensor.randn([2, 4, 3, 3], generator: Generator(seed: 7))
        for cw in [true, false] {
            let n = LatentNormalization.sdxl(channelWise: cw)
            #expect(try relativeError(n.normalize(n.denormalize(x)), x) < 1e-6)
        }
    }

    @Test func imageConversions() throws {
        let pixels = try Tensor([UInt8](arrayLiteral: 0, 128, 255, 64, 1, 254), shape: [1, 1, 2, 3])
        let x = try VAEImages.fromUInt8(pixels)
        #expect(x.shape == [1, 3, 1, 2])
        let values = try x.floats()
        #expect(abs(values[0] + 1) < 1e-7 && abs(values[4] - 1) < 1e-7)  // 0 → −1, 255 → +1
        // remap truncates: 0.999 · 255 = 254.7 → 254; clamps outside [−1, 1]
        let decoded = try Tensor([Float](arrayLiteral: -2, 0.998, 1.5), shape: [1, 3, 1, 1])
        #expect(try VAEImages.toUInt8(decoded).toArray(UInt8.self) == [0, 254, 255])
    }

    @Test func invalidNormalizationInputs() throws {
        #expect(vaeErrorMessage { _ = try LatentNormalization(scale: [1, 0], bias: [0, 0]) }?.contains("non-zero") == true)
        #expect(vaeErrorMessage { _ = try LatentNormalization(scale: [1], bias: [0, 0]) } != nil)
        let wrong = try Tensor.zeros([1, 3, 2, 2])
        #expect(vaeErrorMessage { _ = try LatentNormalization.sdxl(channelWise: true).denormalize(wrong) }?.contains("(B, 4, H, W)") == true)
    }
}
