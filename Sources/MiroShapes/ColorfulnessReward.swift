/// "colorfulness_score": the Hasler & Süsstrunk (2003) colourfulness metric, image only.
///
/// On the 0–255 scale, rg = R − G and yb = ½(R + G) − B per pixel, and
/// C = √(σ_rg² + σ_yb²) + 0.3 · √(μ_rg² + μ_yb²).
/// Hasler & Süsstrunk's perceptual anchors are C ≈ 15 "slightly", 33 "moderately", 45 "averagely",
/// 59 "quite", 82 "highly" colourful. The score squashes C to [0, 1) as C / (C + 45): an "averagely
/// colourful" image scores 0.5, a grey one 0.

import MiroImage
import MiroRewards

public struct ColorfulnessReward: ImageRewardModel {
    public let name = "colorfulness_score"
    /// The C that maps to 0.5.
    public static let halfPoint: Float = 45

    public init() {}

    public func score(_ image: RGBImage) -> Float {
        let c = Self.colorfulness(image)
        return c / (c + Self.halfPoint)
    }

    /// The raw metric C on the 0–255 scale.
    public static func colorfulness(_ image: RGBImage) -> Float {
        let n = image.width * image.height
        guard n > 0 else { return 0 }
        var sumRG = 0.0, sumYB = 0.0, sumRG2 = 0.0, sumYB2 = 0.0
        for i in 0..<n {
            let r = Double(image.pixels[3 * i]) * 255, g = Double(image.pixels[3 * i + 1]) * 255
            let b = Double(image.pixels[3 * i + 2]) * 255
            let rg = r - g, yb = 0.5 * (r + g) - b
            sumRG += rg; sumYB += yb; sumRG2 += rg * rg; sumYB2 += yb * yb
        }
        let count = Double(n)
        let meanRG = sumRG / count, meanYB = sumYB / count
        let varRG = max(sumRG2 / count - meanRG * meanRG, 0), varYB = max(sumYB2 / count - meanYB * meanYB, 0)
        return Float((varRG + varYB).squareRoot() + 0.3 * (meanRG * meanRG + meanYB * meanYB).squareRoot())
    }
}
