/// Bit-level conversions between `Float` and the reduced-precision float formats found in checkpoints.
///
/// Swift's `Float16` is unavailable on Intel macOS and there is no bfloat16 or FP8 type at all, so conversions work
/// on raw bit patterns. Narrowing rounds to nearest, ties to even — the rounding `torch`, `numpy` and the hardware
/// use — so a value saved here and one saved by PyTorch have the same bits. Widening is exact.
public enum FloatConversions {
    // MARK: IEEE half (F16, `<f2`)

    /// Exact widening of an IEEE 754 binary16 bit pattern.
    public static func float(fromHalf bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:  // inf / NaN keep their payload
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        case 0:  // zero / subnormal: mantissa × 2⁻²⁴, exact in Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }

    /// Rounds to the nearest binary16 (ties to even); overflow gives ±inf, NaN stays a quiet NaN.
    public static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        var mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            return mantissa == 0 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13)
        }
        let halfExponent = exponent - 112  // rebias 127 → 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }
        if halfExponent <= 0 {
            // Result is subnormal (or rounds up to the smallest normal); below 2⁻²⁵ it rounds to zero.
            if halfExponent < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - halfExponent)
            return sign | UInt16(truncatingIfNeeded: roundShift(mantissa, by: shift))
        }
        // Carry out of the mantissa correctly bumps the exponent, up to 0x7C00 = inf.
        let combined = (UInt32(halfExponent) << 23) | mantissa
        return sign | UInt16(truncatingIfNeeded: roundShift(combined, by: 13))
    }

    // MARK: bfloat16 (BF16)

    /// Exact widening: bfloat16 is the top half of a Float.
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds to nearest even like `c10::BFloat16`; every NaN becomes the canonical `0x7FC0`, as in PyTorch.
    public static func bfloat16(from value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        let bias = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ bias) >> 16)
    }

    // MARK: FP8 (decode only)

    /// Decodes one FP8 byte. `dtype` must be one of the F8 safetensors dtypes; any other returns `nil`.
    ///
    /// Encodings (OCP FP8 / ml_dtypes): E4M3 "FN" has bias 7, no infinities and NaN at `S.1111.111`; E5M2 is
    /// IEEE-like with bias 15; the FNUZ variants have bias 8 / 16, no negative zero, and `0x80` as their only NaN;
    /// E8M0 is a pure power of two `2^(bits − 127)` with `0xFF` as NaN.
    public static func float(fromFP8 bits: UInt8, dtype: SafeTensorsDType) -> Float? {
        switch dtype {
        case .f8E4M3:
            if bits & 0x7F == 0x7F { return .nan }
            return minifloat(bits, exponentBits: 4, mantissaBits: 3, bias: 7)
        case .f8E5M2:
            if bits & 0x7C == 0x7C {
                return bits & 0x03 == 0 ? (bits & 0x80 == 0 ? .infinity : -.infinity) : .nan
            }
            return minifloat(bits, exponentBits: 5, mantissaBits: 2, bias: 15)
        case .f8E4M3FNUZ:
            return bits == 0x80 ? .nan : minifloat(bits, exponentBits: 4, mantissaBits: 3, bias: 8)
        case .f8E5M2FNUZ:
            return bits == 0x80 ? .nan : minifloat(bits, exponentBits: 5, mantissaBits: 2, bias: 16)
        case .f8E8M0:
            return bits == 0xFF ? .nan : Float(sign: .plus, exponent: Int(bits) - 127, significand: 1)
        default:
            return nil
        }
    }

    // MARK: Helpers

    /// `value >> shift`, rounded to nearest with ties to even.
    private static func roundShift(_ value: UInt32, by shift: UInt32) -> UInt32 {
        let truncated = value >> shift
        let remainder = value & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if remainder > halfway || (remainder == halfway && truncated & 1 == 1) { return truncated + 1 }
        return truncated
    }

    /// A sign / exponent / mantissa byte with subnormals and no special values (callers handle those).
    private static func minifloat(_ bits: UInt8, exponentBits: Int, mantissaBits: Int, bias: Int) -> Float {
        let negative = bits & 0x80 != 0
        let exponent = Int(bits >> UInt8(mantissaBits)) & ((1 << exponentBits) - 1)
        let mantissa = Int(bits) & ((1 << mantissaBits) - 1)
        let magnitude: Float
        if exponent == 0 {
            magnitude = Float(mantissa) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
        } else {
            magnitude = Float((1 << mantissaBits) + mantissa)
                * Float(sign: .plus, exponent: exponent - bias - mantissaBits, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }
}
