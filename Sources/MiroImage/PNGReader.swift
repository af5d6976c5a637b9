import Foundation
import MiroFormats

/// A decoded PNG: interleaved 8-bit samples and its text chunks.
public struct PNGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 3 (RGB) or 4 (RGBA: the file has an alpha channel, colour types 4 and 6).
    public var channels: Int
    public var bytes: [UInt8]
    /// `tEXt` and uncompressed `iTXt` entries, in file order.
    public var text: [PNGText]
    /// The chunk types in file order.
    public var chunkTypes: [String]

    /// The 8-bit RGB bytes, alpha dropped: Pillow's `.convert("RGB")` of the file.
    public var rgbBytes: [UInt8] {
        guard channels == 4 else { return bytes }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for p in 0..<(width * height) {
            rgb[3 * p] = bytes[4 * p]; rgb[3 * p + 1] = bytes[4 * p + 1]; rgb[3 * p + 2] = bytes[4 * p + 2]
        }
        return rgb
    }

    /// The RGB image (alpha dropped).
    public var rgbImage: RGBImage { RGBImage(width: width, height: height, rgbBytes: rgbBytes) }

    /// The 8-bit RGB image (alpha dropped), as Pillow's `Image.open(f).convert("RGB")`.
    public var rgbImage8: RGBImage8 { RGBImage8(checkedWidth: width, height: height, pixels: rgbBytes) }
}

/// A PNG reader for every standard PNG (ISO/IEC 15948): signature, every chunk's CRC-32, all colour types and bit
/// depths, Adam7 interlacing, the zlib stream (MiroFormats' `Inflate`, Adler-32 checked), all five row filters,
/// `PLTE`, and text chunks. Pixels come out as Pillow 9.4 converts the file to RGB(A) (`PngImagePlugin._MODES`
/// and `Convert.c`): grey of 1/2/4 bits scaled to 8 bits; 16-bit samples keep their high byte, except 16-bit grey,
/// which Pillow opens as mode "I" and *clips* to 0…255 (`i2rgb`); palette indices past the `PLTE` entries read
/// Pillow's initial grey ramp (index k → (k, k, k)); `tRNS`, gamma and colour profiles are ignored, as
/// `.convert("RGB")` ignores them.
public enum PNGReader {
    /// Pillow's decompression-bomb limit (2 × `Image.MAX_IMAGE_PIXELS`), above which it refuses to open a file.
    public static let maxPixels = 178_956_970

    public static func decode(_ data: Data) throws -> PNGImage {
        let bytes = [UInt8](data)
        guard bytes.count >= 8, Array(bytes[0..<8]) == PNG.signature else { throw ImageError.png("not a PNG file (bad signature)") }
        var offset = 8
        var header: PNGHeader?
        var palette: [UInt8] = []
        var idat: [UInt8] = []
        var text: [PNGText] = []
        var types: [String] = []
        func u32(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw ImageError.png("truncated chunk header at byte \(offset) (truncated file)") }
            let length = u32(offset)
            guard length <= bytes.count - offset - 12 else { throw ImageError.png("truncated chunk at byte \(offset) (truncated file)") }
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            let payload = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let stored = UInt32(u32(offset + 8 + length))
            guard Checksums.crc32(typeBytes + payload) == stored else { throw ImageError.png("CRC mismatch in \(type) chunk") }
            types.append(type)
            switch type {
            case "IHDR":
                guard header == nil else { throw ImageError.png("more than one IHDR chunk") }
                header = try PNGHeader(payload)
            case "PLTE":
                guard length % 3 == 0, length <= 768 else { throw ImageError.png("PLTE has \(length) bytes, not 3 × (1…256)") }
                palette = payload
            case "IDAT": idat += payload
            case "tEXt":
                guard let nul = payload.firstIndex(of: 0) else { throw ImageError.png("tEXt without keyword separator") }
                text.append(PNGText(latin1(payload[..<nul]), latin1(payload[(nul + 1)...])))
            case "iTXt":
                guard let nul = payload.firstIndex(of: 0), nul + 2 < payload.count else { throw ImageError.png("malformed iTXt") }
                guard payload[nul + 1] == 0 else { break }  // compressed iTXt: skipped
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
        guard let header else { throw ImageError.png("missing IHDR") }
        guard types.last == "IEND" else { throw ImageError.png("missing IEND (truncated file)") }
        if header.colorType == 3 && palette.isEmpty { throw ImageError.png("palette image (colour type 3) without a PLTE chunk") }
        let raw: [UInt8]
        do {
            raw = try Inflate.zlib(idat, path: "IDAT")
        } catch let error as FormatError {
            throw ImageError.png("image data: \(error)")
        }
        let pixels = try PNGPixels.decode(raw, header: header, palette: palette)
        return PNGImage(width: header.width, height: header.height, channels: header.hasAlpha ? 4 : 3, bytes: pixels,
                        text: text, chunkTypes: types)
    }

    static func latin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}

/// The IHDR fields, validated.
struct PNGHeader {
    let width: Int, height: Int, depth: Int, colorType: Int, interlaced: Bool
    let samplesPerPixel: Int

    init(_ payload: [UInt8]) throws {
        guard payload.count == 13 else { throw ImageError.png("IHDR has \(payload.count) bytes, expected 13") }
        func u32(_ at: Int) -> Int {
            Int(payload[at]) << 24 | Int(payload[at + 1]) << 16 | Int(payload[at + 2]) << 8 | Int(payload[at + 3])
        }
        width = u32(0)
        height = u32(4)
        depth = Int(payload[8])
        colorType = Int(payload[9])
        guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw ImageError.png("IHDR size \(width)×\(height) is not a valid image size")
        }
        guard width * height <= PNGReader.maxPixels else {
            throw ImageError.png("\(width)×\(height) pixels is more than the limit of \(PNGReader.maxPixels) (Pillow's decompression-bomb limit)")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[colorType], depths.contains(depth) else {
            throw ImageError.png("bit depth \(depth) with colour type \(colorType) is not a valid PNG combination")
        }
        guard payload[10] == 0, payload[11] == 0 else {
            throw ImageError.png("compression method \(payload[10]) / filter method \(payload[11]) (only 0 / 0 exist)")
        }
        guard payload[12] <= 1 else { throw ImageError.png("interlace method \(payload[12]) (only 0 and 1 exist)") }
        interlaced = payload[12] == 1
        samplesPerPixel = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1
    }

    var bitsPerPixel: Int { samplesPerPixel * depth }
    var hasAlpha: Bool { colorType == 4 || colorType == 6 }
}
