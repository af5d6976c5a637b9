import Foundation
import MiroImage
import Testing

/// JPEG and PNG files decoded as Pillow 9.4's `Image.open(f).convert("RGB")`, byte for byte.
@Suite("JPEG and PNG decoding parity", .serialized)
struct DecoderParityTests {
    @Test("JPEG: 4:2:0, 4:4:4, 4:2:2, progressive, grey, CMYK, EXIF-rotated, smaller than an MCU")
    func jpeg() throws {
        let f = try ImageFixtures.get()
        #expect(f.jpeg.count == 8)
        for c in f.jpeg {
            let image = try ImageDecoder.decode(contentsOf: ImageFixtures.file(c.file))
            #expect(try f.matches(image, c.expected), "\(c.file) (\(c.pillow_mode))")
        }
    }

    @Test("PNG: every colour type and depth, short palettes, tRNS, Adam7, all filters, Pillow-written files")
    func png() throws {
        let f = try ImageFixtures.get()
        #expect(f.png.count >= 25)
        for c in f.png {
            let image = try ImageDecoder.decode(contentsOf: ImageFixtures.file(c.file))
            #expect(try f.matches(image, c.expected), "\(c.file) (\(c.pillow_mode))")
        }
    }

    @Test("truncated and corrupt files are errors that name the file")
    func damaged() throws {
        let f = try ImageFixtures.get()
        #expect(f.errors.count >= 5)
        for c in f.errors {
            let path = ImageFixtures.file(c.file)
            do {
                _ = try ImageDecoder.decode(contentsOf: path)
                Issue.record("\(c.file) decoded")
            } catch let error as ImageError {
                #expect(error.description.contains(path), "\(error)")
            }
        }
        #expect(throws: ImageError.self) { try ImageDecoder.decode([UInt8](), name: "empty") }
        #expect(throws: ImageError.self) { try ImageDecoder.decode([0xFF, 0xD8, 0xFF], name: "stub.jpg") }
        // Every prefix of a JPEG and a PNG: an error or (for a JPEG missing only its end marker) an image, never a crash.
        for name in ["jpeg/progressive.jpg", "png/rgb8_interlaced.png"] {
            let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.file(name))))
            for cut in stride(from: 0, to: data.count, by: max(1, data.count / 97)) {
                _ = try? ImageDecoder.decode(Array(data[0..<cut]), name: name)
            }
        }
    }

    @Test("the format comes from the magic bytes, not the name")
    func magic() throws {
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.file("png/pillow_rgb.png"))))
        #expect(ImageDecoder.format(of: png) == .png)
        #expect(try ImageDecoder.decode(png, name: "misnamed.jpg").width == 17)
    }
}
