/// The defects the generator puts into part of the data so that every reward has a spread to learn from, the way
/// web data mixes sharp and blurry photos, apt and wrong captions. Each sample records the ones it received.

import MiroData
import MiroImage

public enum ShapesDegradation: Codable, Sendable, Hashable {
    // Caption mismatches: the image is fine, the caption is wrong about it.
    /// A named colour is replaced by another one.
    case wrongColor
    /// A counting caption states the wrong number.
    case wrongCount
    /// A named shape is replaced by another one.
    case wrongShape
    /// A position caption states the opposite relation.
    case swappedPosition
    /// A colour-attribution caption binds each colour to the other object.
    case swappedColors

    // Image defects.
    /// Binomial blur with `2·radius + 1` taps.
    case blur(radius: Int)
    /// Additive near-Gaussian pixel noise, per channel.
    case noise(sigma: Float, seed: UInt64)
    /// Small distractor shapes and thin strokes added to the scene (they are in `ShapesScene`).
    case clutter(shapes: Int, strokes: Int)
    /// Desaturated towards grey and flattened towards a light mean, by `amount` ∈ [0, 1].
    case washedOut(amount: Float)
    /// JPEG-like: detail inside `block`×`block` tiles damped and each channel quantised to `levels` values.
    case blocky(block: Int, levels: Int)
    /// Averaged over `factor`×`factor` tiles.
    case pixelated(factor: Int)

    /// A stable name for statistics: "wrong_color", "blur", ...
    public var kind: String {
        switch self {
        case .wrongColor: return "wrong_color"
        case .wrongCount: return "wrong_count"
        case .wrongShape: return "wrong_shape"
        case .swappedPosition: return "swapped_position"
        case .swappedColors: return "swapped_colors"
        case .blur: return "blur"
        case .noise: return "noise"
        case .clutter: return "clutter"
        case .washedOut: return "washed_out"
        case .blocky: return "blocky"
        case .pixelated: return "pixelated"
        }
    }

    /// Whether this is a caption mismatch rather than an image defect.
    public var isCaptionMismatch: Bool {
        switch self {
        case .wrongColor, .wrongCount, .wrongShape, .swappedPosition, .swappedColors: return true
        default: return false
        }
    }

    /// Applies an image defect (caption mismatches and clutter, which act elsewhere, return the image unchanged).
    public func apply(to image: RGBImage) -> RGBImage {
        var out = image
        switch self {
        case .blur(let radius):
            out = image.binomialBlurred(radius: radius)
        case .noise(let sigma, let seed):
            // Mostly luma noise, as web images show it after JPEG's chroma subsampling: equal on R, G and B, plus
            // a weaker per-channel part. Full-strength chroma noise would make noise the most colourful thing in the
            // data and tie the colourfulness reward to low quality.
            var rng = SplitMix64(seed: seed)
            for p in 0..<(out.width * out.height) {
                let luma = sigma * Float(rng.gaussian4())
                for c in 0..<3 { out.pixels[3 * p + c] += luma + Self.chromaNoiseShare * sigma * Float(rng.gaussian4()) }
            }
        case .washedOut(let amount):
            let luma = image.luminance()
            let mean = luma.reduce(0, +) / Float(max(luma.count, 1))
            let target = mean + 0.35 * amount * (1 - mean)
            let contrast = 1 - 0.55 * amount
            for p in luma.indices {
                for c in 0..<3 {
                    let desaturated = out.pixels[3 * p + c] * (1 - amount) + luma[p] * amount
                    out.pixels[3 * p + c] = target + (desaturated - mean) * contrast
                }
            }
        case .blocky(let block, let levels):
            out = Self.tileAverage(image, tile: block, keepDetail: 0.55)
            let steps = Float(max(levels - 1, 1))
            for i in out.pixels.indices { out.pixels[i] = (min(max(out.pixels[i], 0), 1) * steps).rounded() / steps }
        case .pixelated(let factor):
            out = Self.tileAverage(image, tile: factor, keepDetail: 0)
        case .wrongColor, .wrongCount, .wrongShape, .swappedPosition, .swappedColors, .clutter:
            break
        }
        out.clamp()
        return out
    }

    /// The per-channel part of `.noise`, relative to its shared (luma) part.
    static let chromaNoiseShare: Float = 0.3

    /// Replaces each pixel by its tile mean plus `keepDetail` × its deviation from that mean.
    static func tileAverage(_ image: RGBImage, tile: Int, keepDetail: Float) -> RGBImage {
        var out = image
        let t = max(tile, 1)
        for ty in stride(from: 0, to: image.height, by: t) {
            for tx in stride(from: 0, to: image.width, by: t) {
                let ys = ty..<min(ty + t, image.height), xs = tx..<min(tx + t, image.width)
                var mean: (Float, Float, Float) = (0, 0, 0)
                for y in ys { for x in xs { let p = image.pixel(x, y); mean.0 += p.0; mean.1 += p.1; mean.2 += p.2 } }
                let n = Float(ys.count * xs.count)
                let m = [mean.0 / n, mean.1 / n, mean.2 / n]
                for y in ys {
                    for x in xs {
                        let i = 3 * (y * image.width + x)
                        for c in 0..<3 { out.pixels[i + c] = m[c] + keepDetail * (image.pixels[i + c] - m[c]) }
                    }
                }
            }
        }
        return out
    }
}
