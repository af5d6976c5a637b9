import MiroEngine
import MiroFormats
import MiroImage
import MiroRewards

/// Maps RGB pixels in [0, 1] to the model's data space and back, channel-wise like MIRO's latent
/// normalisation (method §5.1): x₀ = σ_data · (p − μ_c) / σ_c, so every channel has std σ_data.
public struct PixelNormalization: Codable, Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]
    public var sigmaData: Double = 0.5

    public init(mean: [Double], std: [Double], sigmaData: Double = 0.5) {
        self.mean = mean
        self.std = std
        self.sigmaData = sigmaData
    }

    /// Per-channel mean and std of a set of images.
    public static func fit(_ images: [RGBImage]) -> PixelNormalization {
        var sum = [Double](repeating: 0, count: 3), sq = [Double](repeating: 0, count: 3)
        var n = 0.0
        for image in images {
            for i in stride(from: 0, to: image.pixels.count, by: 3) {
                for c in 0..<3 { let v = Double(image.pixels[i + c]); sum[c] += v; sq[c] += v * v }
            }
            n += Double(image.width * image.height)
        }
        let mean = sum.map { $0 / max(n, 1) }
        let std = (0..<3).map { c in max(((sq[c] / max(n, 1)) - mean[c] * mean[c]).squareRoot(), 1e-3) }
        return PixelNormalization(mean: mean, std: std)
    }

    /// Throws unless there is one finite mean and one positive std per RGB channel and σ_data > 0
    /// (decoded configurations are validated; this guards values built in code).
    func check() throws {
        guard mean.count == 3, std.count == 3, mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }),
              sigmaData.isFinite, sigmaData > 0 else {
            throw InputError("PixelNormalization: needs 3 finite means, 3 positive stds and sigma_data > 0, got mean \(mean), std \(std), sigma_data \(sigmaData)")
        }
    }

    /// (N, 3, H, W) float32 model inputs.
    public func encode(_ images: [RGBImage]) throws -> Tensor {
        try check()
        guard let first = images.first else { throw InputError("PixelNormalization: no images") }
        let (h, w) = (first.height, first.width)
        var out = [Float](repeating: 0, count: images.count * 3 * h * w)
        for (k, image) in images.enumerated() {
            guard image.width == w, image.height == h else {
                throw InputError("PixelNormalization: image \(k) is \(image.width)×\(image.height), expected \(w)×\(h)")
            }
            for y in 0..<h {
                for x in 0..<w {
                    let p = 3 * (y * w + x)
                    for c in 0..<3 {
                        out[((k * 3 + c) * h + y) * w + x] = Float(sigmaData * (Double(image.pixels[p + c]) - mean[c]) / std[c])
                    }
                }
            }
        }
        return try Tensor(out, shape: [images.count, 3, h, w])
    }

    /// Model outputs (N, 3, H, W) back to images, clamped to [0, 1].
    public func decode(_ x: Tensor) throws -> [RGBImage] {
        let s = x.shape
        try check()
        guard s.count == 4, s[1] == 3 else { throw InputError("PixelNormalization: expected (N, 3, H, W), got \(s)") }
        let values = try x.floats()
        let (n, h, w) = (s[0], s[2], s[3])
        return (0..<n).map { k in
            var pixels = [Float](repeating: 0, count: h * w * 3)
            for y in 0..<h {
                for xx in 0..<w {
                    for c in 0..<3 {
                        let v = Double(values[((k * 3 + c) * h + y) * w + xx]) * std[c] / sigmaData + mean[c]
                        pixels[3 * (y * w + xx) + c] = Float(min(max(v, 0), 1))
                    }
                }
            }
            return RGBImage(width: w, height: h, pixels: pixels)
        }
    }
}
