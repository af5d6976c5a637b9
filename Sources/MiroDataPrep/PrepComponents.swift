// Port of data/preprocess_data.py (nicolas-dufour/miro @547003a): the models and image decoding its stages
// load (`load_reward_models`, `decode_sample`'s `Image.open(...).convert("RGB")`), as injection points.
import Foundation
import MiroImage
import MiroRewards

/// A reward to annotate with: its JSON key, which caption its `synthetic_<name>` key scores, and how to load it.
/// The model is built by `make` only when some shard still needs it and released before the next reward is
/// loaded: one model in memory at a time, as the official stages keep GPU memory for one stage.
public struct RewardSpec: Sendable {
    /// The JSON key (`aesthetic_score`, `pick_a_score_score`, …); the model's own `name` is not used.
    public var name: String
    public var syntheticCaption: SyntheticCaption
    public var make: @Sendable () throws -> any RewardModel

    public init(name: String, syntheticCaption: SyntheticCaption, make: @escaping @Sendable () throws -> any RewardModel) {
        self.name = name
        self.syntheticCaption = syntheticCaption
        self.make = make
    }
}

/// Image bytes (a sample's `jpg`/`png` member) → RGB at full resolution. The default reads PNG only; the CLI
/// passes the JPEG + PNG decoder of MiroImage.
public struct ImageDecoding: Sendable {
    public var decode: @Sendable (_ bytes: [UInt8], _ name: String) throws -> RGBImage

    public init(_ decode: @escaping @Sendable (_ bytes: [UInt8], _ name: String) throws -> RGBImage) {
        self.decode = decode
    }

    /// PNG through `PNGReader` (stored-deflate PNGs, what MiroImage writes).
    public static let png = ImageDecoding { bytes, _ in try PNGReader.decode(Data(bytes)).rgbImage }
}

/// The VAE stage's image transform: `CenterCrop(ratio="1:1")` then `transforms.Resize(size)` (Pillow bilinear
/// with antialias) — a `size × size` image. The default only crops, and refuses a centred square of another
/// side (it has no Pillow-identical resize); the CLI passes MiroImage's resize.
public struct VAEImageTransform: Sendable {
    public var apply: @Sendable (_ image: RGBImage, _ size: Int) throws -> RGBImage

    public init(_ apply: @escaping @Sendable (_ image: RGBImage, _ size: Int) throws -> RGBImage) {
        self.apply = apply
    }

    public static let cropOnly = VAEImageTransform { image, size in
        let square = VAEImageTransform.centreSquare(image)
        guard square.width == size else {
            throw DataPrepError.input(path: "image", reason: "its centred square is \(square.width)×\(square.width), not \(size)×\(size), "
                + "and this build has no Pillow-identical resize wired in")
        }
        return square
    }

    /// `miro.utils.image_processing.CenterCrop(ratio="1:1")`: the largest centred square, at torchvision's
    /// `center_crop` offset `int(round(d / 2))` (Python rounds halves to even: d = 3 → 2, d = 5 → 2).
    public static func centreSquare(_ image: RGBImage) -> RGBImage {
        let side = min(image.width, image.height)
        guard side != image.width || side != image.height else { return image }
        func offset(_ d: Int) -> Int { let half = d / 2; return d % 2 == 1 && half % 2 == 1 ? half + 1 : half }
        let x0 = offset(image.width - side), y0 = offset(image.height - side)
        var pixels = [Float](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            let src = 3 * ((y + y0) * image.width + x0)
            for i in 0..<(3 * side) { pixels[3 * y * side + i] = image.pixels[src + i] }
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }
}

/// Where a long pass stands, for a progress bar.
public struct PrepProgress: Sendable {
    /// What runs: a reward name, "vae+t5", or "write".
    public var phase: String
    /// Samples (images) handled so far in this phase, and how many the phase has.
    public var done: Int
    public var total: Int
    /// Seconds since the phase started.
    public var elapsed: Double

    public var imagesPerSecond: Double { elapsed > 0 ? Double(done) / elapsed : 0 }
    /// Seconds left at the current rate; nil before the rate is known.
    public var eta: Double? { done > 0 && elapsed > 0 ? Double(total - done) / imagesPerSecond : nil }
}
