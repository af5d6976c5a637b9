// Port of the normalizers and pre-tokenizers of Hugging Face tokenizers 0.19.1 that SentencePiece-converted
// tokenizers use (src/normalizers/{precompiled,strip,replace}.rs, src/pre_tokenizers/{metaspace,whitespace}.rs,
// their Sequence wrappers), on plain strings: encoding needs no offsets.

/// A normalizer of a `tokenizer.json`.
indirect enum HFNormalizer: Sendable {
    case precompiled(PrecompiledCharsMap)
    /// `Strip`: removes `char::is_whitespace` characters (Unicode White_Space) at either end.
    case strip(left: Bool, right: Bool)
    case replace(ReplacePattern, content: String)
    case sequence([HFNormalizer])

    func normalize(_ text: String) -> String {
        switch self {
        case .precompiled(let map): return map.huggingFaceNormalize(text)
        case .strip(let left, let right):
            var scalars = Substring(text).unicodeScalars[...]
            if left { while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() } }
            if right { while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() } }
            return String(String.UnicodeScalarView(scalars))
        case .replace(let pattern, let content): return pattern.replaceAll(in: text, with: content)
        case .sequence(let steps): return steps.reduce(text) { $1.normalize($0) }
        }
    }
}

/// The pattern of a `Replace` normalizer: a literal string, or the one regex shape SentencePiece converters
/// write, a single character repeated (`" {2,}"`, `"a+"`, `"x{3}"`). Other regexes are refused at load.
struct ReplacePattern: Sendable {
    var literal: [Unicode.Scalar]
    /// For a repeated character: the bounds of the count (`max` nil: unbounded). nil for a literal string.
    var repeatCount: (min: Int, max: Int?)?

    /// Parses a `{"Regex": ...}` pattern; nil when it is not of the supported shape.
    static func regex(_ source: String) -> ReplacePattern? {
        var scalars = Array(source.unicodeScalars)
        guard !scalars.isEmpty else { return nil }
        var atom: Unicode.Scalar
        if scalars[0] == "\\" {
            // An escaped punctuation character stands for itself; `\s`, `\d`, ... are classes (refused).
            guard scalars.count >= 2, scalars[1].isASCII, !scalars[1].properties.isAlphabetic,
                  !("0"..."9").contains(scalars[1]) else { return nil }
            atom = scalars[1]
            scalars.removeFirst(2)
        } else {
            atom = scalars.removeFirst()
            guard !"\\.^$|?*+()[]{}".unicodeScalars.contains(atom) else { return nil }
        }
        let rest = String(String.UnicodeScalarView(scalars))
        switch rest {
        case "": return ReplacePattern(literal: [atom], repeatCount: nil)
        case "+": return ReplacePattern(literal: [atom], repeatCount: (1, nil))
        default:
            guard rest.hasPrefix("{"), rest.hasSuffix("}") else { return nil }
            let inside = rest.dropFirst().dropLast()
            let parts = inside.split(separator: ",", omittingEmptySubsequences: false)
            guard let low = Int(parts[0]), low >= 1, low <= 10_000 else { return nil }
            switch parts.count {
            case 1: return ReplacePattern(literal: [atom], repeatCount: (low, low))
            case 2 where parts[1].isEmpty: return ReplacePattern(literal: [atom], repeatCount: (low, nil))
            case 2:
                guard let high = Int(parts[1]), high >= low else { return nil }
                return ReplacePattern(literal: [atom], repeatCount: (low, high))
            default: return nil
            }
        }
    }

    /// Replaces every non-overlapping match, leftmost first (greedy for repeats), as the regex engine does.
    func replaceAll(in text: String, with content: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        if let (low, high) = repeatCount {
            let atom = literal[0]
            while i < scalars.count {
                guard scalars[i] == atom else { out.append(scalars[i]); i += 1; continue }
                var run = 0
                while i + run < scalars.count, scalars[i + run] == atom { run += 1 }
                // A run longer than `high` is several matches of `high`, then what is left if long enough.
                var remaining = run
                while remaining >= low {
                    let take = min(remaining, high ?? remaining)
                    out.append(contentsOf: content.unicodeScalars)
                    remaining -= take
                }
                out.append(contentsOf: Array(repeating: atom, count: remaining))
                i += run
            }
        } else {
            guard !literal.isEmpty else { return text }
            while i < scalars.count {
                if i + literal.count <= scalars.count, scalars[i..<(i + literal.count)].elementsEqual(literal) {
                    out.append(contentsOf: content.unicodeScalars)
                    i += literal.count
                } else {
                    out.append(scalars[i])
                    i += 1
                }
            }
        }
        return String(out)
    }
}

/// A pre-tokenizer of a `tokenizer.json`. Splits carry whether they start at the very start of the input
/// (Metaspace's `prepend_scheme: first` prepends only there).
indirect enum HFPreTokenizer: Sendable {
    enum PrependScheme: String, Sendable { case first, never, always }

    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    /// `WhitespaceSplit`: splits on Unicode White_Space and drops it.
    case whitespaceSplit
    case sequence([HFPreTokenizer])

    struct Split { var text: String; var atInputStart: Bool }

    func preTokenize(_ splits: [Split]) -> [Split] {
        switch self {
        case .sequence(let steps): return steps.reduce(splits) { $1.preTokenize($0) }
        case .whitespaceSplit:
            return splits.flatMap { split -> [Split] in
                var out: [Split] = []
                var current = String.UnicodeScalarView()
                var first = true
                var leadingWhitespace = false
                for scalar in split.text.unicodeScalars {
                    if scalar.properties.isWhitespace {
                        if !current.isEmpty {
                            out.append(Split(text: String(current), atInputStart: split.atInputStart && first && !leadingWhitespace))
                            current = String.UnicodeScalarView()
                            first = false
                        } else if first {
                            leadingWhitespace = true
                        }
                    } else {
                        current.append(scalar)
                    }
                }
                if !current.isEmpty {
                    out.append(Split(text: String(current), atInputStart: split.atInputStart && first && !leadingWhitespace))
                }
                return out
            }
        case .metaspace(let replacement, let scheme, let splitOnReplacement):
            // Rust works on `char`s (scalars) here: a replacement followed by a combining mark still counts.
            return splits.flatMap { split -> [Split] in
                var scalars = Array(split.text.unicodeScalars.map { $0 == " " ? replacement : $0 })
                let prepend: Bool
                switch scheme {
                case .always: prepend = true
                case .first: prepend = split.atInputStart
                case .never: prepend = false
                }
                // `NormalizedString::prepend` does nothing on an empty string.
                if prepend, let first = scalars.first, first != replacement { scalars.insert(replacement, at: 0) }
                guard !scalars.isEmpty else { return [] }
                guard splitOnReplacement else {
                    return [Split(text: String(String.UnicodeScalarView(scalars)), atInputStart: split.atInputStart)]
                }
                // SplitDelimiterBehavior::MergedWithNext: every replacement character starts a new split.
                var out: [Split] = []
                var current = String.UnicodeScalarView()
                for scalar in scalars {
                    if scalar == replacement, !current.isEmpty {
                        out.append(Split(text: String(current), atInputStart: split.atInputStart && out.isEmpty))
                        current = String.UnicodeScalarView()
                    }
                    current.append(scalar)
                }
                if !current.isEmpty { out.append(Split(text: String(current), atInputStart: split.atInputStart && out.isEmpty)) }
                return out
            }
        }
    }
}
