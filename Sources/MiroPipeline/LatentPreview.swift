// The normalisation buffers of a release folder as a module tree, and a labelled linear latent→RGB
// preview (no VAE decoder exists in Swift yet). The buffers themselves: MiroModels/LatentScaleBias.swift.

import MiroData
import MiroEngine
import MiroFormats
import MiroImage
import MiroModels
import MiroNN

/// The four normalisation buffers as a module tree (`data_preprocessing.{scale,bias}`,
/// `postprocessing.{scale,bias}`), so a weights file is matched against them as against any state dict.
final class NormalizationBuffers: Module {
    final class Pair: Module {
        @Buffer(key: "scale") var scale: Tensor
        @Buffer(key: "bias") var bias: Tensor

        init(_ n: LatentScaleBias) throws {
            super.init()
            (scale, bias) = try n.tensors()
        }

        var value: LatentScaleBias { get throws { try LatentScaleBias(scale: scale, bias: bias) } }
    }

    @Child(key: "data_preprocessing") var preprocessing: Pair
    @Child(key: "postprocessing") var postprocessing: Pair

    init(preprocessing: LatentScaleBias, postprocessing: LatentScaleBias) throws {
        super.init()
        self.preprocessing = try Pair(preprocessing)
        self.postprocessing = try Pair(postprocessing)
    }
}

/// A cheap, approximate look at SDXL latents: the widely used linear map from SDXL latents to RGB
/// (ComfyUI `comfy/latent_formats.py`, class `SDXL`: `latent_rgb_factors` / `latent_rgb_factors_bias`,
/// applied to latents scaled by 0.13025). It is NOT a VAE decode — colours and layout are rough, at
/// latent resolution — and every file written from it is labelled a preview.
public enum LatentPreview {
    /// Rows: latent channels; columns: R, G, B.
    static let factors: [[Float]] = [
        [0.3651, 0.4232, 0.4341],
        [-0.2533, -0.0042, 0.1068],
        [0.1076, 0.1111, -0.0362],
        [-0.3165, -0.2492, -0.2188],
    ]
    static let factorsBias: [Float] = [0.1084, -0.0175, -0.0011]
    static let sdxlScaleFactor: Float = 0.13025

    /// The text every preview file carries.
    public static let label = "APPROXIMATE PREVIEW: linear SDXL latent-to-RGB factors (ComfyUI latent_formats.SDXL) "
        + "at latent resolution, upscaled; not a VAE decode"

    /// Previews of normalised MIRO latents x₀ (B, 4, H, W): x_raw = postprocessing⁻¹(x₀), then
    /// rgb = (0.13025·x_raw)·F + b, image = clamp((rgb + 1) / 2, 0, 1), each pixel repeated `upscale`×.
    public static func images(latents: Tensor, postprocessing: LatentScaleBias, upscale: Int = 4) throws -> [RGBImage] {
        let shape = latents.shape
        guard shape.count == 4, shape[1] == 4 else {
            throw ReleaseError.unsupported("the SDXL latent preview needs (B, 4, H, W) latents, got \(shape)")
        }
        let (b, h, w) = (shape[0], shape[2], shape[3])
        let raw = try postprocessing.denormalize(latents).contiguous().floats()
        let k = max(upscale, 1)
        var out: [RGBImage] = []
        for n in 0..<b {
            var pixels = [Float](repeating: 0, count: h * k * w * k * 3)
            for y in 0..<h {
                for x in 0..<w {
                    var rgb = factorsBias
                    for c in 0..<4 {
                        let v = raw[((n * 4 + c) * h + y) * w + x] * sdxlScaleFactor
                        for j in 0..<3 { rgb[j] += v * factors[c][j] }
                    }
                    let px = rgb.map { min(max(($0 + 1) / 2, 0), 1) }
                    for dy in 0..<k {
                        for dx in 0..<k {
                            let o = ((y * k + dy) * w * k + x * k + dx) * 3
                            pixels[o] = px[0]; pixels[o + 1] = px[1]; pixels[o + 2] = px[2]
                        }
                    }
                }
            }
            out.append(RGBImage(width: w * k, height: h * k, pixels: pixels))
        }
        return out
    }
}
