import Foundation
import MiroImage
import MiroRewards

/// "quality_score": technical image quality — sharp edges, no noise, no block artefacts — the Shapes world's
/// stand-in for an aesthetic predictor. Image only.
///
/// score = sharpness × 1 / (1 + (σ / 0.025)²) × 1 / (1 + 2·max(0, log₂ blockiness − 0.6)²), where
/// - sharpness = 1 − the no-reference blur estimate of Crété-Roffet et al. (2007): re-blur the image with a
///   7-tap box filter along each axis; a sharp image loses much of its neighbour-to-neighbour variation, a
///   blurry one little. Their "blur" ∈ [0, 1] is the retained fraction (worst axis; summed over R, G and B so
///   edges between colours of equal brightness count), mapped from `sharpnessRange` onto [0, 1]: clean renders
///   saturate at 1 (more edges, such as clutter strokes, do not make a better image), a 3-tap binomial blur lands
///   at ≈ 0.4, a 7-tap one at 0;
/// - σ = the luma (Rec. 601) noise level from Immerkær's Laplacian-difference mask, made robust: the median
///   absolute residual / 0.6745, over the mask norm 6 (the median ignores the few edge pixels; the mask cancels
///   linear ramps);
/// - blockiness = how much larger the neighbour differences across a k-pixel grid are than inside it
///   (k = 2, 3, 4; both axes must agree), which pixelation and block coding cause and natural edges do not.
public struct QualityReward: ImageRewardModel {
    public let name = "quality_score"
    /// Crété-Roffet sharpness (1 − blur) mapped linearly from this range onto [0, 1].
    public static let sharpnessRange: ClosedRange<Float> = 0.35...0.65
    /// Noise σ (luma) at which the noise factor is ½.
    public static let noiseHalfPoint: Float = 0.025

    public init() {}

    public func score(_ image: RGBImage) -> Float {
        let f = Self.factors(image)
        return f.sharpness * f.noise * f.blockiness
    }

    /// The three factors whose product is the score, each in [0, 1] (1 = no defect of that kind): they tell
    /// which defect holds a set of images back.
    public static func factors(_ image: RGBImage) -> (sharpness: Float, noise: Float, blockiness: Float) {
        let m = measure(image)
        let range = sharpnessRange
        let sharp = min(max((m.sharpness - range.lowerBound) / (range.upperBound - range.lowerBound), 0), 1)
        let noise = 1 / (1 + (m.noise / noiseHalfPoint) * (m.noise / noiseHalfPoint))
        let excess = max(0, log2(max(m.blockiness, 1)) - 0.6)
        return (sharp, noise, 1 / (1 + 2 * excess * excess))
    }

    /// The factors' names, in the order `factors` returns them.
    public static let factorNames = ["sharpness", "noise", "blockiness"]

    /// Each factor's mean over `images`, by name (`factorNames`).
    public static func meanFactors(_ images: [RGBImage]) -> [String: Double] {
        let f = images.map(factors)
        return ["sharpness": f.map(\.sharpness).mean, "noise": f.map(\.noise).mean, "blockiness": f.map(\.blockiness).mean]
    }

    /// The three raw measurements: Crété-Roffet sharpness (1 − blur), noise σ, blockiness ratio.
    public static func measure(_ image: RGBImage) -> (sharpness: Float, noise: Float, blockiness: Float) {
        let y = image.luminance()
        let w = image.width, h = image.height
        guard w >= 3, h >= 3 else { return (0, 0, 1) }
        return (sharpness(image), noiseSigma(y, w, h), blockiness(y, w, h))
    }

    /// Crété-Roffet sharpness summed over the R, G and B planes (so an edge between colours of equal luma counts).
    static func sharpness(_ image: RGBImage) -> Float {
        let w = image.width, h = image.height
        var plane = [Float](repeating: 0, count: w * h), blurred = plane
        var sumF: [Float] = [0, 0], sumV: [Float] = [0, 0]  // per axis: x, y
        for c in 0..<3 {
            for p in 0..<(w * h) { plane[p] = image.pixels[3 * p + c] }
            for (axis, (dx, dy)) in [(1, 0), (0, 1)].enumerated() {
                // 7-tap box blur along the axis, edges clamped.
                for y in 0..<h {
                    for x in 0..<w {
                        var s: Float = 0
                        for k in -3...3 {
                            let xx = min(max(x + k * dx, 0), w - 1), yy = min(max(y + k * dy, 0), h - 1)
                            s += plane[yy * w + xx]
                        }
                        blurred[y * w + x] = s / 7
                    }
                }
                for y in dy..<h {
                    for x in dx..<w {
                        let p = y * w + x, q = (y - dy) * w + x - dx
                        let dF = abs(plane[p] - plane[q]), dB = abs(blurred[p] - blurred[q])
                        sumF[axis] += dF
                        sumV[axis] += max(0, dF - dB)
                    }
                }
            }
        }
        let blur = (0..<2).map { sumF[$0] > 1e-4 ? (sumF[$0] - sumV[$0]) / sumF[$0] : 1 }
        return 1 - max(blur[0], blur[1])
    }

    static func noiseSigma(_ y: [Float], _ w: Int, _ h: Int) -> Float {
        var residuals: [Float] = []
        residuals.reserveCapacity((w - 2) * (h - 2))
        for r in 1..<(h - 1) {
            for c in 1..<(w - 1) {
                let p = { (dx: Int, dy: Int) in y[(r + dy) * w + c + dx] }
                let v = 4 * p(0, 0) - 2 * (p(-1, 0) + p(1, 0) + p(0, -1) + p(0, 1)) + p(-1, -1) + p(1, -1) + p(-1, 1) + p(1, 1)
                residuals.append(abs(v))
            }
        }
        return median(residuals) / 0.6745 / 6
    }

    static func blockiness(_ y: [Float], _ w: Int, _ h: Int) -> Float {
        var worst: Float = 1
        for k in 2...4 {
            var ratios: [Float] = []
            for (dx, dy) in [(1, 0), (0, 1)] {
                var boundary: Float = 0, inner: Float = 0, nb = 0, ni = 0
                for r in dy..<h {
                    for c in dx..<w {
                        let d = abs(y[r * w + c] - y[(r - dy) * w + c - dx])
                        if (dx == 1 ? c : r) % k == 0 { boundary += d; nb += 1 } else { inner += d; ni += 1 }
                    }
                }
                let eps: Float = 0.002
                ratios.append((boundary / Float(max(nb, 1)) + eps) / (inner / Float(max(ni, 1)) + eps))
            }
            worst = max(worst, ratios.min() ?? 1)
        }
        return worst
    }
}
