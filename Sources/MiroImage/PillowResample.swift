import Foundation

/// Port of `src/libImaging/Resample.c` (Pillow 9.4): `Image.resize((w, h), resample)` on an 8-bit RGB image
/// with the default `box` and `reducing_gap=None`. Each axis gets per-output-pixel filter weights over the input
/// span the filter covers, the support widened by the downscale factor (that is Pillow's antialiasing), the
/// weights normalised to sum 1 in double, then rounded to 22-bit fixed point (`PRECISION_BITS`). The horizontal
/// pass runs first, on just the rows the vertical pass reads; each output byte is the fixed-point sum, shifted
/// and clipped to 0…255. Byte-identical to Pillow (the filters use the same libm `sin`/`cos`).

/// Pillow's resampling filters (`Image.Resampling`), without NEAREST (which Pillow runs as an affine transform).
public enum ResampleFilter: String, Sendable, CaseIterable {
    case box, bilinear, hamming, bicubic, lanczos

    /// The filter's half-width at scale 1.
    var support: Double {
        switch self {
        case .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    /// The filter kernel (`box_filter`, … `lanczos_filter`), in double as Pillow computes it.
    func weight(_ x: Double) -> Double {
        switch self {
        case .box:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            let x = abs(x)
            return x < 1 ? 1 - x : 0
        case .hamming:
            let x = abs(x)
            if x == 0 { return 1 }
            if x >= 1 { return 0 }
            let px = x * Double.pi
            // `0.54f + 0.46f * cos(x)`: float constants, widened to double.
            return sin(px) / px * (Double(Float(0.54)) + Double(Float(0.46)) * cos(px))
        case .bicubic:
            let a = -0.5
            let x = abs(x)
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .lanczos:
            guard -3 <= x && x < 3 else { return 0 }
            return Self.sinc(x) * Self.sinc(x / 3)
        }
    }

    private static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let px = x * Double.pi
        return sin(px) / px
    }
}

/// The weights of one axis: output pixel i reads `count[i]` inputs from `first[i]`, with fixed-point weights
/// `weights[i * taps ..< i * taps + count[i]]`.
struct ResampleAxis {
    static let precisionBits = 32 - 8 - 2

    let taps: Int
    var first: [Int]
    let count: [Int]
    let weights: [Int32]

    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for `inSize` → `outSize` over the box [0, inSize).
    init(inSize: Int, outSize: Int, filter: ResampleFilter) {
        // `(double)(in1 - in0) / outSize` with the box edges as C floats.
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        taps = Int(ceil(support)) * 2 + 1
        var first = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        let ss = 1.0 / filterScale
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            // `(int)(center ± support + 0.5)`: C truncation toward zero.
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var ww = 0.0
            for x in 0..<max(xmax, 0) {
                let w = filter.weight((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<max(xmax, 0) {
                if ww != 0 { k[x] /= ww }
                let scaled = k[x] * Double(1 << Self.precisionBits)
                weights[xx * taps + x] = Int32(k[x] < 0 ? -0.5 + scaled : 0.5 + scaled)
            }
            first[xx] = xmin
            count[xx] = max(xmax, 0)
        }
        self.first = first
        self.count = count
        self.weights = weights
    }

    /// `clip8`: the fixed-point sum back to a byte.
    @inline(__always) static func clip8(_ v: Int) -> UInt8 {
        UInt8(clamping: v >> precisionBits)
    }
}

extension RGBImage8 {
    /// `Image.resize((width, height), filter)` of Pillow 9.4, byte for byte.
    public func resized(width outWidth: Int, height outHeight: Int, filter: ResampleFilter) throws -> RGBImage8 {
        guard outWidth > 0, outHeight > 0 else {
            throw ImageError.invalidArgument("cannot resize to \(outWidth)×\(outHeight): both sides must be positive")
        }
        guard outWidth <= Int(Int32.max) / 64, outHeight <= Int(Int32.max) / 64,
              outWidth.multipliedReportingOverflow(by: outHeight).partialValue <= PNGReader.maxPixels else {
            throw ImageError.invalidArgument("cannot resize to \(outWidth)×\(outHeight): more than \(PNGReader.maxPixels) pixels")
        }
        if outWidth == width && outHeight == height { return self }
        var vertical = ResampleAxis(inSize: height, outSize: outHeight, filter: filter)
        var source = pixels
        var sourceWidth = width
        if outWidth != width {
            // Only the rows the vertical pass reads, shifted so that the first of them is row 0.
            let firstRow = vertical.first[0]
            let lastRow = vertical.first[outHeight - 1] + vertical.count[outHeight - 1]
            for i in 0..<outHeight { vertical.first[i] -= firstRow }
            source = horizontalPass(ResampleAxis(inSize: width, outSize: outWidth, filter: filter), rows: firstRow..<lastRow)
            sourceWidth = outWidth
            if outHeight == height {
                return RGBImage8(checkedWidth: outWidth, height: outHeight, pixels: source)
            }
        }
        let out = Self.verticalPass(vertical, source: source, width: sourceWidth, outHeight: outHeight)
        return RGBImage8(checkedWidth: outWidth, height: outHeight, pixels: out)
    }

    /// `ImagingResampleHorizontal_8bpc` over `rows` of this image.
    private func horizontalPass(_ axis: ResampleAxis, rows: Range<Int>) -> [UInt8] {
        let outWidth = axis.count.count
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        let half = 1 << (ResampleAxis.precisionBits - 1)
        pixels.withUnsafeBufferPointer { src in
            axis.weights.withUnsafeBufferPointer { kk in
                out.withUnsafeMutableBufferPointer { dst in
                    for (yy, y) in rows.enumerated() {
                        let row = y * width * 3
                        for xx in 0..<outWidth {
                            let xmin = axis.first[xx], k = xx * axis.taps
                            var s0 = half, s1 = half, s2 = half
                            for x in 0..<axis.count[xx] {
                                let w = Int(kk[k + x]), p = row + (x + xmin) * 3
                                s0 += Int(src[p]) * w
                                s1 += Int(src[p + 1]) * w
                                s2 += Int(src[p + 2]) * w
                            }
                            let o = (yy * outWidth + xx) * 3
                            dst[o] = ResampleAxis.clip8(s0)
                            dst[o + 1] = ResampleAxis.clip8(s1)
                            dst[o + 2] = ResampleAxis.clip8(s2)
                        }
                    }
                }
            }
        }
        return out
    }

    /// `ImagingResampleVertical_8bpc`.
    private static func verticalPass(_ axis: ResampleAxis, source: [UInt8], width: Int, outHeight: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * outHeight * 3)
        let half = 1 << (ResampleAxis.precisionBits - 1)
        let stride = width * 3
        source.withUnsafeBufferPointer { src in
            axis.weights.withUnsafeBufferPointer { kk in
                out.withUnsafeMutableBufferPointer { dst in
                    for yy in 0..<outHeight {
                        let ymin = axis.first[yy], k = yy * axis.taps, n = axis.count[yy]
                        for i in 0..<stride {
                            var s = half
                            for y in 0..<n { s += Int(src[(y + ymin) * stride + i]) * Int(kk[k + y]) }
                            dst[yy * stride + i] = ResampleAxis.clip8(s)
                        }
                    }
                }
            }
        }
        return out
    }
}
