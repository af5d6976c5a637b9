import Foundation

/// A decoded PNG: interleaved 8-bit samples and its text chunks.
public struct PNGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 3 (RGB) or 4 (RGBA).
    public var channels: Int
    public var bytes: [UInt8]
    /// `tEXt` and uncompressed `iTXt` entries, in file order.
    public var text: [PNGText]
    /// The chunk types in file order.
    public var chunkTypes: [String]

    /// The RGB image (alpha dropped).
    public var rgbImage: RGBImage {
        var rgb: [UInt8] = []
        rgb.reserveCapacity(width * height * 3)
        for p in 0..<(width * height) { rgb += bytes[(p * channels)..<(p * channels + 3)] }
        return RGBImage(width: width, height: height, rgbBytes: rgb)
    }
}

/// The minimal reader that checks what `PNG` writes: signature, every chunk's CRC-32, IHDR (8-bit RGB or RGBA,
/// not interlaced), a zlib stream of *stored* deflate blocks with its Adler-32, all five row filters, and text
/// chunks. Compressed deflate blocks (what other encoders write) are refused with a clear error.
public enum PNGReader {
    public static func decode(_ data: Data) throws -> PNGImage {
        let bytes = [UInt8](data)
        guard bytes.count >= 8, Array(bytes[0..<8]) == PNG.signature else { throw ImageError.png("not a PNG file (bad signature)") }
        var offset = 8
        var width = 0, height = 0, channels = 0
        var idat: [UInt8] = []
        var text: [PNGText] = []
        var types: [String] = []
        func u32(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw ImageError.png("truncated chunk header at byte \(offset)") }
            let length = u32(offset)
            guard offset + 12 + length <= bytes.count else { throw ImageError.png("truncated chunk at byte \(offset)") }
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            let payload = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let stored = UInt32(u32(offset + 8 + length))
            guard Checksums.crc32(typeBytes + payload) == stored else { throw ImageError.png("CRC mismatch in \(type) chunk") }
            types.append(type)
            switch type {
            case "IHDR":
                guard length == 13 else { throw ImageError.png("IHDR has \(length) bytes, expected 13") }
                width = u32(offset + 8); height = u32(offset + 12)
                let depth = payload[8], colorType = payload[9], interlace = payload[12]
                guard depth == 8, colorType == 2 || colorType == 6, interlace == 0 else {
                    throw ImageError.png("only 8-bit, non-interlaced RGB/RGBA is supported "
                        + "(depth \(depth), colour type \(colorType), interlace \(interlace))")
                }
                channels = colorType == 6 ? 4 : 3
            case "IDAT": idat += payload
            case "tEXt":
                guard let nul = payload.firstIndex(of: 0) else { throw ImageError.png("tEXt without keyword separator") }
                text.append(PNGText(latin1(payload[..<nul]), latin1(payload[(nul + 1)...])))
            case "iTXt":
                guard let nul = payload.firstIndex(of: 0), nul + 2 < payload.count else { throw ImageError.png("malformed iTXt") }
                guard payload[nul + 1] == 0 else { continue }  // compressed iTXt: skipped
                var rest = payload[(nul + 3)...]
                for _ in 0..<2 {  // language tag, translated keyword
                    guard let end = rest.firstIndex(of: 0) else { throw ImageError.png("malformed iTXt") }
                    rest = rest[(end + 1)...]
                }
                text.append(PNGText(latin1(payload[..<nul]), String(decoding: rest, as: UTF8.self)))
            default: break
            }
            offset += 12 + length
            if type == "IEND" { break }
        }
        guard channels > 0 else { throw ImageError.png("missing IHDR") }
        guard types.last == "IEND" else { throw ImageError.png("missing IEND") }
        let raw = try inflateStored(idat)
        let rowBytes = width * channels
        guard raw.count == height * (rowBytes + 1) else {
            throw ImageError.png("image data has \(raw.count) bytes, expected \(height * (rowBytes + 1))")
        }
        return PNGImage(width: width, height: height, channels: channels,
                        bytes: try unfilter(raw, rowBytes: rowBytes, height: height, channels: channels),
                        text: text, chunkTypes: types)
    }

    /// Decodes a zlib stream made only of stored deflate blocks and checks its Adler-32.
    static func inflateStored(_ stream: [UInt8]) throws -> [UInt8] {
        guard stream.count >= 6 else { throw ImageError.png("zlib stream too short") }
        guard stream[0] & 0x0F == 8, (Int(stream[0]) << 8 | Int(stream[1])) % 31 == 0, stream[1] & 0x20 == 0 else {
            throw ImageError.png("bad zlib header")
        }
        var out: [UInt8] = []
        var offset = 2
        while true {
            guard offset + 5 <= stream.count else { throw ImageError.png("truncated deflate block") }
            let header = stream[offset]
            guard (header >> 1) & 3 == 0 else {
                throw ImageError.png("compressed deflate blocks are not supported by this minimal reader (stored blocks only)")
            }
            let length = Int(stream[offset + 1]) | Int(stream[offset + 2]) << 8
            let complement = Int(stream[offset + 3]) | Int(stream[offset + 4]) << 8
            guard length ^ complement == 0xFFFF else { throw ImageError.png("stored block LEN/NLEN mismatch") }
            offset += 5
            guard offset + length <= stream.count else { throw ImageError.png("truncated stored block") }
            out += stream[offset..<(offset + length)]
            offset += length
            if header & 1 == 1 { break }
        }
        guard offset + 4 <= stream.count else { throw ImageError.png("missing Adler-32") }
        let stored = stream[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }  // big-endian
        guard Checksums.adler32(out) == stored else { throw ImageError.png("Adler-32 mismatch") }
        return out
    }

    /// Undoes PNG's per-row filters (None, Sub, Up, Average, Paeth).
    static func unfilter(_ raw: [UInt8], rowBytes: Int, height: Int, channels: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        for y in 0..<height {
            let filter = raw[y * (rowBytes + 1)]
            for i in 0..<rowBytes {
                let x = Int(raw[y * (rowBytes + 1) + 1 + i])
                let a = i >= channels ? Int(out[y * rowBytes + i - channels]) : 0
                let b = y > 0 ? Int(out[(y - 1) * rowBytes + i]) : 0
                let c = i >= channels && y > 0 ? Int(out[(y - 1) * rowBytes + i - channels]) : 0
                guard let predicted = PNG.predict(filter: Int(filter), a, b, c) else {
                    throw ImageError.png("unknown filter type \(filter) in row \(y)")
                }
                out[y * rowBytes + i] = UInt8(truncatingIfNeeded: x + predicted)
            }
        }
        return out
    }

    static func latin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}
