import Foundation

/// Turns raw little-endian tensor bytes into numbers, one dtype at a time.
///
/// Shared by the safetensors and `.npy` readers and by ``TensorFileSummary``. Loads are unaligned on purpose:
/// an in-memory buffer (or a hand-made file) gives no alignment guarantee, and a misaligned typed load would trap.
enum ElementDecoding {
    /// Calls `body` with every element, in C order, widened to `Double` (bool → 0/1, ints exactly up to 2⁵³,
    /// F16/BF16/F8 exactly). Packed sub-byte floats (F4, F6_*) and complex numbers have no single real value per
    /// element and are reported as unsupported.
    static func forEach(
        _ dtype: SafeTensorsDType, in raw: UnsafeRawBufferPointer, path: String, tensor: String,
        _ body: (Double) -> Void
    ) throws {
        func each<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> Double) {
            let stride = MemoryLayout<T>.size
            for i in 0..<(raw.count / stride) {
                body(convert(T(littleEndian: raw.loadUnaligned(fromByteOffset: i * stride, as: T.self))))
            }
        }
        switch dtype {
        case .bool: each(UInt8.self) { $0 == 0 ? 0 : 1 }
        case .u8: each(UInt8.self) { Double($0) }
        case .i8: each(Int8.self) { Double($0) }
        case .i16: each(Int16.self) { Double($0) }
        case .u16: each(UInt16.self) { Double($0) }
        case .i32: each(Int32.self) { Double($0) }
        case .u32: each(UInt32.self) { Double($0) }
        case .i64: each(Int64.self) { Double($0) }
        case .u64: each(UInt64.self) { Double($0) }
        case .f16: each(UInt16.self) { Double(FloatConversions.float(fromHalf: $0)) }
        case .bf16: each(UInt16.self) { Double(FloatConversions.float(fromBFloat16: $0)) }
        case .f32: each(UInt32.self) { Double(Float(bitPattern: $0)) }
        case .f64: each(UInt64.self) { Double(bitPattern: $0) }
        case .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ:
            each(UInt8.self) { Double(FloatConversions.float(fromFP8: $0, dtype: dtype) ?? .nan) }
        case .f4, .f6E2M3, .f6E3M2, .c64:
            throw FormatError.unsupported(
                path: path, message: "tensor '\(tensor)' has dtype \(dtype.rawValue), which cannot be converted to real numbers element by element")
        }
    }

    /// All elements as `Float` (the precision Miro computes in). Integers beyond 2²⁴ lose precision.
    static func floats(_ dtype: SafeTensorsDType, in raw: UnsafeRawBufferPointer, path: String, tensor: String) throws -> [Float] {
        switch dtype {
        case .f32:
            let count = raw.count / 4
            return (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        default:
            var out: [Float] = []
            out.reserveCapacity(raw.count)
            try forEach(dtype, in: raw, path: path, tensor: tensor) { out.append(Float($0)) }
            return out
        }
    }
}

/// Encodes `values` as little-endian bytes of a float dtype (F32, F64, F16, BF16).
func encodeFloats(_ values: [Float], as dtype: SafeTensorsDType, name: String) throws -> Data {
    var out = Data(capacity: values.count * 8)
    func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
    switch dtype {
    case .f32: values.forEach { append($0.bitPattern) }
    case .f64: values.forEach { append(Double($0).bitPattern) }
    case .f16: values.forEach { append(FloatConversions.half(from: $0)) }
    case .bf16: values.forEach { append(FloatConversions.bfloat16(from: $0)) }
    default:
        throw FormatError.invalidArgument(
            path: "<memory>", message: "tensor '\(name)': cannot encode floats as \(dtype.rawValue) (use F32, F64, F16 or BF16)")
    }
    return out
}

extension SafeTensorsFile {
    /// The tensor converted to `Float` (BF16/F16/F8 exactly, F64 and large integers rounded).
    public func floats(_ name: String) throws -> [Float] {
        guard let entry = entry(name) else { throw FormatError.tensorNotFound(path: path, name: name) }
        return try withBytes(name) { try ElementDecoding.floats(entry.dtype, in: $0, path: path, tensor: name) }
    }

    /// The tensor converted to `Double`.
    public func doubles(_ name: String) throws -> [Double] {
        guard let entry = entry(name) else { throw FormatError.tensorNotFound(path: path, name: name) }
        var out: [Double] = []
        out.reserveCapacity(entry.elementCount)
        try withBytes(name) { try ElementDecoding.forEach(entry.dtype, in: $0, path: path, tensor: name) { out.append($0) } }
        return out
    }
}
