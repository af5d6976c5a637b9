import Foundation

/// The `.npy` element types Miro reads and writes (its embeddings are `<f2`/`<f4`; the rest cover masks,
/// labels and images). The raw value is numpy's `descr` string.
public enum NPYDType: String, CaseIterable, Sendable, Codable {
    case f2 = "<f2"
    case f4 = "<f4"
    case f8 = "<f8"
    case i4 = "<i4"
    case i8 = "<i8"
    case b1 = "|b1"
    case u1 = "|u1"

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .b1, .u1: return 1
        case .f2: return 2
        case .f4, .i4: return 4
        case .f8, .i8: return 8
        }
    }

    /// The safetensors dtype with the same bytes, so both formats share conversions.
    public var safeTensorsDType: SafeTensorsDType {
        switch self {
        case .f2: return .f16
        case .f4: return .f32
        case .f8: return .f64
        case .i4: return .i32
        case .i8: return .i64
        case .b1: return .bool
        case .u1: return .u8
        }
    }

    /// Maps a header `descr` to a dtype. The byte-order prefix is irrelevant for one-byte types (numpy writes `|`);
    /// big-endian data is refused rather than silently byte-swapped, so a user learns why their file differs.
    static func parse(descr: String, path: String) throws -> NPYDType {
        if let exact = NPYDType(rawValue: descr) { return exact }
        guard let order = descr.first, "<>|=".contains(order) else {
            throw FormatError.unsupported(path: path, message: "dtype descr '\(descr)' is not supported (supported: \(supportedList))")
        }
        let kind = descr.dropFirst()
        guard let match = allCases.first(where: { $0.rawValue.dropFirst() == kind }) else {
            throw FormatError.unsupported(path: path, message: "dtype descr '\(descr)' is not supported (supported: \(supportedList))")
        }
        if match.itemSize == 1 || order == "<" { return match }
        if order == ">" {
            throw FormatError.unsupported(
                path: path, message: "dtype descr '\(descr)' is big-endian; only little-endian arrays are supported (re-save with a.astype('<\(kind)'))")
        }
        throw FormatError.unsupported(path: path, message: "dtype descr '\(descr)' has no explicit byte order; expected '<\(kind)'")
    }

    private static var supportedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// `.npy` format versions: 1.0 has a 16-bit header length, 2.0 a 32-bit one, 3.0 additionally allows UTF-8.
public enum NPYFormatVersion: UInt8, Sendable, Comparable {
    case v1 = 1, v2 = 2, v3 = 3

    public static func < (lhs: NPYFormatVersion, rhs: NPYFormatVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A C-order numpy array read from or written to the `.npy` format
/// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
///
/// Fortran-order files are rejected (except when the two orders coincide, i.e. at most one dimension > 1), because
/// every Miro consumer expects row-major data and a silent transpose would hide an upstream mistake.
public struct NPYArray: Sendable, Equatable {
    public let dtype: NPYDType
    public let shape: [Int]
    /// Little-endian, C-order element bytes (exactly `elementCount × itemSize`).
    public let data: Data

    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Wraps existing bytes, checking that they match the dtype and shape.
    public init(dtype: NPYDType, shape: [Int], data: Data) throws {
        guard let numel = checkedElementCount(shape) else {
            throw FormatError.invalidArgument(path: "<memory>", message: "shape \(shapeString(shape)) is invalid (negative or overflowing)")
        }
        guard numel * dtype.itemSize == data.count else {
            throw FormatError.invalidArgument(
                path: "<memory>",
                message: "\(data.count) bytes do not match dtype '\(dtype.rawValue)' × shape \(shapeString(shape)) = \(numel * dtype.itemSize) bytes")
        }
        self.dtype = dtype
        self.shape = shape
        self.data = Data(data)
    }

    /// Encodes floats as `<f4` (default), `<f2` or `<f8`.
    public init(floats: [Float], shape: [Int], dtype: NPYDType = .f4) throws {
        guard [.f2, .f4, .f8].contains(dtype) else {
            throw FormatError.invalidArgument(path: "<memory>", message: "cannot encode floats as '\(dtype.rawValue)' (use <f2, <f4 or <f8)")
        }
        try self.init(dtype: dtype, shape: shape, data: try encodeFloats(floats, as: dtype.safeTensorsDType, name: "array"))
    }

    /// Number of elements (1 for a 0-d array).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Reads and validates a `.npy` file.
    public static func read(contentsOf url: URL) throws -> NPYArray {
        try NPYArray(contentsOf: url)
    }

    /// Reads and validates a `.npy` file.
    public init(contentsOf url: URL) throws {
        try self.init(data: try mappedContents(of: url), path: displayPath(url))
    }

    /// Parses an in-memory `.npy` buffer. `path` only labels error messages.
    public init(data file: Data, path: String = "<memory>") throws {
        let bytes = [UInt8](file)
        guard bytes.count >= 8, Array(bytes[0..<6]) == Self.magic else {
            throw FormatError.invalidHeader(path: path, message: "not a .npy file: missing the \\x93NUMPY magic string")
        }
        guard let version = NPYFormatVersion(rawValue: bytes[6]), bytes[7] == 0 else {
            throw FormatError.unsupported(
                path: path, message: "format version \(bytes[6]).\(bytes[7]) is not supported (1.0, 2.0 and 3.0 are)")
        }
        let lengthSize = version == .v1 ? 2 : 4
        guard bytes.count >= 8 + lengthSize else {
            throw FormatError.truncated(path: path, message: "file ends inside the header length field")
        }
        var headerLength = 0
        for i in 0..<lengthSize { headerLength |= Int(bytes[8 + i]) << (8 * i) }
        let headerStart = 8 + lengthSize
        guard headerStart + headerLength <= bytes.count else {
            throw FormatError.truncated(
                path: path, message: "header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerBytes = bytes[headerStart..<headerStart + headerLength]
        let headerText: String
        if version == .v3 {
            guard isValidUTF8(headerBytes) else {
                throw FormatError.invalidHeader(path: path, message: "format 3.0 header is not valid UTF-8")
            }
            headerText = String(decoding: headerBytes, as: UTF8.self)
        } else {
            headerText = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))  // latin-1
        }
        let (dtype, shape) = try Self.parseHeader(headerText, path: path)

        let payload = bytes.count - headerStart - headerLength
        guard let numel = checkedElementCount(shape) else {
            throw FormatError.invalidHeader(path: path, message: "shape \(pythonTuple(shape)) overflows")
        }
        let (expected, overflow) = numel.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else { throw FormatError.invalidHeader(path: path, message: "shape \(pythonTuple(shape)) overflows") }
        let need = "'\(dtype.rawValue)' × shape \(pythonTuple(shape)) needs \(expected)"
        if payload < expected {
            throw FormatError.truncated(path: path, message: "data has \(payload) bytes but \(need) (file truncated?)")
        }
        if payload > expected {
            throw FormatError.invalidLayout(
                path: path, message: "data has \(payload) bytes but \(need); \(payload - expected) trailing bytes are not part of the array")
        }
        self.dtype = dtype
        self.shape = shape
        self.data = Data(bytes[(headerStart + headerLength)...])
    }

    /// The elements converted to `Float`.
    public func floats() throws -> [Float] {
        try data.withUnsafeBytes {
            try ElementDecoding.floats(dtype.safeTensorsDType, in: $0, path: "<memory>", tensor: "array")
        }
    }

    // MARK: - Header

    private static func parseHeader(_ text: String, path: String) throws -> (NPYDType, [Int]) {
        let literal: PythonLiteral
        do {
            literal = try PythonLiteralParser.parse(text)
        } catch {
            throw FormatError.invalidHeader(
                path: path, message: "header is not a valid Python dict literal (\(error.message)): \(quoteForMessage(text))")
        }
        guard case .dict(let pairs) = literal else {
            throw FormatError.invalidHeader(path: path, message: "header is not a dict: \(quoteForMessage(text))")
        }
        var fields: [String: PythonLiteral] = [:]
        for (key, value) in pairs {
            guard case .string(let name) = key, ["descr", "fortran_order", "shape"].contains(name) else {
                throw FormatError.invalidHeader(
                    path: path, message: "header has unexpected key \(key.repr) (expected 'descr', 'fortran_order', 'shape')")
            }
            guard fields.updateValue(value, forKey: name) == nil else {
                throw FormatError.invalidHeader(path: path, message: "header repeats the key '\(name)'")
            }
        }
        for key in ["descr", "fortran_order", "shape"] where fields[key] == nil {
            throw FormatError.invalidHeader(path: path, message: "header is missing the key '\(key)'")
        }
        guard case .string(let descr)? = fields["descr"] else {
            throw FormatError.unsupported(
                path: path, message: "descr \(fields["descr"]?.repr ?? "") is not a simple dtype string (structured arrays are not supported)")
        }
        guard case .tuple(let dims)? = fields["shape"] else {
            throw FormatError.invalidHeader(path: path, message: "shape \(fields["shape"]?.repr ?? "") is not a tuple")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .int(let size) = dim, size >= 0 else {
                throw FormatError.invalidHeader(
                    path: path, message: "shape \(PythonLiteral.tuple(dims).repr) contains \(dim.repr), which is not a non-negative integer")
            }
            shape.append(size)
        }
        guard case .bool(let fortran)? = fields["fortran_order"] else {
            throw FormatError.invalidHeader(
                path: path, message: "fortran_order \(fields["fortran_order"]?.repr ?? "") is not True or False")
        }
        if fortran && shape.filter({ $0 > 1 }).count > 1 {
            throw FormatError.unsupported(
                path: path,
                message: "fortran_order True (column-major) arrays are not supported; re-save with np.ascontiguousarray(a)")
        }
        return (try NPYDType.parse(descr: descr, path: path), shape)
    }

    private static func quoteForMessage(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return "\"" + (trimmed.count > 120 ? String(trimmed.prefix(120)) + "…" : trimmed) + "\""
    }
}

/// A shape as Python's `repr(tuple)`: `()`, `(5,)`, `(2, 3)` — the form numpy writes in headers.
func pythonTuple(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
