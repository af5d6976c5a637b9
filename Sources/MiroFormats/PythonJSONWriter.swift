// Port of the config.json text that scripts/convert_and_upload_to_hf.py (nicolas-dufour/miro) writes with
// Python's `json.dump(config, f, indent=2)` (method §9).


/// A JSON value that keeps key order and tells integers from floats, rendered exactly as Python's
/// `json.dump(value, f, indent=2)` renders the same dict (default `ensure_ascii=True`, no trailing
/// newline). Why not `JSONEncoder`: it neither keeps the converter's key order nor writes `7.0` for a
/// float 7 (it writes `7`), and the official folder is meant to be byte-comparable.
public indirect enum PythonJSON: Equatable, Sendable {
    case object([(String, PythonJSON)])
    case array([PythonJSON])
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)
    case null

    public static func == (lhs: PythonJSON, rhs: PythonJSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.float(let a), .float(let b)): a == b || (a.isNaN && b.isNaN)
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// A float that the official YAML config writes as an integer literal when it is whole
    /// (`compute_dropout: 0` in configs/config.yaml reaches config.json as `0`, not `0.0`).
    public static func yamlNumber(_ value: Double) -> PythonJSON {
        value.rounded() == value && abs(value) < 1e15 ? .int(Int(value)) : .float(value)
    }

    /// `json.dumps(self, indent=2)`.
    public func rendered() -> String {
        var out = ""
        render(into: &out, level: 0)
        return out
    }

    private func render(into out: inout String, level: Int) {
        let pad = String(repeating: " ", count: 2 * (level + 1))
        let closePad = String(repeating: " ", count: 2 * level)
        switch self {
        case .object(let items):
            guard !items.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (i, (key, value)) in items.enumerated() {
                out += pad + pythonJSONQuoted(key) + ": "
                value.render(into: &out, level: level + 1)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += closePad + "}"
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (i, value) in items.enumerated() {
                out += pad
                value.render(into: &out, level: level + 1)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .string(let s): out += pythonJSONQuoted(s)
        case .int(let i): out += String(i)
        case .float(let d):
            out += PythonFloatRepr.jsonNumber(d)  // float.__repr__; json writes NaN / Infinity bare
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }
}
