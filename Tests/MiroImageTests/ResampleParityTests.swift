import Foundation
import MiroImage
import Testing

/// Pillow 9.4 `Image.resize` and torchvision 0.14 `Resize` / `CenterCrop` on PIL images, byte for byte.
@Suite("Pillow and torchvision resizing parity", .serialized)
struct ResampleParityTests {
    @Test("Image.resize: five filters, up, down, one axis, non-uniform")
    func pillowResize() throws {
        let f = try ImageFixtures.get()
        #expect(f.resample.count >= 100)
        var failures: [String] = []
        for c in f.resample {
            let filter = try #require(ResampleFilter(rawValue: c.filter))
            let out = try f.image(c.source).resized(width: c.width, height: c.height, filter: filter)
            if try !f.matches(out, c.expected) { failures.append(c.expected) }
        }
        #expect(failures.isEmpty, "differ from Pillow: \(failures)")
    }

    @Test("torchvision Resize, CenterCrop (rounding, padding), their composition, MIRO's VAE crop")
    func torchvision() throws {
        let f = try ImageFixtures.get()
        var failures: [String] = []
        for c in f.torchvision {
            let source = try f.image(c.source)
            let out: RGBImage8
            switch c.op {
            case "resize":
                out = try source.resizedShortestSide(to: try #require(c.size), filter: try #require(ResampleFilter(rawValue: c.filter ?? "")))
            case "resize_crop":
                out = try source.resizedShortestSideAndCentreCropped(to: try #require(c.size), filter: try #require(ResampleFilter(rawValue: c.filter ?? "")))
            case "center_crop":
                out = try source.centerCropped(width: try #require(c.width), height: try #require(c.height))
            case "vae":
                out = try source.centreCroppedToSquareAndResized(to: try #require(c.size))
            default:
                Issue.record("unknown op \(c.op)")
                continue
            }
            if try !f.matches(out, c.expected) { failures.append(c.expected) }
        }
        #expect(f.torchvision.count >= 40)
        #expect(failures.isEmpty, "differ from torchvision: \(failures)")
    }

    @Test("torchvision's shortest-side size rule and half-to-even crop offsets")
    func sizeRules() throws {
        #expect(RGBImage8.shortestSideSize(width: 450, height: 655, to: 224) == (224, 326))
        #expect(RGBImage8.shortestSideSize(width: 655, height: 450, to: 224) == (326, 224))
        #expect(RGBImage8.shortestSideSize(width: 3, height: 1000, to: 7) == (7, 2333))
        let image = try RGBImage8(width: 5, height: 1, pixels: (0..<15).map { UInt8($0) })
        // margin 3 → round(1.5) = 2; margin 1 → round(0.5) = 0
        #expect(try image.centerCropped(width: 2, height: 1).pixels == [6, 7, 8, 9, 10, 11])
        #expect(try image.centerCropped(width: 4, height: 1).pixels == Array(0..<12).map { UInt8($0) })
    }

    @Test("bad sizes are errors, not traps")
    func badSizes() throws {
        let image = try RGBImage8(width: 2, height: 2, pixels: [UInt8](repeating: 9, count: 12))
        #expect(throws: ImageError.self) { try image.resized(width: 0, height: 3, filter: .bicubic) }
        #expect(throws: ImageError.self) { try image.resized(width: 1 << 40, height: 1 << 40, filter: .bicubic) }
        #expect(throws: ImageError.self) { try image.resizedShortestSide(to: -1, filter: .bilinear) }
        #expect(throws: ImageError.self) { try image.centerCropped(width: 0, height: 1) }
        #expect(throws: ImageError.self) { try RGBImage8(width: 2, height: 2, pixels: [1, 2, 3]) }
        #expect(throws: ImageError.self) { try RGBImage8(width: Int.max, height: 2, pixels: []) }
    }

    @Test("float ⇄ 8-bit: k/255 and the pipeline's truncating cast round-trip every byte")
    func conversions() throws {
        var bytes: [UInt8] = []
        for k in 0..<256 { bytes += [UInt8(k), UInt8(255 - k), UInt8(k / 2)] }
        let image = try RGBImage8(width: 16, height: 16, pixels: bytes)
        #expect(try RGBImage8(image.rgbImage) == image)
        let float = RGBImage(width: 2, height: 1, pixels: [0.999, 1.5, -0.2, .nan, 0.5, 0.0019])
        #expect(try RGBImage8(float).pixels == [254, 255, 0, 0, 127, 0])
    }
}
