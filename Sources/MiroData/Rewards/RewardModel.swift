/// An RGB image as 32-bit floats in [0, 1], row-major, channels last (H × W × 3).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `height × width × 3` values, row-major, channels interleaved.
    public var pixels: [Float]

    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height * 3, "pixel buffer does not match \(width)×\(height)×3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int, fill: (Float, Float, Float) = (0, 0, 0)) {
        self.width = width
        self.height = height
        pixels = [Float](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = fill.0; pixels[3 * i + 1] = fill.1; pixels[3 * i + 2] = fill.2 }
    }

    @inlinable public func pixel(_ x: Int, _ y: Int) -> (Float, Float, Float) {
        let i = 3 * (y * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

/// A reward scorer: maps (image, caption) pairs to one scalar each, higher is better.
/// Every scorer of the project — the Shapes world's programmatic rewards here, neural scorers
/// later — sits behind this protocol, so that annotation, evaluation and best-of-N sampling do
/// not care which one they run.
public protocol RewardModel: Sendable {
    /// The conditioning key this reward trains under, e.g. "alignment_score" (official names end
    /// in `_score`: `clip_score`, `aesthetic_score`, ...).
    var name: String { get }
    func score(images: [RGBImage], captions: [String]) throws -> [Float]
}

extension RewardModel {
    /// The count check every scorer starts with: one caption per image.
    public func checkPairing(images: [RGBImage], captions: [String]) throws {
        guard images.count == captions.count else {
            throw MiroDataError.countMismatch(what: "\(name): images and captions", expected: images.count, got: captions.count)
        }
    }
}

/// A reward that looks at the image only (quality, colourfulness, compressibility): it scores one
/// image, and the caption-pairing batch method comes for free.
public protocol ImageRewardModel: RewardModel {
    func score(_ image: RGBImage) -> Float
}

extension ImageRewardModel {
    public func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try checkPairing(images: images, captions: captions)
        return images.map { score($0) }
    }
}

extension Array where Element == Float {
    /// The mean, accumulated in Double (reward tables average thousands of scores); 0 when empty.
    public var mean: Double { isEmpty ? 0 : reduce(0) { $0 + Double($1) } / Double(count) }
}
