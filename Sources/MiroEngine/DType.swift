import CTorch

/// Element types the engine exposes. Raw values are the shim's `MT_*` dtype codes, read from
/// ctorch.h (callers sort by them, so they stay raw values).
public enum DType: RawRepresentable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case float32, float16, bfloat16, int64, bool, float64, uint8, int32

    public init?(rawValue: Int32) {
        guard let match = DType.allCases.first(where: { $0.code == rawValue }) else { return nil }
        self = match
    }

    public var rawValue: Int32 { code }

    /// The shim's `MT_*` dtype code.
    var code: Int32 {
        switch self {
        case .float32: Int32(MT_F32)
        case .float16: Int32(MT_F16)
        case .bfloat16: Int32(MT_BF16)
        case .int64: Int32(MT_I64)
        case .bool: Int32(MT_BOOL)
        case .float64: Int32(MT_F64)
        case .uint8: Int32(MT_U8)
        case .int32: Int32(MT_I32)
        }
    }

    /// The case of a shim dtype code; an unknown code is a `.dtype` error, never a guess.
    init(code: Int32) throws {
        guard let match = DType(rawValue: code) else {
            throw EngineError("dtype", "libtorch reported dtype code \(code), which has no DType", category: .dtype)
        }
        self = match
    }

    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .int64, .float64: 8
        case .bool, .uint8: 1
        }
    }

    public var isFloatingPoint: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }

    /// PyTorch's spelling (`torch.float32`), used in messages and state-dict reports.
    public var description: String {
        switch self {
        case .float32: "float32"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .int64: "int64"
        case .bool: "bool"
        case .float64: "float64"
        case .uint8: "uint8"
        case .int32: "int32"
        }
    }
}

/// Where a tensor lives. CUDA exists only when the shim was built against a CUDA libtorch.
public enum Device: Sendable, Equatable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    var code: Int32 { self == .cpu ? Int32(MT_CPU) : Int32(MT_CUDA) }
    var index: Int32 { if case .cuda(let i) = self { Int32(i) } else { -1 } }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let i): "cuda:\(i)"
        }
    }

    /// Parses "cpu", "cuda", "cuda:1".
    public init?(parsing text: String) {
        if text == "cpu" { self = .cpu; return }
        if text == "cuda" { self = .cuda(0); return }
        if text.hasPrefix("cuda:"), let i = Int(text.dropFirst(5)), i >= 0 { self = .cuda(i); return }
        return nil
    }
}

/// Swift scalar types that map one-to-one onto a `DType`, for building tensors from arrays and
/// copying them back out.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
}

extension Float: TensorElement { public static var dtype: DType { .float32 } }
extension Double: TensorElement { public static var dtype: DType { .float64 } }
extension Int64: TensorElement { public static var dtype: DType { .int64 } }
extension Int32: TensorElement { public static var dtype: DType { .int32 } }
extension UInt8: TensorElement { public static var dtype: DType { .uint8 } }
extension Bool: TensorElement { public static var dtype: DType { .bool } }
#if !(os(macOS) && arch(x86_64))
extension Float16: TensorElement { public static var dtype: DType { .float16 } }
#endif
