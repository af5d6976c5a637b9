import Foundation
import MiroFormats
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PNG text chunk: written as `tEXt` when the value is Latin-1, as `iTXt` (UTF-8) otherwise.
public struct PNGText: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A PNG writer with no zlib dependency: 8-bit RGB or RGBA, filter type 0, the zlib stream made of *stored*
/// (uncompressed) deflate blocks — valid for every decoder, just not small (a 32×32 sample is ≈ 3 KB) — with
/// correct CRC-32 per chunk and Adler-32 over the stream, plus text chunks for the prompt and settings
/// (A1111's `parameters`, our machine-readable `miro` JSON). `PNGReader` reads such files back.
public enum PNG {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The most bytes one stored deflate block can carry.
    static let maxStoredBlock = 65_535

    /// Encodes an image as 8-bit RGB.
    public static func encode(_ image: RGBImage, text: [PNGText] = []) throws -> Data {
        try encode(bytes: image.rgbBytes(), width: image.width, height: image.height, alpha: false, text: text)
    }

    /// Encodes interleaved 8-bit samples: RGB (`alpha == false`) or RGBA.
    public static func encode(bytes: [UInt8], width: Int, height: Int, alpha: Bool, text: [PNGText] = []) throws -> Data {
        let channels = alpha ? 4 : 3
        guard width > 0, height > 0, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw ImageError.png("image size \(width)×\(height) is not encodable")
        }
        guard bytes.count == width * height * channels else {
            throw ImageError.png("\(bytes.count) bytes do not make a \(width)×\(height)×\(channels) image")
        }
        var out = Data(signature)
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, alpha ? 6 : 2, 0, 0, 0]  // bit depth, colour type, compression, filter, interlace
        appendChunk("IHDR", header, to: &out)
        for entry in text { appendChunk(try textChunk(entry), to: &out) }

        // Scanlines, each led by filter type 0 (None).
        let rowBytes = width * channels
        var raw = [UInt8]()
        raw.reserveCapacity(height * (rowBytes + 1))
        for y in 0..<height {
            raw.append(0)
            raw += bytes[(y * rowBytes)..<((y + 1) * rowBytes)]
        }
        appendChunk("IDAT", zlibStored(raw), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// Writes `image` to `url` atomically (see `writeAtomically`).
    public static func write(_ image: RGBImage, to url: URL, text: [PNGText] = []) throws {
        try writeAtomically(encode(image, text: text), to: url)
    }

    /// Writes through `AtomicFile` (a temporary file in the destination's directory, flushed, then renamed over
    /// the destination, and removed again on any failure), so a reader never sees a half-written file, an
    /// interrupted run leaves the old file intact, and a failed write leaves no empty temporary behind.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        do {
            try AtomicFile.write(data, to: url)
        } catch let error as FormatError {
            throw ImageError.io(path: url.path, reason: error.description)
        }
    }

    /// The A1111 "infotext" that `parameters` chunks carry: the prompt, `Negative prompt: …` if any, then
    /// `Key: value` pairs joined by ", "; values holding a comma, colon or newline are JSON-quoted, as A1111's
    /// `quote()` does.
    public static func infotext(prompt: String, negativePrompt: String? = nil, settings: [(String, String)]) -> String {
        func quote(_ text: String) -> String {
            guard text.contains(",") || text.contains(":") || text.contains("\n") else { return text }
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        var lines = [prompt]
        if let negativePrompt, !negativePrompt.isEmpty { lines.append("Negative prompt: \(negativePrompt)") }
        lines.append(settings.map { "\($0.0): \(quote($0.1))" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    // MARK: - Pieces

    /// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4) and the Adler-32 trailer.
    static func zlibStored(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]  // deflate, 32K window, no dictionary; 0x7801 is a multiple of 31
        var offset = 0
        repeat {
            let length = min(maxStoredBlock, raw.count - offset)
            let final = offset + length == raw.count
            out.append(final ? 1 : 0)  // BFINAL, BTYPE = 00 (stored), padding to the byte boundary
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += raw[offset..<(offset + length)]
            offset += length
        } while offset < raw.count
        out += bigEndian(Checksums.adler32(raw))
        return out
    }

    static func textChunk(_ entry: PNGText) throws -> (String, [UInt8]) {
        let keyScalars = Array(entry.key.unicodeScalars)
        let validKey = (1...79).contains(keyScalars.count)
            && keyScalars.allSatisfy { (0x20...0x7E).contains($0.value) || (0xA1...0xFF).contains($0.value) }
            && keyScalars.first != " " && keyScalars.last != " " && !entry.key.contains("  ")
        guard validKey else {
            throw ImageError.png(
                "invalid text keyword \"\(entry.key)\" (1–79 Latin-1 characters, no leading, trailing or double spaces)")
        }
        guard !entry.value.unicodeScalars.contains("\0") else {
            throw ImageError.png("text for \"\(entry.key)\" contains a NUL character, which PNG text cannot hold")
        }
        let key = keyScalars.map { UInt8($0.value) }
        let latin1 = entry.value.unicodeScalars.allSatisfy { $0.value <= 0xFF }
        if latin1 {
            return ("tEXt", key + [0] + entry.value.unicodeScalars.map { UInt8($0.value) })
        }
        // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translation, NUL, UTF-8.
        return ("iTXt", key + [0, 0, 0, 0, 0] + Array(entry.value.utf8))
    }

    static func appendChunk(_ chunk: (String, [UInt8]), to out: inout Data) {
        appendChunk(chunk.0, chunk.1, to: &out)
    }

    static func appendChunk(_ type: String, _ payload: [UInt8], to out: inout Data) {
        let typeBytes = Array(type.utf8)
        out.append(contentsOf: bigEndian(UInt32(payload.count)))
        out.append(contentsOf: typeBytes)
        out.append(contentsOf: payload)
        out.append(contentsOf: bigEndian(Checksums.crc32(typeBytes + payload)))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

extension PNG {
    /// The value PNG's row filter `filter` (0 none, 1 sub, 2 up, 3 average, 4 Paeth) predicts for a byte
    /// from its left (`a`), upper (`b`) and upper-left (`c`) neighbours; nil for an unknown filter. The
    /// reader adds it back, the compressibility reward subtracts it.
    public static func predict(filter: Int, _ a: Int, _ b: Int, _ c: Int) -> Int? {
        switch filter {
        case 0: return 0
        case 1: return a
        case 2: return b
        case 3: return (a + b) / 2
        case 4:
            let p = a + b - c
            let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
            if pa <= pb && pa <= pc { return a }
            return pb <= pc ? b : c
        default: return nil
        }
    }
}
