/// An 8-bit RGB image, the form decoded photos take (Pillow's mode "RGB"): what the resizers and the reward
/// preprocessing work on, so that they can match Pillow byte for byte.
public struct RGBImage8: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `height × width × 3` bytes, row-major, channels interleaved (R, G, B).
    public let pixels: [UInt8]

    /// Fails unless `width` and `height` are positive and `pixels` holds exactly `height × width × 3` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else { throw ImageError.invalidArgument("an image needs a positive size, got \(width)×\(height)") }
        let (area, o1) = width.multipliedReportingOverflow(by: height)
        let (count, o2) = area.multipliedReportingOverflow(by: 3)
        guard !o1, !o2, pixels.count == count else {
            throw ImageError.invalidArgument("an 8-bit RGB image of \(width)×\(height) needs \(o1 || o2 ? "more than Int.max" : "\(count)") bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Sizes already checked by the caller (the resizers and decoders of this module).
    init(checkedWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The float image the rest of the project draws with: `k / 255` per byte (torchvision's `ToTensor`).
    public var rgbImage: RGBImage { RGBImage(width: width, height: height, pixels: pixels.map { Float($0) / 255 }) }

    /// A float image to 8 bits as the pipeline's `ImageRemap.uint8Images` (`remap_image_torch`) does it: clamp to
    /// [0, 1], × 255 in float32, then a *truncating* cast (NaN becomes 0). `k / 255` images come back unchanged.
    public init(_ image: RGBImage) throws {
        let bytes = image.pixels.map { v -> UInt8 in v.isNaN ? 0 : UInt8(min(max(v, 0), 1) * 255) }
        try self.init(width: image.width, height: image.height, pixels: bytes)
    }

    /// The red, green and blue bytes of pixel (x, y).
    @inlinable public func pixel(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
        let i = 3 * (y * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
