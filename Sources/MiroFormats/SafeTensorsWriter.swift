import Foundation

/// Writes safetensors files that are byte-identical to huggingface `safetensors` (Rust `serialize`, used by
/// `safetensors.numpy.save_file` / `safetensors.torch.save_file`) for the same tensors and metadata.
///
/// What the reference does, and so do we (`prepare` in `tensor.rs`):
/// - tensors are laid out by descending ``SafeTensorsDType/alignmentRank``, then by name (byte-wise), so that
///   every tensor is naturally aligned when the file is mapped;
/// - the header is compact JSON (`serde_json`): `__metadata__` first when given, then each tensor in data order
///   as `{"dtype":…,"shape":[…],"data_offsets":[b,e]}`;
/// - the header is padded with spaces to a multiple of 8 bytes.
///
/// One documented difference: the reference stores metadata in a Rust `HashMap`, so with two or more metadata keys
/// its key order is random per process. We sort metadata keys (byte-wise) so our output is deterministic; with
/// zero or one key the bytes are identical.
public enum SafeTensorsWriter {
    /// A tensor to write: raw little-endian, C-order bytes plus the dtype and shape that describe them.
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var dtype: SafeTensorsDType
        public var shape: [Int]
        public var bytes: Data

        public init(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// Encodes `values` as F32, F16 or BF16 (round to nearest even), the dtypes Miro saves weights in.
        public init(name: String, shape: [Int], floats values: [Float], as dtype: SafeTensorsDType = .f32) throws {
            self.init(name: name, dtype: dtype, shape: shape, bytes: try encodeFloats(values, as: dtype, name: name))
        }
    }

    /// The complete file as one buffer.
    public static func serialize(_ tensors: [Tensor], metadata: [String: String]? = nil) throws -> Data {
        let plan = try prepare(tensors, metadata: metadata, path: "<memory>")
        var out = Data(capacity: 8 + plan.header.count + plan.bufferLength)
        out.append(contentsOf: plan.lengthPrefix)
        out.append(contentsOf: plan.header)
        for tensor in plan.ordered { out.append(tensor.bytes) }
        return out
    }

    /// Writes the file atomically (temporary file in the same directory, then rename), streaming tensor data
    /// instead of assembling the whole file in memory.
    public static func write(_ tensors: [Tensor], metadata: [String: String]? = nil, to url: URL) throws {
        let plan = try prepare(tensors, metadata: metadata, path: displayPath(url))
        try AtomicFile.write(to: url) { handle in
            try handle.write(contentsOf: Data(plan.lengthPrefix + plan.header))
            for tensor in plan.ordered { try handle.write(contentsOf: tensor.bytes) }
        }
    }

    // MARK: - Layout

    struct Plan {
        var lengthPrefix: [UInt8]
        var header: [UInt8]
        var ordered: [Tensor]
        var bufferLength: Int
    }

    /// Validates the tensors and computes the header and data order exactly as the reference `prepare` does.
    static func prepare(_ tensors: [Tensor], metadata: [String: String]?, path: String) throws -> Plan {
        var seen = Set<String>()
        for tensor in tensors {
            guard tensor.name != "__metadata__" else {
                throw FormatError.invalidArgument(path: path, message: "'__metadata__' is reserved and cannot name a tensor")
            }
            guard seen.insert(tensor.name).inserted else {
                throw FormatError.invalidArgument(path: path, message: "two tensors are named '\(tensor.name)'")
            }
            switch tensor.dtype.byteCount(forShape: tensor.shape) {
            case .failure(let problem):
                throw FormatError.invalidTensor(
                    path: path, tensor: tensor.name,
                    message: "with dtype \(tensor.dtype.rawValue) × shape \(shapeString(tensor.shape)) \(problem)")
            case .success(let expected) where expected != tensor.bytes.count:
                throw FormatError.invalidTensor(
                    path: path, tensor: tensor.name,
                    message: "has \(tensor.bytes.count) bytes but dtype \(tensor.dtype.rawValue) × shape \(shapeString(tensor.shape)) = \(expected) bytes")
            case .success:
                break
            }
        }
        let ordered = tensors.sorted { a, b in
            if a.dtype.alignmentRank != b.dtype.alignmentRank { return a.dtype.alignmentRank > b.dtype.alignmentRank }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }

        // serde_json's compact form: no spaces, UTF-8 kept as is; members in the order built here.
        var members: [(key: String, value: PythonJSON)] = []
        if let metadata {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            members.append(("__metadata__", .object(keys.map { ($0, .string(metadata[$0] ?? "")) })))
        }
        var offset = 0
        for tensor in ordered {
            let end = offset + tensor.bytes.count
            members.append((tensor.name, .object([
                ("dtype", .string(tensor.dtype.rawValue)), ("shape", .array(tensor.shape.map { .int($0) })),
                ("data_offsets", .array([.int(offset), .int(end)])),
            ])))
            offset = end
        }
        var header = Array(PythonJSON.object(members).dumps(separators: (",", ":"), ensureASCII: false).utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        guard header.count <= SafeTensorsFile.maxHeaderLength else {
            throw FormatError.invalidArgument(
                path: path, message: "header would be \(header.count) bytes, over the \(SafeTensorsFile.maxHeaderLength)-byte limit readers enforce")
        }
        let n = UInt64(header.count)
        let prefix = (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
        return Plan(lengthPrefix: prefix, header: header, ordered: ordered, bufferLength: offset)
    }
}
