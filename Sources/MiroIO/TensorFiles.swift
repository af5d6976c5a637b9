import Foundation
import MiroEngine
import MiroFormats
import MiroNN

/// Conversions between engine tensors and the on-disk formats (safetensors, .npy).
extension DType {
    /// The safetensors dtype with the same bytes.
    public var safeTensors: SafeTensorsDType {
        switch self {
        case .float32: .f32
        case .float16: .f16
        case .bfloat16: .bf16
        case .int64: .i64
        case .bool: .bool
        case .float64: .f64
        case .uint8: .u8
        case .int32: .i32
        }
    }

    /// The engine dtype for a safetensors dtype, or nil when the engine has none (F8, U16, ...).
    public init?(_ st: SafeTensorsDType) {
        switch st {
        case .f32: self = .float32
        case .f16: self = .float16
        case .bf16: self = .bfloat16
        case .i64: self = .int64
        case .bool: self = .bool
        case .f64: self = .float64
        case .u8: self = .uint8
        case .i32: self = .int32
        default: return nil
        }
    }
}

public enum TensorFiles {
    /// Reads every tensor of a safetensors file (or sharded `*.safetensors.index.json`) into CPU tensors.
    public static func loadSafeTensors(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        if SafeTensorsIndex.isIndexFile(url) {
            let index = try SafeTensorsIndex(contentsOf: url)
            var out: [String: Tensor] = [:]
            for name in index.names {
                guard let entry = index.entry(name) else { continue }
                out[name] = try index.withBytes(name) { try tensor(entry, $0, path: url.path) }
            }
            return (out, index.metadata)
        }
        let file = try SafeTensorsFile(contentsOf: url)
        var out: [String: Tensor] = [:]
        for entry in file.entries {
            out[entry.name] = try file.withBytes(entry.name) { try tensor(entry, $0, path: url.path) }
        }
        return (out, file.metadata)
    }

    private static func tensor(_ entry: SafeTensorsEntry, _ bytes: UnsafeRawBufferPointer, path: String) throws -> Tensor {
        guard let dtype = DType(entry.dtype) else {
            throw FormatError.unsupported(path: path, message: "tensor '\(entry.name)' has dtype \(entry.dtype.rawValue), which the engine cannot hold")
        }
        return try Tensor(bytes: bytes, shape: entry.shape, dtype: dtype)
    }

    /// Writes tensors (any device/dtype; `saveAs` converts floating-point ones) atomically.
    public static func saveSafeTensors(_ tensors: [(String, Tensor)], metadata: [String: String]? = nil, to url: URL,
                                       saveAs: DType? = nil) throws {
        let entries = try tensors.map { name, t -> SafeTensorsWriter.Tensor in
            let dtype = (saveAs != nil && t.dtype.isFloatingPoint) ? saveAs! : t.dtype
            return SafeTensorsWriter.Tensor(name: name, dtype: dtype.safeTensors, shape: t.shape,
                                            bytes: Data(try t.bytes(as: dtype)))
        }
        try SafeTensorsWriter.write(entries, metadata: metadata, to: url)
    }

    /// Reads a `.npy` file into a CPU tensor.
    public static func loadNPY(_ url: URL) throws -> Tensor {
        try tensor(from: NPYArray(contentsOf: url), path: url.path)
    }

    public static func tensor(from array: NPYArray, path: String = "<memory>") throws -> Tensor {
        guard let dtype = DType(array.dtype.safeTensorsDType) else {
            throw FormatError.unsupported(path: path, message: "dtype \(array.dtype.rawValue) has no engine equivalent")
        }
        return try array.data.withUnsafeBytes { try Tensor(bytes: $0, shape: array.shape, dtype: dtype) }
    }

    /// Writes a tensor as `.npy` (atomically).
    public static func saveNPY(_ t: Tensor, to url: URL) throws {
        try npyArray(t).write(to: url)
    }

    public static func npyArray(_ t: Tensor) throws -> NPYArray {
        let descr: NPYDType
        switch t.dtype {
        case .float16: descr = .f2
        case .float32: descr = .f4
        case .float64: descr = .f8
        case .int64: descr = .i8
        case .int32: descr = .i4
        case .bool: descr = .b1
        case .uint8: descr = .u1
        case .bfloat16: throw FormatError.unsupported(path: "<memory>", message: "NumPy has no bfloat16; convert to float32 first")
        }
        return try NPYArray(dtype: descr, shape: t.shape, data: Data(try t.bytes()))
    }
}

extension Module {
    /// Loads a safetensors file, optionally keeping only keys under `prefix` (dropped before
    /// matching, e.g. "network." for a released `model.safetensors`).
    @discardableResult
    public func load(safetensors url: URL, prefix: String = "", strict: Bool = true) throws -> LoadReport {
        var (tensors, _) = try TensorFiles.loadSafeTensors(url)
        if !prefix.isEmpty {
            tensors = Dictionary(uniqueKeysWithValues: tensors.compactMap { k, v in
                k.hasPrefix(prefix) ? (String(k.dropFirst(prefix.count)), v) : nil
            })
        }
        return try load(tensors, strict: strict, source: url.lastPathComponent)
    }
}

extension Module {
    /// The first key of `weights` (sorted) whose dtype cannot stand for this module's tensor of the
    /// same key: a floating-point parameter or buffer needs a floating-point dtype (converted on load),
    /// any other tensor exactly its own dtype. `Module.load` converts silently, so loaders of untrusted
    /// files call this first: a header relabelled F32 → I32 would otherwise load reinterpreted bytes.
    public func dtypeMismatch(_ weights: [String: Tensor]) -> (key: String, expected: DType, found: DType)? {
        let own = Dictionary(stateDict(), uniquingKeysWith: { a, _ in a })
        for key in weights.keys.sorted() {
            guard let current = own[key], let incoming = weights[key] else { continue }
            if !LoadReport.loadable(incoming.dtype, into: current.dtype) { return (key, current.dtype, incoming.dtype) }
        }
        return nil
    }
}
