/// PNG image data → 8-bit RGB or RGBA pixels: the row filters, Adam7 passes, sample unpacking and the conversion
/// Pillow 9.4 applies on the way to `.convert("RGB")` (see `PNGReader`).
enum PNGPixels {
    /// Adam7 passes: (x start, y start, x step, y step).
    private static let adam7: [(Int, Int, Int, Int)] = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                                                        (1, 0, 2, 2), (0, 1, 1, 2)]

    static func decode(_ raw: [UInt8], header: PNGHeader, palette: [UInt8]) throws -> [UInt8] {
        let channels = header.hasAlpha ? 4 : 3
        var out = [UInt8](repeating: 0, count: header.width * header.height * channels)
        let passes = header.interlaced ? adam7 : [(0, 0, 1, 1)]
        var offset = 0
        for (x0, y0, dx, dy) in passes {
            let pw = (header.width - x0 + dx - 1) / dx, ph = (header.height - y0 + dy - 1) / dy
            guard pw > 0, ph > 0 else { continue }  // an empty Adam7 pass has no rows, not even filter bytes
            let rowBytes = (pw * header.bitsPerPixel + 7) / 8
            let need = ph * (rowBytes + 1)
            guard raw.count - offset >= need else {
                throw ImageError.png("image data has \(raw.count) bytes, fewer than the \(offset + need) its size needs (truncated file)")
            }
            let rows = try unfilter(raw, from: offset, rowBytes: rowBytes, height: ph, bpp: max(1, header.bitsPerPixel / 8))
            offset += need
            if !header.interlaced && header.depth == 8 && (header.colorType == 2 || header.colorType == 6) {
                return rows  // already the RGB or RGBA bytes
            }
            for y in 0..<ph {
                let row = y * rowBytes
                for x in 0..<pw {
                    let dst = channels * ((y0 + y * dy) * header.width + x0 + x * dx)
                    convert(rows, row: row, x: x, header: header, palette: palette, into: &out, at: dst)
                }
            }
        }
        return out
    }

    /// One pixel of a filtered-back row → RGB(A) bytes at `out[at...]`.
    @inline(__always)
    private static func convert(_ rows: [UInt8], row: Int, x: Int, header: PNGHeader, palette: [UInt8],
                                into out: inout [UInt8], at dst: Int) {
        let depth = header.depth
        // Sample `s` of pixel `x` at its native depth.
        func sample(_ s: Int) -> Int {
            switch depth {
            case 8: return Int(rows[row + x * header.samplesPerPixel + s])
            case 16:
                let i = row + 2 * (x * header.samplesPerPixel + s)
                return Int(rows[i]) << 8 | Int(rows[i + 1])
            default:  // 1, 2, 4 bits: one sample per pixel, most significant bits first
                let bit = x * depth
                return Int(rows[row + bit / 8] >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
            }
        }
        // To 8 bits: sub-byte grey scaled (Pillow's L;2 and L;4 unpackers, "1" → 0/255), 16 bits → high byte.
        func eight(_ v: Int) -> UInt8 {
            depth == 16 ? UInt8(v >> 8) : depth == 8 ? UInt8(v) : UInt8(v * 255 / ((1 << depth) - 1))
        }
        switch header.colorType {
        case 0:
            // 16-bit grey is Pillow's mode "I"; `i2rgb` clips the integer to 0…255 instead of scaling it.
            let g = depth == 16 ? UInt8(min(sample(0), 255)) : eight(sample(0))
            out[dst] = g; out[dst + 1] = g; out[dst + 2] = g
        case 2:
            out[dst] = eight(sample(0)); out[dst + 1] = eight(sample(1)); out[dst + 2] = eight(sample(2))
        case 3:
            let index = sample(0)
            if 3 * index + 2 < palette.count {
                out[dst] = palette[3 * index]; out[dst + 1] = palette[3 * index + 1]; out[dst + 2] = palette[3 * index + 2]
            } else {  // Pillow's palette starts as a grey ramp; PLTE overwrites only its own entries
                let g = UInt8(index)
                out[dst] = g; out[dst + 1] = g; out[dst + 2] = g
            }
        case 4:
            let g = eight(sample(0))
            out[dst] = g; out[dst + 1] = g; out[dst + 2] = g; out[dst + 3] = eight(sample(1))
        default:
            out[dst] = eight(sample(0)); out[dst + 1] = eight(sample(1)); out[dst + 2] = eight(sample(2))
            out[dst + 3] = eight(sample(3))
        }
    }

    /// Undoes PNG's per-row filters (None, Sub, Up, Average, Paeth) of `height` rows starting at `raw[start]`;
    /// `bpp` is the byte distance to the "left" byte (whole bytes per pixel, at least 1). The caller checked that
    /// `raw` holds the rows.
    static func unfilter(_ raw: [UInt8], from start: Int, rowBytes: Int, height: Int, bpp: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        try raw.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let s = start + y * (rowBytes + 1) + 1, d = y * rowBytes, up = d - rowBytes
                    let filter = Int(src[s - 1])
                    switch filter {
                    case 0:
                        for i in 0..<rowBytes { dst[d + i] = src[s + i] }
                    case 1:
                        for i in 0..<rowBytes { dst[d + i] = src[s + i] &+ (i >= bpp ? dst[d + i - bpp] : 0) }
                    case 2:
                        for i in 0..<rowBytes { dst[d + i] = src[s + i] &+ (y > 0 ? dst[up + i] : 0) }
                    case 3:
                        for i in 0..<rowBytes {
                            let a = i >= bpp ? Int(dst[d + i - bpp]) : 0, b = y > 0 ? Int(dst[up + i]) : 0
                            dst[d + i] = src[s + i] &+ UInt8(truncatingIfNeeded: (a + b) / 2)
                        }
                    case 4:
                        for i in 0..<rowBytes {
                            let a = i >= bpp ? Int(dst[d + i - bpp]) : 0, b = y > 0 ? Int(dst[up + i]) : 0
                            let c = i >= bpp && y > 0 ? Int(dst[up + i - bpp]) : 0
                            dst[d + i] = src[s + i] &+ UInt8(truncatingIfNeeded: PNG.predict(filter: 4, a, b, c) ?? 0)
                        }
                    default:
                        throw ImageError.png("unknown filter type \(filter) in row \(y)")
                    }
                }
            }
        }
        return out
    }
}
