// `json.loads` (CPython Lib/json/decoder.py, strict mode) and the RFC 8259 subset safetensors headers use.

/// Where and why JSON text was rejected. Callers wrap it into their own error with the file path.
public struct PythonJSONError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// Byte offset into the parsed bytes.
    public var offset: Int
    public var description: String { "\(message) (byte \(offset))" }
}

extension PythonJSON {
    /// What the reader accepts beyond RFC 8259 JSON.
    public struct ParseOptions: Sendable {
        /// Accept `NaN`, `Infinity` and `-Infinity`, which `json.dumps` writes for non-finite floats.
        public var allowNonFiniteLiterals: Bool
        /// Reject an object that repeats a key. Off, every member is kept and lookups take the last value.
        public var rejectDuplicateKeys: Bool
        /// Read a `\u` escape of an unpaired UTF-16 surrogate as U+FFFD. Python keeps it in its `str`; a Swift
        /// `String` cannot hold it. Off, it is an error.
        public var allowLoneSurrogates: Bool
        /// Containers nested deeper than this are an error, so hostile input cannot overflow the stack.
        public var maxDepth: Int

        public init(allowNonFiniteLiterals: Bool, rejectDuplicateKeys: Bool, allowLoneSurrogates: Bool, maxDepth: Int) {
            self.allowNonFiniteLiterals = allowNonFiniteLiterals
            self.rejectDuplicateKeys = rejectDuplicateKeys
            self.allowLoneSurrogates = allowLoneSurrogates
            self.maxDepth = maxDepth
        }

        /// What `json.loads` accepts: non-finite literals, repeated keys (the last wins), lone surrogates.
        public static let python = ParseOptions(
            allowNonFiniteLiterals: true, rejectDuplicateKeys: false, allowLoneSurrogates: true, maxDepth: 512)
        /// RFC 8259 without repeated keys, as the safetensors spec (and its Rust reader) requires; deep enough for
        /// any real header.
        public static let strict = ParseOptions(
            allowNonFiniteLiterals: false, rejectDuplicateKeys: true, allowLoneSurrogates: false, maxDepth: 128)
    }

    /// Parses one JSON document from UTF-8 bytes: surrounding whitespace allowed, nothing else after it.
    /// Errors name the byte offset.
    public static func parse(_ bytes: [UInt8], options: ParseOptions = .python) throws(PythonJSONError) -> PythonJSON {
        let result: Result<PythonJSON, PythonJSONError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer, options: options)
            do throws(PythonJSONError) {
                parser.skipWhitespace()
                let value = try parser.value()
                parser.skipWhitespace()
                guard parser.pos == buffer.count else { throw parser.fail("unexpected trailing characters") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Recursive descent over the raw bytes, so errors can name exact offsets.
    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let options: ParseOptions
        var pos = 0
        var depth = 0

        init(bytes: UnsafeBufferPointer<UInt8>, options: ParseOptions) {
            self.bytes = bytes
            self.options = options
        }

        func fail(_ message: String, at offset: Int? = nil) -> PythonJSONError {
            PythonJSONError(message: message, offset: offset ?? pos)
        }

        mutating func skipWhitespace() {
            while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
                pos += 1
            }
        }

        func peek(_ scalar: Unicode.Scalar) -> Bool { pos < bytes.count && bytes[pos] == UInt8(ascii: scalar) }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard pos + n <= bytes.count else { return false }
            let w = word.utf8Start
            for i in 0..<n where bytes[pos + i] != w[i] { return false }
            pos += n
            return true
        }

        mutating func expect(_ word: StaticString) throws(PythonJSONError) {
            guard literal(word) else { throw fail("invalid literal (expected '\(word)')") }
        }

        mutating func value() throws(PythonJSONError) -> PythonJSON {
            guard pos < bytes.count else { throw fail("unexpected end of input") }
            let b = bytes[pos]
            switch b {
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "N") where options.allowNonFiniteLiterals:
                try expect("NaN"); return .number("NaN")
            case UInt8(ascii: "I") where options.allowNonFiniteLiterals:
                try expect("Infinity"); return .number("Infinity")
            case UInt8(ascii: "-") where options.allowNonFiniteLiterals && literal("-Infinity"):
                return .number("-Infinity")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected character '\(Character(Unicode.Scalar(b)))'")
            }
        }

        mutating func enter() throws(PythonJSONError) {
            depth += 1
            if depth > options.maxDepth { throw fail("nesting deeper than \(options.maxDepth) levels") }
        }

        mutating func object() throws(PythonJSONError) -> PythonJSON {
            try enter()
            defer { depth -= 1 }
            pos += 1  // {
            var members: [(key: String, value: PythonJSON)] = []
            var seen = Set<String>()
            skipWhitespace()
            if peek("}") { pos += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard peek("\"") else { throw fail("expected a string key") }
                let keyOffset = pos
                let key = try string()
                if options.rejectDuplicateKeys, !seen.insert(key).inserted {
                    throw fail("duplicate key \"\(key)\"", at: keyOffset)
                }
                skipWhitespace()
                guard peek(":") else { throw fail("expected ':' after key") }
                pos += 1
                skipWhitespace()
                members.append((key, try value()))
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unterminated object") }
                if peek(",") { pos += 1; continue }
                if peek("}") { pos += 1; return .object(members) }
                throw fail("expected ',' or '}' in object")
            }
        }

        mutating func array() throws(PythonJSONError) -> PythonJSON {
            try enter()
            defer { depth -= 1 }
            pos += 1  // [
            var elements: [PythonJSON] = []
            skipWhitespace()
            if peek("]") { pos += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try value())
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unterminated array") }
                if peek(",") { pos += 1; continue }
                if peek("]") { pos += 1; return .array(elements) }
                throw fail("expected ',' or ']' in array")
            }
        }

        mutating func digits() -> Int {
            let start = pos
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
            return pos - start
        }

        /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`, kept as written. (Python's NUMBER_RE matches a prefix and then
        /// fails on what follows, so it accepts exactly the same documents.)
        mutating func number() throws(PythonJSONError) -> PythonJSON {
            let start = pos
            if peek("-") { pos += 1 }
            guard pos < bytes.count, (0x30...0x39).contains(bytes[pos]) else { throw fail("invalid number") }
            if peek("0") { pos += 1 } else { _ = digits() }
            if peek(".") {
                pos += 1
                guard digits() > 0 else { throw fail("invalid number: no digits after '.'") }
            }
            if peek("e") || peek("E") {
                pos += 1
                if peek("+") || peek("-") { pos += 1 }
                guard digits() > 0 else { throw fail("invalid number: no digits in exponent") }
            }
            return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self))
        }

        mutating func string() throws(PythonJSONError) -> String {
            let open = pos
            pos += 1  // opening quote
            var out: [UInt8] = []
            var runStart = pos
            while true {
                guard pos < bytes.count else { throw fail("unterminated string", at: open) }
                let b = bytes[pos]
                if b == UInt8(ascii: "\"") {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                    pos += 1
                    break
                }
                if b < 0x20 { throw fail("unescaped control character in string") }
                if b != UInt8(ascii: "\\") { pos += 1; continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                pos += 1
                guard pos < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): out.append(contentsOf: String(Character(try unicodeEscape())).utf8)
                default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: pos - 2)
                }
                runStart = pos
            }
            guard isValidUTF8(out) else { throw fail("string is not valid UTF-8", at: open) }
            return String(decoding: out, as: UTF8.self)
        }

        /// The scalar after `\u`, joining a UTF-16 surrogate pair.
        mutating func unicodeEscape() throws(PythonJSONError) -> Unicode.Scalar {
            let escape = pos - 2
            let first = try hex4()
            if (0xD800..<0xDC00).contains(first), pos + 1 < bytes.count,
               bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                let save = pos
                pos += 2
                let second = try hex4()
                if (0xDC00..<0xE000).contains(second) {
                    return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
                }
                pos = save  // Python keeps the lone high surrogate and reads the next escape on its own
            }
            if let scalar = Unicode.Scalar(first) { return scalar }
            guard options.allowLoneSurrogates else { throw fail("unpaired UTF-16 surrogate in \\u escape", at: escape) }
            return "\u{FFFD}"
        }

        mutating func hex4() throws(PythonJSONError) -> UInt32 {
            guard pos + 4 <= bytes.count else { throw fail("invalid \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                switch c {
                case 0x30...0x39: v = v << 4 | UInt32(c - 0x30)
                case 0x41...0x46: v = v << 4 | UInt32(c - 0x41 + 10)
                case 0x61...0x66: v = v << 4 | UInt32(c - 0x61 + 10)
                default: throw fail("invalid \\u escape")
                }
                pos += 1
            }
            return v
        }
    }
}

/// Strict UTF-8 validation (no overlong forms, no surrogates), without needing `String(validating:)`,
/// which is unavailable before macOS 15.
func isValidUTF8<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Bool {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue: continue
        case .emptyInput: return true
        case .error: return false
        }
    }
}
