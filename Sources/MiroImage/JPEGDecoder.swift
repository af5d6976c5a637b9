import CJPEGShim

/// JPEG → 8-bit RGB exactly as Pillow 9.4 opens a JPEG and calls `.convert("RGB")`, with the same library
/// (Debian's libjpeg-turbo) and the same settings (`JpegImagePlugin` + `JpegDecode.c`): libjpeg's defaults
/// (JDCT_ISLOW, fancy upsampling, block smoothing for progressive files), no scaling, EXIF orientation ignored.
/// Grey files (mode "L") are replicated to R, G and B; four-component files are read as CMYK, inverted as Pillow
/// assumes Adobe's convention (raw mode "CMYK;I"), then converted with Pillow's `cmyk2rgb`.
public enum JPEGDecoder {
    /// Decodes `data`; errors are `ImageError.decode` naming `name` (truncated and corrupt files included).
    public static func decode(_ data: [UInt8], name: String) throws -> RGBImage8 {
        var image = mj_jpeg_image()
        var message = [CChar](repeating: 0, count: 512)
        let status = data.withUnsafeBufferPointer { buffer in
            mj_jpeg_decode(buffer.baseAddress, buffer.count, Int64(PNGReader.maxPixels), &image, &message, message.count)
        }
        defer { mj_jpeg_free(&image) }
        guard status == 0, let pixels = image.pixels else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError.decode(file: name, message: "not a JPEG this decoder can read: \(text)")
        }
        let width = Int(image.width), height = Int(image.height), components = Int(image.components)
        let count = width * height
        let raw = UnsafeBufferPointer(start: pixels, count: count * components)
        switch components {
        case 3:
            return RGBImage8(checkedWidth: width, height: height, pixels: Array(raw))
        case 1:
            var rgb = [UInt8](repeating: 0, count: count * 3)
            for p in 0..<count { rgb[3 * p] = raw[p]; rgb[3 * p + 1] = raw[p]; rgb[3 * p + 2] = raw[p] }
            return RGBImage8(checkedWidth: width, height: height, pixels: rgb)
        case 4:
            var rgb = [UInt8](repeating: 0, count: count * 3)
            for p in 0..<count {
                // "CMYK;I" inverts every byte; cmyk2rgb: nk = 255 − K, channel = nk − nk·C/255 (MULDIV255).
                let nk = Int(raw[4 * p + 3])  // 255 − (255 − stored K)
                for c in 0..<3 {
                    let ink = 255 - Int(raw[4 * p + c])
                    let t = ink * nk + 128
                    rgb[3 * p + c] = UInt8(clamping: nk - ((t >> 8) + t) >> 8)
                }
            }
            return RGBImage8(checkedWidth: width, height: height, pixels: rgb)
        default:
            throw ImageError.decode(file: name, message: "JPEG decoded to \(components) components (expected 1, 3 or 4)")
        }
    }
}
