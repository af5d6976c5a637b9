/// A parser for the tiny subset of Python literal syntax that `.npy` headers use.
///
/// numpy writes the header with `repr()` and reads it with `ast.literal_eval`, so a faithful reader needs Python
/// syntax, not JSON: single-quoted strings, `True`/`False`, tuples such as `()`, `(5,)` and `(2, 3)`, and trailing
/// commas. Keys may come in any order. Old Python 2 writers appended `L` to integers (`(3L,)`), which numpy still
/// accepts for format 1.0/2.0, so we accept it too.
indirect enum PythonLiteral: Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(key: PythonLiteral, value: PythonLiteral)])

    static func == (lhs: PythonLiteral, rhs: PythonLiteral) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.none, .none): return true
        case (.tuple(let a), .tuple(let b)), (.list(let a), .list(let b)): return a == b
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The literal as Python's `repr` would show it, for error messages.
    var repr: String {
        switch self {
        case .string(let s): return "'\(s)'"
        case .int(let i): return String(i)
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple(let items): return items.count == 1 ? "(\(items[0].repr),)" : "(" + items.map(\.repr).joined(separator: ", ") + ")"
        case .list(let items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let pairs): return "{" + pairs.map { "\($0.key.repr): \($0.value.repr)" }.joined(separator: ", ") + "}"
        }
    }
}

struct PythonLiteralError: Error {
    var message: String
}

struct PythonLiteralParser {
    private let chars: [Character]
    private var index = 0
    private var depth = 0

    /// Parses one literal that may be surrounded by whitespace (the `.npy` padding is spaces plus `\n`).
    static func parse(_ text: String) throws(PythonLiteralError) -> PythonLiteral {
        var parser = PythonLiteralParser(chars: Array(text))
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.index == parser.chars.count else { throw parser.fail("unexpected text after the literal") }
        return value
    }

    private init(chars: [Character]) { self.chars = chars }

    private func fail(_ message: String) -> PythonLiteralError {
        PythonLiteralError(message: "\(message) at character \(index)")
    }

    private var current: Character? { index < chars.count ? chars[index] : nil }

    private mutating func skipWhitespace() {
        while let c = current, c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n" { index += 1 }
    }

    private mutating func parseValue() throws(PythonLiteralError) -> PythonLiteral {
        guard let c = current else { throw fail("unexpected end of header") }
        switch c {
        case "{": return try parseDict()
        case "(": return try parseSequence(close: ")")
        case "[": return try parseSequence(close: "]")
        case "'", "\"": return .string(try parseString())
        case "-", "0"..."9": return try parseInt()
        default:
            var word = ""
            while let c = current, c.isLetter || c == "_" { word.append(c); index += 1 }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default: throw fail(word.isEmpty ? "unexpected character '\(c)'" : "unsupported name '\(word)'")
            }
        }
    }

    private mutating func enter() throws(PythonLiteralError) {
        depth += 1
        if depth > 32 { throw fail("nesting too deep") }
    }

    private mutating func parseDict() throws(PythonLiteralError) -> PythonLiteral {
        try enter()
        defer { depth -= 1 }
        index += 1
        var pairs: [(key: PythonLiteral, value: PythonLiteral)] = []
        while true {
            skipWhitespace()
            if current == "}" { index += 1; return .dict(pairs) }
            let key = try parseValue()
            skipWhitespace()
            guard current == ":" else { throw fail("expected ':' after dict key \(key.repr)") }
            index += 1
            skipWhitespace()
            pairs.append((key, try parseValue()))
            skipWhitespace()
            if current == "," { index += 1; continue }
            guard current == "}" else { throw fail("expected ',' or '}' in dict") }
        }
    }

    /// Tuples and lists. `(x)` without a comma is just `x` in Python, so it is returned unwrapped.
    private mutating func parseSequence(close: Character) throws(PythonLiteralError) -> PythonLiteral {
        try enter()
        defer { depth -= 1 }
        index += 1
        var items: [PythonLiteral] = []
        var sawComma = false
        while true {
            skipWhitespace()
            if current == close {
                index += 1
                if close == "]" { return .list(items) }
                if items.count == 1 && !sawComma { return items[0] }
                return .tuple(items)
            }
            items.append(try parseValue())
            skipWhitespace()
            if current == "," { index += 1; sawComma = true; continue }
            guard current == close else { throw fail("expected ',' or '\(close)'") }
        }
    }

    private mutating func parseInt() throws(PythonLiteralError) -> PythonLiteral {
        var text = ""
        if current == "-" { text.append("-"); index += 1 }
        while let c = current, c.isASCII, c.isNumber { text.append(c); index += 1 }
        if current == "L" || current == "l" { index += 1 }
        guard let value = Int(text) else { throw fail("invalid integer '\(text)'") }
        return .int(value)
    }

    private mutating func parseString() throws(PythonLiteralError) -> String {
        guard let quote = current else { throw fail("expected a string") }
        index += 1
        var out = ""
        while let c = current {
            index += 1
            if c == quote { return out }
            if c == "\\" {
                guard let escaped = current else { break }
                index += 1
                switch escaped {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(escaped)
                }
            } else if c == "\n" {
                throw fail("newline inside a string")
            } else {
                out.append(c)
            }
        }
        throw fail("unterminated string")
    }
}
