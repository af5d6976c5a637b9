// The one JSON value of the package. Every JSON file MIRO reads or writes goes through it: the sample `.json`
// members (`json.dumps` in data/preprocess_data.py, `json.loads` in miro/data/text_wids_dataset.py), the WIDS
// shard index, the reward-bins cache, the release config.json (`json.dump(indent=2)` in
// scripts/convert_and_upload_to_hf.py), safetensors headers (serde_json) and sharded-checkpoint indexes.

/// A JSON value as Python's `json` module reads and writes it.
///
/// Why our own type rather than `JSONSerialization` / `Codable`:
/// - Python writes the non-standard literals `NaN`, `Infinity` and `-Infinity` (a reward model that failed on one
///   image); Foundation rejects such files, while the official loader reads them.
/// - Python tells `7` from `7.0` and the official files are meant to be byte-comparable; Foundation turns both into
///   the same `NSNumber` and `JSONEncoder` writes `7` for the float 7.
/// - Key order is part of the written bytes (config.json follows the converter's order), and a repeated key must
///   either keep its last value (a Python `dict`) or be an error (the safetensors spec forbids duplicates).
///
/// So a number keeps its text (`.number("7.0")`): it round-trips as written, ints stay ints, and a huge int
/// converts to `Double` correctly rounded, as `float(int)` does. An object keeps its members in order, repeats
/// included; `subscript(key)` and ``object`` give the last value of a key, as a Python `dict` does.
///
/// Read with ``parse(_:options:)`` (Python's dialect, or strict RFC 8259 for safetensors); write with
/// ``dumps(indent:separators:sortKeys:ensureASCII:)``, which renders like `json.dumps` with the same arguments.
public enum PythonJSON: Sendable {
    /// Members in the order written; a key may repeat (lookups take the last).
    case object([(key: String, value: PythonJSON)])
    case array([PythonJSON])
    case string(String)
    /// A number as written: a JSON number lexeme (`7`, `-0.5`, `1e-09`), or `NaN`, `Infinity`, `-Infinity`.
    /// A lexeme without `.`, `e` or `E` is a Python `int`; any other is a `float`. Build numbers with
    /// ``int(_:)`` and ``float(_:)``.
    case number(String)
    case bool(Bool)
    case null
}

// MARK: - Building

extension PythonJSON {
    /// A Python `int`.
    public static func int(_ value: Int) -> PythonJSON { .number(String(value)) }

    /// A Python `float`, written as `json.dumps` writes it: `float.__repr__` (`7.0`, `1e-09`, `0.1`), or `NaN`,
    /// `Infinity`, `-Infinity`.
    public static func float(_ value: Double) -> PythonJSON {
        if value.isNaN { return .number("NaN") }
        if value.isInfinite { return .number(value < 0 ? "-Infinity" : "Infinity") }
        return .number(PythonFloatRepr.string(value))
    }
}

// MARK: - Reading

extension PythonJSON {
    /// `true` for a number Python reads as an `int` (no fraction, no exponent, not a non-finite literal).
    public var isInteger: Bool {
        guard case .number(let text) = self else { return false }
        return Self.isIntegerLexeme(text)
    }

    /// An integer number that fits `Int`; nil for floats (even whole ones), bools and everything else.
    public var integer: Int? {
        guard case .number(let text) = self, Self.isIntegerLexeme(text) else { return nil }
        return Int(text)
    }

    /// `float(v)` of an `int` or `float` (correctly rounded, so a 20-digit int gives the nearest double); nil for
    /// bools and everything else.
    public var double: Double? {
        guard case .number(let text) = self else { return nil }
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(text)
        }
    }

    /// The value if Python's `isinstance(v, (int, float))` holds — bools included (`True` is the int 1) — as
    /// `float(v)`; nil for strings, null, containers.
    public var number: Double? {
        if case .bool(let b) = self { return b ? 1 : 0 }
        return double
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var array: [PythonJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The members of an object in written order, repeats included; nil for any other value.
    public var members: [(key: String, value: PythonJSON)]? {
        if case .object(let m) = self { return m }
        return nil
    }

    /// An object as the `dict` `json.loads` returns: a repeated key keeps its last value. Nil for any other value.
    public var object: [String: PythonJSON]? {
        guard case .object(let m) = self else { return nil }
        var out = [String: PythonJSON](minimumCapacity: m.count)
        for (key, value) in m { out[key] = value }
        return out
    }

    /// `d.get(key)` of an object: the last value written for `key`; nil when absent or when this is not an object.
    public subscript(key: String) -> PythonJSON? {
        guard case .object(let m) = self else { return nil }
        return m.last { $0.key == key }?.value
    }

    /// Element `index` of an array; nil when out of range or when this is not an array.
    public subscript(index: Int) -> PythonJSON? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }

    static func isIntegerLexeme(_ text: String) -> Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
            && text != "NaN" && text != "Infinity" && text != "-Infinity"
    }

    /// A short rendering for error messages (`"abc"`, `12`, `an object`).
    var brief: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string(let s): return "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}

// MARK: - Equality

extension PythonJSON: Equatable {
    /// Same value of the same Python type: ints compare exactly (`7 == 7`, but `7 != 7.0`), floats by value with
    /// `NaN == NaN` (`2.0 == 2.00`), objects member by member in order, arrays element by element.
    public static func == (lhs: PythonJSON, rhs: PythonJSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)):
            switch (isIntegerLexeme(a), isIntegerLexeme(b)) {
            case (true, true):
                // JSON ints have no leading zeros, so equal ints are equal text, but for the sign of zero.
                return a == b || (a.trimmingPrefix("-") == "0" && b.trimmingPrefix("-") == "0")
            case (false, false):
                guard let x = lhs.double, let y = rhs.double else { return a == b }
                return x == y || (x.isNaN && y.isNaN)
            default: return false
            }
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }
}

extension PythonJSON: CustomStringConvertible {
    /// `json.dumps(v)`.
    public var description: String { dumps() }
}
