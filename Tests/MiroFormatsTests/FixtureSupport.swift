import Foundation
import Testing
import MiroFormats

/// Fixture files written by `scripts/make_format_fixtures.py` (numpy 1.24.2, safetensors 0.7.0) and the
/// `expected.json` that describes them bit-exactly.
enum Fixtures {
    static var directory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures resource missing")
        }
    }

    static func url(_ name: String) throws -> URL {
        try directory.appendingPathComponent(name)
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: url(name))
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: data("expected.json"))
    }
}

struct Expected: Decodable {
    struct Tensor: Decodable {
        var dtype: String
        var shape: [Int]
        var hex: String
        var sum: String?
        var absSum: String?
        enum CodingKeys: String, CodingKey { case dtype, shape, hex, sum, absSum = "abs_sum" }
    }

    struct SafeFile: Decodable {
        var metadata: [String: String]?
        var order: [String]
        var tensors: [String: Tensor]
    }

    struct NPYFile: Decodable {
        var descr: String
        var shape: [Int]
        var version: [Int]
        var hex: String
        var sum: String
        var absSum: String
        enum CodingKeys: String, CodingKey { case descr, shape, version, hex, sum, absSum = "abs_sum" }
    }

    struct Sharded: Decodable {
        var index: String
        var maxShardBytes: Int
        var order: [String]
        var shardMetadata: [String: String]
        var tensors: [String: Tensor]
        enum CodingKeys: String, CodingKey {
            case index, order, tensors, maxShardBytes = "max_shard_bytes", shardMetadata = "shard_metadata"
        }
    }

    struct Conversions: Decodable {
        var bf16: [[UInt32]]
        var f16: [[UInt32]]
        var fp8: [String: [String]]
    }

    var safetensors: [String: SafeFile]
    var sharded: Sharded
    var npy: [String: NPYFile]
    var conversions: Conversions
}

extension Data {
    /// Bytes from a lowercase hex string as written by Python's `bytes.hex()`.
    init(hex: String) throws {
        var bytes: [UInt8] = []
        var chars = hex.makeIterator()
        while let high = chars.next() {
            let next = chars.next()
            let low = try #require(next, "odd-length hex string")
            bytes.append(try #require(UInt8(String([high, low]), radix: 16), "invalid hex '\(high)\(low)'"))
        }
        self.init(bytes)
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// A Python `float.hex()` string (`0x1.8p+1`, `-0x0.0p+0`, `nan`, `inf`) as a `Double`, exactly.
func pythonFloat(_ text: String) throws -> Double {
    try #require(Double(text), "cannot parse Python float '\(text)'")
}

/// `true` when both are NaN or both have the same bits.
func sameDouble(_ a: Double, _ b: Double) -> Bool {
    (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern
}

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory(_ label: String = #function) throws -> URL {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("MiroFormatsTests-\(safe)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Little-endian bytes of a list of Float32 values.
func f32Bytes(_ values: [Float]) -> Data {
    var out = Data()
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    return out
}

/// A safetensors buffer from a literal header (not padded unless asked) and raw data bytes.
func safetensorsBytes(header: String, buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    let headerBytes = Array(header.utf8)
    let n = declaredLength ?? UInt64(headerBytes.count)
    var out = Data((0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) })
    out.append(contentsOf: headerBytes)
    out.append(contentsOf: buffer)
    return out
}

/// Asserts that `body` throws a ``FormatError`` whose description starts with `path` and contains every phrase.
@discardableResult
func expectFormatError(
    path: String, contains phrases: [String], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> FormatError? {
    let error = #expect(throws: FormatError.self, sourceLocation: sourceLocation) { try body() }
    guard let error else { return nil }
    #expect(error.path == path, "wrong path in \(error)", sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix(path + ": "), "\(error)", sourceLocation: sourceLocation)
    for phrase in phrases {
        #expect(error.description.contains(phrase), "'\(error.description)' lacks '\(phrase)'", sourceLocation: sourceLocation)
    }
    return error
}
