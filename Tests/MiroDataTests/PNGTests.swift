import Foundation
import Testing
import MiroData
import MiroImage
import MiroShapes

@Suite("PNG writer and reader")
struct PNGTests {
    static func chunks(_ data: Data) -> [(type: String, payload: [UInt8], crc: UInt32)] {
        let bytes = [UInt8](data)
        var out: [(String, [UInt8], UInt32)] = []
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let payload = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let c = bytes[(offset + 8 + length)..<(offset + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            out.append((type, payload, c))
            offset += 12 + length
        }
        return out
    }

    static let sample = ShapesWorld.dataset(count: 1, seed: 4)[0].image

    @Test("checksums match their reference values")
    func checksums() {
        #expect(Checksums.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Checksums.crc32([UInt8]()) == 0)
        #expect(Checksums.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(Checksums.adler32([UInt8]()) == 1)
        // Long input (exercises the deferred modulo); values from Python's zlib.adler32 / zlib.crc32.
        #expect(Checksums.adler32([UInt8](repeating: 255, count: 100_000)) == 0x149A_302C)
        #expect(Checksums.crc32([UInt8](repeating: 255, count: 100_000)) == 0x68C6_CEC4)
    }

    @Test("signature, chunk order, chunk CRCs and IHDR")
    func structure() throws {
        let data = try PNG.encode(Self.sample, text: [PNGText("parameters", "a red circle\nSteps: 50")])
        #expect(Array(data.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let chunks = Self.chunks(data)
        #expect(chunks.map(\.type) == ["IHDR", "tEXt", "IDAT", "IEND"])
        for chunk in chunks { #expect(Checksums.crc32(Array(chunk.type.utf8) + chunk.payload) == chunk.crc) }
        #expect(chunks[0].payload == [0, 0, 0, 32, 0, 0, 0, 32, 8, 2, 0, 0, 0])
        // zlib: header 78 01, one final stored block of 32 × (1 + 96) bytes, Adler-32 of the raw scanlines.
        let idat = chunks[2].payload
        #expect(Array(idat.prefix(3)) == [0x78, 0x01, 0x01])
        let n = 32 * 97
        #expect(Array(idat[3..<7]) == [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)])
        let raw = Array(idat[7..<(7 + n)])
        #expect(raw[0] == 0 && raw[97] == 0)
        #expect(Array(idat.suffix(4)) == Array(withUnsafeBytes(of: Checksums.adler32(raw).bigEndian, Array.init)))
    }

    @Test("pixels round-trip through the reader (8-bit RGB and RGBA)")
    func roundTrip() throws {
        let decoded = try PNGReader.decode(try PNG.encode(Self.sample))
        #expect(decoded.width == 32 && decoded.height == 32 && decoded.channels == 3)
        #expect(decoded.bytes == Self.sample.rgbBytes())
        #expect(decoded.rgbImage.rgbBytes() == Self.sample.rgbBytes())
        let rgba: [UInt8] = (0..<(7 * 5 * 4)).map { UInt8(($0 * 37) & 0xFF) }
        let back = try PNGReader.decode(try PNG.encode(bytes: rgba, width: 7, height: 5, alpha: true))
        #expect(back.channels == 4 && back.bytes == rgba)
    }

    @Test("images over 64 KiB of scanlines span several stored blocks")
    func multipleBlocks() throws {
        var rng = SplitMix64(seed: 1)
        let image = RGBImage(width: 200, height: 150, pixels: (0..<(200 * 150 * 3)).map { _ in Float(rng.uniform()) })
        let data = try PNG.encode(image)
        let idat = Self.chunks(data).first { $0.type == "IDAT" }!.payload
        #expect(idat[2] == 0)  // first block not final
        #expect(idat.count == 2 + 2 * 5 + 150 * 601 + 4)
        #expect(try PNGReader.decode(data).bytes == image.rgbBytes())
    }

    @Test("text chunks: tEXt for Latin-1, iTXt for other text, both read back")
    func text() throws {
        let entries = [PNGText("parameters", "a red circle\nSteps: 50, Seed: 42"), PNGText("Comment", "café"),
                       PNGText("miro", "{\"prompt\": \"一个红色的圆\", \"ok\": \"✓\"}")]
        let data = try PNG.encode(Self.sample, text: entries)
        #expect(Self.chunks(data).map(\.type) == ["IHDR", "tEXt", "tEXt", "iTXt", "IDAT", "IEND"])
        #expect(try PNGReader.decode(data).text == entries)
        #expect(throws: ImageError.self) { try PNG.encode(Self.sample, text: [PNGText("", "x")]) }
        #expect(throws: ImageError.self) { try PNG.encode(Self.sample, text: [PNGText(" lead", "x")]) }
        #expect(throws: ImageError.self) { try PNG.encode(Self.sample, text: [PNGText(String(repeating: "k", count: 80), "x")]) }
        #expect(throws: ImageError.self) { try PNG.encode(Self.sample, text: [PNGText("k", "nul\u{0}inside")]) }
    }

    @Test("the reader rejects damaged files")
    func damaged() throws {
        let good = [UInt8](try PNG.encode(Self.sample))
        var badCRC = good
        badCRC[20] ^= 1  // inside IHDR
        #expect(throws: ImageError.self) { try PNGReader.decode(Data(badCRC)) }
        #expect(throws: ImageError.self) { try PNGReader.decode(Data(good.prefix(good.count - 20))) }
        #expect(throws: ImageError.self) { try PNGReader.decode(Data([1, 2, 3])) }
    }

    /// A write that fails after the temporary file exists (the destination is a non-empty directory, so the
    /// rename fails) must not leave the temporary behind.
    @Test func failedWriteLeavesNoTemporary() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("miro-png-\(UInt32.random(in: 0...UInt32.max))")
        let blocker = directory.appendingPathComponent("taken.png")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: blocker.appendingPathComponent("inside"))
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: ImageError.self) { try PNG.write(Self.sample, to: blocker) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["taken.png"])
    }

    @Test("atomic write: the file appears whole, replaces an old one, leaves no temporary files")
    func atomicWrite() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("miro-png-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("sample.png")
        try Data("old".utf8).write(to: url)
        try PNG.write(Self.sample, to: url, text: [PNGText("parameters", "x")])
        #expect(try PNGReader.decode(Data(contentsOf: url)).bytes == Self.sample.rgbBytes())
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["sample.png"])
        #expect(throws: ImageError.self) {
            try PNG.write(Self.sample, to: directory.appendingPathComponent("missing/sub/x.png"))
        }
    }

    @Test("A1111 infotext: prompt, negative prompt, quoted settings")
    func infotext() {
        let text = PNG.infotext(prompt: "a red circle", negativePrompt: "blur",
                                settings: [("Steps", "50"), ("Seed", "42"), ("Rewards", "alignment=1, quality=0.5"),
                                           ("Guidance", "7 (miro: (1+w)c-wu)")])
        #expect(text == "a red circle\nNegative prompt: blur\nSteps: 50, Seed: 42, "
            + "Rewards: \"alignment=1, quality=0.5\", Guidance: \"7 (miro: (1+w)c-wu)\"")
        #expect(PNG.infotext(prompt: "p", settings: [("Size", "32x32")]) == "p\nSize: 32x32")
    }
}
