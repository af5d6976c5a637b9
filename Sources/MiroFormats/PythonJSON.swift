// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.3–§2.5, §4.1): the sample `.json`
// members are written by Python's `json.dumps` (data/preprocess_data.py) and read with `json.loads`.
import Foundation

/// A JSON value as Python's `json.loads` returns it.
///
/// Why a parser of our own rather than `JSONSerialization`: the sample metadata is written by `json.dumps`,
/// which emits the non-standard literals `NaN`, `Infinity` and `-Infinity` for non-finite scores (a reward
/// model that failed on one image). Foundation rejects those files as malformed, while the official loader
/// reads them — so the two would disagree on which samples are corrupt. This reader accepts exactly Python's
/// dialect (strict mode, the default), keeps integers apart from floats and bools apart from numbers, and lets
/// a repeated key keep its last value, as a Python `dict` does.
public enum PythonJSONValue: Sendable, Equatable {
    case object([String: PythonJSONValue])
    case array([PythonJSONValue])
    case string(String)
    /// An integer literal (`float(int)` applied, i.e. correctly rounded).
    case int(Double)
    /// A float literal, including `NaN` and `±Infinity`.
    case float(Double)
    case bool(Bool)
    case null

    /// The value if Python's `isinstance(v, (int, float))` holds — bools included (`True` is the int 1) — as
    /// `float(v)`; nil for strings, null, containers.
    public var number: Double? {
        switch self {
        case .int(let v), .float(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// The members of an object, nil for any other value.
    public var object: [String: PythonJSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public static func == (a: PythonJSONValue, b: PythonJSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)), let (.float(x), .float(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }
}

/// A `json.loads` failure: what was wrong and at which byte.
public struct PythonJSONError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "\(message) (byte \(offset))" }
}

/// `json.loads` for UTF-8 bytes.
extension PythonJSON {
    /// Parses one JSON document (surrounding whitespace allowed, nothing else after it).
    public static func parse(_ bytes: [UInt8]) throws -> PythonJSONValue {
        try bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.pos == buffer.count else { throw parser.fail("extra data after the JSON value") }
            return value
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var pos = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func fail(_ message: String) -> PythonJSONError { PythonJSONError(message: message, offset: pos) }

        mutating func skipWhitespace() {
            while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard pos + w.count <= bytes.count else { return false }
            for i in 0..<w.count where bytes[pos + i] != w[i] { return false }
            pos += w.count
            return true
        }

        mutating func value(depth: Int) throws -> PythonJSONValue {
            guard depth < 512 else { throw fail("nesting deeper than 512 levels") }
            guard pos < bytes.count else { throw fail("expecting a value, found the end of the data") }
            switch bytes[pos] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "n"): if literal("null") { return .null }
            case UInt8(ascii: "t"): if literal("true") { return .bool(true) }
            case UInt8(ascii: "f"): if literal("false") { return .bool(false) }
            case UInt8(ascii: "N"): if literal("NaN") { return .float(.nan) }
            case UInt8(ascii: "I"): if literal("Infinity") { return .float(.infinity) }
            case UInt8(ascii: "-"):
                if literal("-Infinity") { return .float(-.infinity) }
                return try number()
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: break
            }
            throw fail("expecting a value")
        }

        mutating func object(depth: Int) throws -> PythonJSONValue {
            pos += 1
            var out: [String: PythonJSONValue] = [:]
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(out) }
            while true {
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                    throw fail("expecting a property name enclosed in double quotes")
                }
                let key = try string()
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expecting ':' delimiter") }
                pos += 1
                skipWhitespace()
                out[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unterminated object") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(out) }
                throw fail("expecting ',' delimiter")
            }
        }

        mutating func array(depth: Int) throws -> PythonJSONValue {
            pos += 1
            var out: [PythonJSONValue] = []
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(out) }
            while true {
                skipWhitespace()
                out.append(try value(depth: depth + 1))
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unterminated array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(out) }
                throw fail("expecting ',' delimiter")
            }
        }

        /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?` (Python's NUMBER_RE); a fraction or exponent makes a float.
        mutating func number() throws -> PythonJSONValue {
            let start = pos
            if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            func digits(_ p: inout Int, in b: UnsafeBufferPointer<UInt8>) -> Int {
                let s = p
                while p < b.count, (0x30...0x39).contains(b[p]) { p += 1 }
                return p - s
            }
            guard pos < bytes.count, (0x30...0x39).contains(bytes[pos]) else { throw fail("expecting a value") }
            if bytes[pos] == 0x30 { pos += 1 } else { _ = digits(&pos, in: bytes) }
            var isFloat = false
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "."), pos + 1 < bytes.count, (0x30...0x39).contains(bytes[pos + 1]) {
                pos += 1
                _ = digits(&pos, in: bytes)
                isFloat = true
            }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
                var p = pos + 1
                if p < bytes.count, bytes[p] == UInt8(ascii: "+") || bytes[p] == UInt8(ascii: "-") { p += 1 }
                if digits(&p, in: bytes) > 0 {
                    pos = p
                    isFloat = true
                }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
            guard let v = Double(text) else { throw fail("unparsable number '\(text)'") }
            return isFloat ? .float(v) : .int(v)
        }

        mutating func string() throws -> String {
            pos += 1  // opening quote
            var out: [UInt8] = []
            var runStart = pos
            while true {
                guard pos < bytes.count else { throw fail("unterminated string") }
                let b = bytes[pos]
                if b == UInt8(ascii: "\"") {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                    pos += 1
                    break
                }
                if b < 0x20 { throw fail("invalid control character in string") }
                if b != UInt8(ascii: "\\") { pos += 1; continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                pos += 1
                guard pos < bytes.count else { throw fail("unterminated string") }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), pos + 1 < bytes.count,
                       bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                        }
                    }
                    // A lone surrogate is legal in a Python str but not in a Swift String: U+FFFD stands in.
                    let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(s)).utf8))
                default:
                    throw fail("invalid \\escape")
                }
                runStart = pos
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
            return s
        }

        mutating func hex4() throws -> UInt32 {
            guard pos + 4 <= bytes.count else { throw fail("invalid \\uXXXX escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("invalid \\uXXXX escape")
                }
                v = v * 16 + d
                pos += 1
            }
            return v
        }
    }
}
