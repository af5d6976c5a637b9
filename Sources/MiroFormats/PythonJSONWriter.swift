// `json.dumps` (CPython Lib/json/encoder.py, pure-Python path; the C encoder writes the same bytes).

extension PythonJSON {
    /// `json.dumps(self, indent=indent, separators=separators, sort_keys=sortKeys, ensure_ascii=ensureASCII)`,
    /// byte for byte (no trailing newline; `json.dump` writes the same text to a file).
    ///
    /// - `indent`: nil writes one line; n puts each member on its own line indented n spaces per level
    ///   (empty containers stay `{}` / `[]`).
    /// - `separators`: Python's default is `(", ", ": ")` on one line and `(",", ": ")` when indenting;
    ///   `(",", ":")` is the compact form (serde_json's, which safetensors headers use).
    /// - `sortKeys`: members sorted by key in code-point order (Python's `str` order), stable for repeats.
    /// - `ensureASCII`: non-ASCII (and DEL) as `\uXXXX` UTF-16 escapes, lowercase hex; off, written as UTF-8
    ///   with only `"`, `\` and control characters escaped — which is also exactly serde_json's escaping.
    ///
    /// Numbers are written as their stored text (see ``number(_:)``), so what was read is written unchanged.
    public func dumps(indent: Int? = nil, separators: (item: String, key: String)? = nil, sortKeys: Bool = false,
                      ensureASCII: Bool = true) -> String {
        var writer = Writer(
            indent: indent.map { String(repeating: " ", count: max(0, $0)) },
            item: separators?.item ?? (indent == nil ? ", " : ","), key: separators?.key ?? ": ",
            sortKeys: sortKeys, ensureASCII: ensureASCII)
        writer.write(self, level: 0)
        return writer.out
    }

    /// A string literal as `json.dumps` writes it (see `ensureASCII` in ``dumps(indent:separators:sortKeys:ensureASCII:)``).
    public static func quoted(_ string: String, ensureASCII: Bool = true) -> String {
        var out = ""
        appendQuoted(string, ensureASCII: ensureASCII, to: &out)
        return out
    }

    private static func appendQuoted(_ string: String, ensureASCII: Bool, to out: inout String) {
        out += "\""
        func hex(_ unit: UInt32) {
            let digits = String(unit, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
        }
        for scalar in string.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x00..<0x20: hex(scalar.value)
            case 0x20..<0x7F: out.unicodeScalars.append(scalar)
            default:
                if !ensureASCII {
                    out.unicodeScalars.append(scalar)
                } else {
                    for unit in String(scalar).utf16 { hex(UInt32(unit)) }
                }
            }
        }
        out += "\""
    }

    private struct Writer {
        let indent: String?
        let item: String
        let key: String
        let sortKeys: Bool
        let ensureASCII: Bool
        var out = ""

        init(indent: String?, item: String, key: String, sortKeys: Bool, ensureASCII: Bool) {
            self.indent = indent
            self.item = item
            self.key = key
            self.sortKeys = sortKeys
            self.ensureASCII = ensureASCII
        }

        /// `item_separator`, then with an indent the newline and the indent of `level`.
        func newline(_ level: Int) -> String {
            indent.map { "\n" + String(repeating: $0, count: level) } ?? ""
        }

        mutating func write(_ value: PythonJSON, level: Int) {
            switch value {
            case .object(let members):
                guard !members.isEmpty else { out += "{}"; return }
                let ordered = sortKeys
                    ? members.enumerated().sorted {
                        pythonStringLess($0.element.key, $1.element.key)
                            || ($0.element.key == $1.element.key && $0.offset < $1.offset)
                    }.map(\.element)
                    : members
                out += "{" + newline(level + 1)
                for (i, member) in ordered.enumerated() {
                    if i > 0 { out += item + newline(level + 1) }
                    appendQuoted(member.key, ensureASCII: ensureASCII, to: &out)
                    out += key
                    write(member.value, level: level + 1)
                }
                out += newline(level) + "}"
            case .array(let elements):
                guard !elements.isEmpty else { out += "[]"; return }
                out += "[" + newline(level + 1)
                for (i, element) in elements.enumerated() {
                    if i > 0 { out += item + newline(level + 1) }
                    write(element, level: level + 1)
                }
                out += newline(level) + "]"
            case .string(let s): appendQuoted(s, ensureASCII: ensureASCII, to: &out)
            case .number(let text): out += text
            case .bool(let b): out += b ? "true" : "false"
            case .null: out += "null"
            }
        }
    }
}
