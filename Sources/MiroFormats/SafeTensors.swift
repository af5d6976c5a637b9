import Foundation

/// One tensor's header record: where its bytes are and how to interpret them.
public struct SafeTensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Row-major (C order) shape; `[]` is a 0-rank scalar.
    public let shape: [Int]
    /// `data_offsets` from the header: byte range relative to the start of the data buffer (after the header).
    public let dataOffsets: Range<Int>

    /// Size of the tensor's data in bytes.
    public var byteCount: Int { dataOffsets.count }
    /// Number of elements (1 for a scalar, 0 for an empty tensor).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A validated, read-only safetensors file.
///
/// Format (huggingface `safetensors` README, `tensor.rs`): 8 bytes little-endian `u64` N, then N bytes of UTF-8
/// JSON starting with `{` (space padded), then the data buffer. Everything the reference reader checks is checked
/// here at `init`, so accessors never fail on a file that opened: unknown dtypes are errors (never skipped),
/// duplicate keys are errors, and the tensors must tile the buffer exactly. Tensor bytes are not copied: the file
/// is memory-mapped and ``withBytes(_:_:)`` lends a view into it.
public final class SafeTensorsFile: Sendable {
    /// The reference reader's `MAX_HEADER_SIZE`: larger headers are refused before anything is parsed.
    public static let maxHeaderLength = 100_000_000

    /// The path used in error messages (`"<memory>"` for buffers).
    public let path: String
    /// Tensor names in the order of their data in the file (ties between empty tensors broken by name).
    public let names: [String]
    /// The optional `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    /// The header length N from the first 8 bytes (JSON bytes including padding).
    public let headerLength: Int

    private let storage: Data
    private let entriesByName: [String: SafeTensorsEntry]

    /// Opens and validates a file, memory-mapping it so tensor bytes are paged in only when used.
    public convenience init(contentsOf url: URL) throws {
        try self.init(data: try mappedContents(of: url), path: displayPath(url))
    }

    /// Validates an in-memory safetensors buffer. `path` only labels error messages.
    public init(data: Data, path: String = "<memory>") throws {
        self.path = path
        self.storage = data
        let fileSize = data.count
        guard fileSize >= 8 else {
            throw FormatError.truncated(
                path: path, message: "file is \(fileSize) bytes, shorter than the 8-byte header length prefix")
        }
        // The length prefix is read byte by byte: the mapping carries no alignment guarantee.
        var declared: UInt64 = 0
        for i in 0..<8 {
            declared |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i))
        }
        guard declared <= UInt64(Self.maxHeaderLength) else {
            throw FormatError.invalidHeader(
                path: path, message: "header length \(declared) exceeds the \(Self.maxHeaderLength)-byte limit")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= fileSize else {
            throw FormatError.truncated(
                path: path,
                message: "header length \(headerLength) runs past the end of the file (\(fileSize) bytes in total)")
        }
        self.headerLength = headerLength
        let headerStart = data.startIndex + 8
        let header = [UInt8](data[headerStart..<headerStart + headerLength])
        let parsed = try Self.parseHeader(header, path: path)
        self.metadata = parsed.metadata

        let ordered = parsed.entries.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        try Self.checkTiling(ordered, bufferLength: fileSize - 8 - headerLength, path: path)
        self.names = ordered.map(\.name)
        self.entriesByName = Dictionary(uniqueKeysWithValues: ordered.map { ($0.name, $0) })
    }

    /// All entries in file order.
    public var entries: [SafeTensorsEntry] { names.compactMap { entriesByName[$0] } }

    /// The header record for `name`, or `nil` if the file has no such tensor.
    public func entry(_ name: String) -> SafeTensorsEntry? { entriesByName[name] }

    /// Lends the tensor's bytes (little-endian, C order) without copying. The pointer is only valid inside `body`.
    public func withBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let entry = entriesByName[name] else { throw FormatError.tensorNotFound(path: path, name: name) }
        let start = 8 + headerLength + entry.dataOffsets.lowerBound
        let end = 8 + headerLength + entry.dataOffsets.upperBound
        return try storage.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
        }
    }

    /// A copy of the tensor's bytes.
    public func bytes(_ name: String) throws -> Data {
        try withBytes(name) { Data($0) }
    }

    // MARK: - Validation

    private struct ParsedHeader {
        var metadata: [String: String]
        var entries: [SafeTensorsEntry]
    }

    private static func parseHeader(_ header: [UInt8], path: String) throws -> ParsedHeader {
        guard isValidUTF8(header) else {
            throw FormatError.invalidHeader(path: path, message: "header is not valid UTF-8")
        }
        guard let first = header.first else {
            throw FormatError.invalidHeader(path: path, message: "header is empty (it must be a JSON object)")
        }
        guard first == UInt8(ascii: "{") else {
            throw FormatError.invalidHeader(
                path: path, message: "header must start with '{' but starts with byte 0x\(String(first, radix: 16))")
        }
        let json: PythonJSON
        do {
            json = try PythonJSON.parse(header, options: .strict)
        } catch {
            throw FormatError.invalidHeader(
                path: path, message: "header is not valid JSON: \(error.message) at header byte \(error.offset)")
        }
        guard case .object(let members) = json else {
            throw FormatError.invalidHeader(path: path, message: "header is not a JSON object")
        }
        var result = ParsedHeader(metadata: [:], entries: [])
        for (key, value) in members {
            if key == "__metadata__" {
                result.metadata = try parseMetadata(value, path: path)
            } else {
                result.entries.append(try parseEntry(name: key, value, path: path))
            }
        }
        return result
    }

    /// `__metadata__` must be a string → string map; `null` is accepted as "no metadata", as serde's `Option` does.
    private static func parseMetadata(_ value: PythonJSON, path: String) throws -> [String: String] {
        switch value {
        case .null:
            return [:]
        case .object(let members):
            var metadata: [String: String] = [:]
            for (key, value) in members {
                guard case .string(let text) = value else {
                    throw FormatError.invalidHeader(
                        path: path,
                        message: "__metadata__ value for key '\(key)' is \(value.brief), but metadata values must be strings")
                }
                metadata[key] = text
            }
            return metadata
        default:
            throw FormatError.invalidHeader(
                path: path, message: "__metadata__ must be an object of strings, found \(value.brief)")
        }
    }

    private static func parseEntry(name: String, _ value: PythonJSON, path: String) throws -> SafeTensorsEntry {
        func bad(_ message: String) -> FormatError { .invalidTensor(path: path, tensor: name, message: message) }
        guard case .object(let fields) = value else {
            throw bad("must be an object with dtype, shape and data_offsets, found \(value.brief)")
        }
        var dtypeValue: PythonJSON?, shapeValue: PythonJSON?, offsetsValue: PythonJSON?
        for (key, field) in fields {
            switch key {
            case "dtype": dtypeValue = field
            case "shape": shapeValue = field
            case "data_offsets": offsetsValue = field
            default: throw bad("has unexpected field '\(key)' (allowed: dtype, shape, data_offsets)")
            }
        }
        guard let dtypeValue else { throw bad("is missing 'dtype'") }
        guard let shapeValue else { throw bad("is missing 'shape'") }
        guard let offsetsValue else { throw bad("is missing 'data_offsets'") }

        guard case .string(let dtypeName) = dtypeValue else { throw bad("dtype must be a string, found \(dtypeValue.brief)") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw bad("has unknown dtype \"\(dtypeName)\" (known: \(known))")
        }
        guard case .array(let dims) = shapeValue else { throw bad("shape must be an array, found \(shapeValue.brief)") }
        var shape: [Int] = []
        for dim in dims {
            guard let size = dim.integer, size >= 0 else {
                throw bad("shape contains \(dim.brief), which is not a non-negative integer")
            }
            shape.append(size)
        }
        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
              let begin = offsets[0].integer, let end = offsets[1].integer, begin >= 0, end >= 0 else {
            throw bad("data_offsets must be [begin, end] with non-negative integers, found \(render(offsetsValue))")
        }
        guard begin <= end else { throw bad("data_offsets [\(begin), \(end)] have begin > end") }
        switch dtype.byteCount(forShape: shape) {
        case .failure(let problem):
            throw bad("with dtype \(dtype.rawValue) × shape \(shapeString(shape)) \(problem)")
        case .success(let expected) where expected != end - begin:
            throw bad("data_offsets [\(begin), \(end)] do not match dtype \(dtype.rawValue) × shape \(shapeString(shape)) = \(expected) bytes")
        case .success:
            return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
        }
    }

    /// The tensors, sorted by offsets, must cover `[0, bufferLength)` exactly: no holes, no overlaps, no extra bytes.
    private static func checkTiling(_ ordered: [SafeTensorsEntry], bufferLength: Int, path: String) throws {
        var covered = 0
        var previous: String?
        for entry in ordered {
            let (begin, end) = (entry.dataOffsets.lowerBound, entry.dataOffsets.upperBound)
            if begin > covered {
                let after = previous.map { " between '\($0)' and '\(entry.name)'" } ?? " before '\(entry.name)'"
                throw FormatError.invalidLayout(
                    path: path, message: "hole in data buffer: bytes [\(covered), \(begin)) belong to no tensor\(after)")
            }
            if begin < covered {
                throw FormatError.invalidLayout(
                    path: path,
                    message: "tensor '\(entry.name)' data_offsets [\(begin), \(end)] overlap '\(previous ?? "?")', which ends at \(covered)")
            }
            covered = end
            previous = entry.name
        }
        if covered < bufferLength {
            throw FormatError.invalidLayout(
                path: path,
                message: "data buffer has \(bufferLength) bytes but the tensors index only \(covered); the last \(bufferLength - covered) bytes belong to no tensor")
        }
        if covered > bufferLength {
            throw FormatError.truncated(
                path: path,
                message: "tensors index \(covered) bytes but the data buffer holds only \(bufferLength) (file truncated?)")
        }
    }

    private static func render(_ value: PythonJSON) -> String {
        if case .array(let items) = value { return "[" + items.map(\.brief).joined(separator: ", ") + "]" }
        return value.brief
    }
}
