/// Port of ATen's CPU bicubic upsampling as PyTorch 1.13 runs it for `F.interpolate(x, size=(h, w),
/// mode="bicubic", align_corners=False)` without antialias (`native/cpu/UpSampleKernel.cpp`:
/// `HelperInterpCubic::compute_indices_weights` + the separable `Interpolate` sum; `UpSample.h`:
/// `area_pixel_compute_source_index`, `get_cubic_upsample_coefficients`, `cubic_convolution1/2`). This is what
/// torchvision 0.14's `Resize` does to a float *tensor* (HPSv2's preprocessing): Keys' cubic with A = −0.75, source
/// coordinate `scale·(i + 0.5) − 0.5` with `scale = in/out`, the four taps' indices clamped to the image, no
/// antialiasing.
///
/// The arithmetic is the one Debian's PyTorch 1.13.1 runs on an x86-64 CPU with AVX2 (its kernels are compiled with
/// FMA, and GCC fuses some multiply-adds), found by extracting its weights with one-hot inputs and matching every
/// output bit: the scale in float, the source coordinate in double (CPU `acc_type`), the index from `floorf` of it
/// rounded to float, the fraction rounded to float; in `cubic_convolution1/2` the inner multiply-adds fused, the last
/// multiply and add not; each 4-tap sum as `fma(v0, w0, v1·w1)`, then `fma(v2, w2, ·)`, `fma(v3, w3, ·)`, width
/// sums first, then the same over the four rows. Identical bits to that build on the parity fixtures; other builds
/// (no FMA, newer releases) differ by float rounding only.
public enum TorchBicubic {
    /// Resizes a channel-major `channels × height × width` float image to `outHeight × outWidth`.
    public static func resize(_ planes: [Float], channels: Int, height: Int, width: Int,
                              outHeight: Int, outWidth: Int) throws -> [Float] {
        guard channels > 0, height > 0, width > 0, outHeight > 0, outWidth > 0 else {
            throw ImageError.invalidArgument("bicubic resize of \(channels)×\(height)×\(width) to \(outHeight)×\(outWidth): sizes must be positive")
        }
        guard planes.count == channels * height * width else {
            throw ImageError.invalidArgument("bicubic resize: \(planes.count) values do not make \(channels)×\(height)×\(width)")
        }
        let rows = Axis(inSize: height, outSize: outHeight), columns = Axis(inSize: width, outSize: outWidth)
        var out = [Float](repeating: 0, count: channels * outHeight * outWidth)
        // The inner (width) sums of each input row are the same for every output row that reads it, so they are
        // computed once per (channel, input row, output column): the same float operations as PyTorch's nesting.
        var horizontal = [Float](repeating: 0, count: height * outWidth)
        for c in 0..<channels {
            let plane = c * height * width
            for y in 0..<height {
                for x in 0..<outWidth {
                    let i = plane + y * width, t = 4 * x
                    horizontal[y * outWidth + x] = Self.sum4(
                        planes[i + columns.index[t]], planes[i + columns.index[t + 1]],
                        planes[i + columns.index[t + 2]], planes[i + columns.index[t + 3]], columns.weight, t)
                }
            }
            let outPlane = c * outHeight * outWidth
            for y in 0..<outHeight {
                let t = 4 * y
                let r0 = rows.index[t] * outWidth, r1 = rows.index[t + 1] * outWidth
                let r2 = rows.index[t + 2] * outWidth, r3 = rows.index[t + 3] * outWidth
                for x in 0..<outWidth {
                    out[outPlane + y * outWidth + x] = Self.sum4(horizontal[r0 + x], horizontal[r1 + x], horizontal[r2 + x],
                                                                 horizontal[r3 + x], rows.weight, t)
                }
            }
        }
        return out
    }

    /// `v0·w0 + v1·w1 + v2·w2 + v3·w3` as the compiled `Interpolate` evaluates it: fma(v0, w0, v1·w1), then fused.
    @inline(__always)
    private static func sum4(_ v0: Float, _ v1: Float, _ v2: Float, _ v3: Float, _ w: [Float], _ t: Int) -> Float {
        var s = (v1 * w[t + 1]).addingProduct(v0, w[t])
        s = s.addingProduct(v2, w[t + 2])
        return s.addingProduct(v3, w[t + 3])
    }

    /// Four clamped source indices and weights per output index of one axis.
    struct Axis {
        var index: [Int] = []
        var weight: [Float] = []

        init(inSize: Int, outSize: Int) {
            // area_pixel_compute_scale: `(float)input_size / output_size`.
            let scale = Float(inSize) / Float(outSize)
            index.reserveCapacity(4 * outSize)
            weight.reserveCapacity(4 * outSize)
            for i in 0..<outSize {
                // `scale * (dst_index + 0.5) - 0.5` in double (the CPU acc_type), `floorf` of it as a float.
                let real = Double(scale) * (Double(i) + 0.5) - 0.5
                let floorIndex = Int(Float(real).rounded(.down))
                let t = Float(real - Double(floorIndex))
                let a: Float = -0.75
                let x1 = t, x2 = 1 - t
                weight += [Self.cubic2(x1 + 1, a), Self.cubic1(x1, a), Self.cubic1(x2, a), Self.cubic2(x2 + 1, a)]
                for j in 0..<4 { index.append(min(max(floorIndex - 1 + j, 0), inSize - 1)) }
            }
        }

        /// `cubic_convolution1`, `((A + 2)·x − (A + 3))·x·x + 1`, |x| ≤ 1, with the first multiply-add fused.
        static func cubic1(_ x: Float, _ a: Float) -> Float {
            (-(a + 3)).addingProduct(a + 2, x) * x * x + 1
        }
        /// `cubic_convolution2`, `((A·x − 5A)·x + 8A)·x − 4A`, 1 < |x| < 2, with the two inner multiply-adds fused.
        static func cubic2(_ x: Float, _ a: Float) -> Float {
            (8 * a).addingProduct((-(5 * a)).addingProduct(a, x), x) * x - 4 * a
        }
    }
}
