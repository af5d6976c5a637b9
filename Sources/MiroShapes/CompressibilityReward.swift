import Foundation
import MiroImage
import MiroRewards

/// "compressibility_score": DDPO's JPEG-compressibility reward (smaller file = higher reward), as an honest
/// lossless proxy that needs no codec.
///
/// The image is quantised to 8-bit RGB and coded the way PNG does before deflate: each row takes the filter
/// (None, Sub, Up, Average, Paeth) with the smallest sum of absolute residuals (libpng's heuristic), then the
/// filter bytes and residuals are charged their cost under an adaptive order-0 model (Krichevsky–Trofimov
/// counts, ½ prior per byte value) — the size an ideal arithmetic coder reaches on PNG-filtered bytes without
/// LZ matching. Flat colour and smooth ramps cost almost nothing; noise, grain and clutter cost a lot.
/// score = 1 / (1 + bpp / 6), with bpp the coded bits per pixel (flat colour ≈ 0.85, a clean Shapes image ≈ 0.45,
/// uniform noise ≈ 0.2).
public struct CompressibilityReward: ImageRewardModel {
    public let name = "compressibility_score"
    /// The bits per pixel that score ½.
    public static let halfPointBitsPerPixel: Double = 6

    public init() {}

    public func score(_ image: RGBImage) -> Float {
        Float(1 / (1 + Self.bitsPerPixel(image) / Self.halfPointBitsPerPixel))
    }

    /// Coded size in bits per pixel.
    public static func bitsPerPixel(_ image: RGBImage) -> Double {
        let pixels = image.width * image.height
        guard pixels > 0 else { return 0 }
        return codedBits(image.rgbBytes(), width: image.width, height: image.height) / Double(pixels)
    }

    /// Bits for PNG-filtered rows under an adaptive order-0 model.
    static func codedBits(_ bytes: [UInt8], width: Int, height: Int) -> Double {
        let stride = 3 * width
        var counts = [Double](repeating: 0.5, count: 256)
        var total = 128.0
        var bits = 0.0
        func code(_ symbol: UInt8) {
            bits -= log2(counts[Int(symbol)] / total)
            counts[Int(symbol)] += 1
            total += 1
        }
        let zero = [UInt8](repeating: 0, count: stride)
        var residual = [UInt8](repeating: 0, count: stride)
        var best = [UInt8](repeating: 0, count: stride)
        for row in 0..<height {
            let current = Array(bytes[(row * stride)..<((row + 1) * stride)])
            let previous = row > 0 ? Array(bytes[((row - 1) * stride)..<(row * stride)]) : zero
            var bestFilter: UInt8 = 0, bestCost = Int.max
            for filter in UInt8(0)...4 {
                var cost = 0
                for i in 0..<stride {
                    let a = i >= 3 ? Int(current[i - 3]) : 0, b = Int(previous[i]), c = i >= 3 ? Int(previous[i - 3]) : 0
                    let predicted = PNG.predict(filter: Int(filter), a, b, c) ?? 0
                    let r = UInt8(truncatingIfNeeded: Int(current[i]) - predicted)
                    residual[i] = r
                    cost += abs(Int(Int8(bitPattern: r)))
                }
                if cost < bestCost { bestCost = cost; bestFilter = filter; best = residual }
            }
            code(bestFilter)
            for r in best { code(r) }
        }
        return bits
    }
}
