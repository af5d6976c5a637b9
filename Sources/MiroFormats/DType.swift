/// The element types a safetensors header may name.
///
/// Cases are declared in the same order as `enum Dtype` in huggingface `safetensors/src/tensor.rs`, which is
/// "increasing alignment order"; the reference writer sorts tensors by *descending* position in that enum (then
/// by name), so ``alignmentRank`` is the position here. The order is therefore part of the file format: changing
/// it would change the bytes our writer produces.


public enum SafeTensorsDType: String, CaseIterable, Sendable, Codable {
    case bool = "BOOL"
    /// FP4 E2M1, two elements per byte.
    case f4 = "F4"
    /// FP6 E2M3 (MX), four elements per three bytes.
    case f6E2M3 = "F6_E2M3"
    /// FP6 E3M2 (MX), four elements per three bytes.
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    /// FP8 E4M3 "FN" (no infinities, NaN = S.1111.111), as `torch.float8_e4m3fn`.
    case f8E4M3 = "F8_E4M3"
    /// FP8 E8M0 scale type (exponent only), as `torch.float8_e8m0fnu`.
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    /// Complex64: two F32 (real, imaginary) per element.
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bits per element. Sub-byte types (F4, F6_*) pack elements densely, so a tensor's size is
    /// `ceil(numel × bitWidth / 8)`; the reference additionally rejects tensors whose bit count is not a
    /// multiple of 8 (see ``byteCount(forShape:)``).
    public var bitWidth: Int {
        switch self {
        case .f4: return 4
        case .f6E2M3, .f6E3M2: return 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Bytes per element, or `nil` for the packed sub-byte types.
    public var elementByteSize: Int? {
        bitWidth % 8 == 0 ? bitWidth / 8 : nil
    }

    /// Position in the reference's alignment-ordered enum; the writer emits higher ranks first.
    public var alignmentRank: Int {
        Self.allCases.firstIndex(of: self) ?? 0
    }

    /// Number of bytes a tensor of this dtype and shape occupies, or a reason why it cannot exist:
    /// a negative dimension, an arithmetic overflow, or a sub-byte tensor that does not end on a byte boundary.
    public func byteCount(forShape shape: [Int]) -> Result<Int, ShapeProblem> {
        var numel = 1
        for dim in shape {
            guard dim >= 0 else { return .failure(.negativeDimension(dim)) }
            let (product, overflow) = numel.multipliedReportingOverflow(by: dim)
            guard !overflow else { return .failure(.overflow) }
            numel = product
        }
        let (bits, overflow) = numel.multipliedReportingOverflow(by: bitWidth)
        guard !overflow else { return .failure(.overflow) }
        guard bits % 8 == 0 else { return .failure(.misalignedSubByte(bits: bits)) }
        return .success(bits / 8)
    }

    /// Why ``byteCount(forShape:)`` refused a shape.
    public enum ShapeProblem: Error, Equatable, Sendable, CustomStringConvertible {
        case negativeDimension(Int)
        case overflow
        case misalignedSubByte(bits: Int)

        public var description: String {
            switch self {
            case .negativeDimension(let dim): return "has a negative dimension \(dim)"
            case .overflow: return "has a shape whose byte size overflows"
            case .misalignedSubByte(let bits):
                return "holds \(bits) bits, which is not a whole number of bytes (sub-byte tensors must end on a byte boundary)"
            }
        }
    }
}

/// Number of elements of a shape (1 for a 0-rank scalar), or `nil` on a negative dimension or overflow.
func checkedElementCount(_ shape: [Int]) -> Int? {
    var numel = 1
    for dim in shape {
        guard dim >= 0 else { return nil }
        let (product, overflow) = numel.multipliedReportingOverflow(by: dim)
        if overflow { return nil }
        numel = product
    }
    return numel
}

/// `[2, 3]` — the way shapes appear in messages and tables.
func shapeString(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
