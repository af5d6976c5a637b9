// Port of how special ("added") tokens are cut out of the text before the model sees it:
// - Hugging Face tokenizers 0.19.1 `AddedVocabulary::find_matches` / `extract_and_normalize`
//   (src/tokenizer/added_vocabulary.rs): leftmost-longest matches; `lstrip` / `rstrip` swallow Unicode White_Space
//   (regex `\s`) beside the token; `single_word` needs non-word characters (regex `\w`) around it.
// - transformers 4.40.2 `PreTrainedTokenizer.tokenize` (tokenization_utils.py), which the slow T5Tokenizer runs:
//   `Trie.split`, then `rstrip` left-strips the next chunk and `lstrip` right-strips the previous one with
//   Python's `str.strip` whitespace, `single_word` glues the token to a neighbour without a space.

/// A token matched in the raw text before normalization and segmentation (`<pad>`, `</s>`, `<extra_id_0>` ...).
public struct AddedToken: Sendable, Equatable {
    public var content: String
    public var id: Int32
    public var singleWord = false
    public var lstrip = false
    public var rstrip = false
    /// Matched in the normalized text rather than the raw text (tokenizers only).
    public var normalized = false
    public var special = true

    public init(content: String, id: Int32, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false, special: Bool = true) {
        self.content = content
        self.id = id
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }
}

/// A piece of the input after the added tokens are cut out.
enum TextSegment: Equatable {
    /// Text for the model; `atInputStart` when it begins at offset 0 of the input.
    case text(String, atInputStart: Bool)
    case token(Int32)
}

/// Leftmost-longest, non-overlapping occurrences of `patterns` in `bytes`: (start, end, pattern index).
private func leftmostLongestMatches(_ bytes: [UInt8], _ patterns: [[UInt8]]) -> [(start: Int, end: Int, index: Int)] {
    var matches: [(start: Int, end: Int, index: Int)] = []
    var i = 0
    while i < bytes.count {
        var best: (length: Int, index: Int)?
        for (index, pattern) in patterns.enumerated() where !pattern.isEmpty && pattern[0] == bytes[i] {
            if pattern.count > (best?.length ?? 0), bytes.count - i >= pattern.count,
               bytes[i..<(i + pattern.count)].elementsEqual(pattern) {
                best = (pattern.count, index)
            }
        }
        if let best {
            matches.append((i, i + best.length, best.index))
            i += best.length
        } else {
            i += 1
        }
    }
    return matches
}

// MARK: - Hugging Face tokenizers

/// `\s` of Rust's regex crate: Unicode White_Space.
private func isRustWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

/// `\w` of Rust's regex crate: Alphabetic, marks, decimal digits, connector punctuation, join controls.
private func isRustWordCharacter(_ s: Unicode.Scalar) -> Bool {
    let p = s.properties
    if p.isAlphabetic || p.isJoinControl { return true }
    switch p.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
}

/// `AddedVocabulary::find_matches`: splits `text` into runs and added tokens. Empty runs are dropped (as
/// `PreTokenizedString::split` does). `startOffset` is the byte offset of `text` in the input.
func huggingFaceSplit(_ text: String, tokens: [AddedToken], patterns: [[UInt8]], startOffset: Int,
                      keepText: (String, Bool) -> [TextSegment]) -> [TextSegment] {
    let bytes = Array(text.utf8)
    var segments: [TextSegment] = []
    var offset = 0
    func emitText(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let piece = String(decoding: bytes[range], as: UTF8.self)
        segments.append(contentsOf: keepText(piece, startOffset + range.lowerBound == 0))
    }
    for match in leftmostLongestMatches(bytes, patterns) {
        let token = tokens[match.index]
        var start = match.start
        var stop = match.end
        if token.singleWord {
            let before = String(decoding: bytes[..<start], as: UTF8.self).unicodeScalars.last
            let after = String(decoding: bytes[stop...], as: UTF8.self).unicodeScalars.first
            let startSpace = start == 0 || !(before.map(isRustWordCharacter) ?? false)
            let stopSpace = stop == bytes.count || !(after.map(isRustWordCharacter) ?? false)
            guard startSpace && stopSpace else { continue }
        }
        if token.lstrip {
            var newStart = start
            for scalar in String(decoding: bytes[..<start], as: UTF8.self).unicodeScalars.reversed() {
                guard isRustWhitespace(scalar) else { break }
                newStart -= UTF8.width(scalar)
            }
            start = max(newStart, offset)
        }
        if token.rstrip {
            for scalar in String(decoding: bytes[stop...], as: UTF8.self).unicodeScalars {
                guard isRustWhitespace(scalar) else { break }
                stop += UTF8.width(scalar)
            }
        }
        emitText(offset..<start)
        segments.append(.token(token.id))
        offset = stop
    }
    emitText(offset..<bytes.count)
    return segments
}

// MARK: - transformers' slow tokenizers

/// Python's `str.isspace()` (what `str.strip()` removes): bidi class WS, B or S, or category Zs.
private func isPythonWhitespace(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
    default:
        return false
    }
}

private func pythonLStrip(_ s: String) -> String {
    String(String.UnicodeScalarView(s.unicodeScalars.drop(while: isPythonWhitespace)))
}

private func pythonRStrip(_ s: String) -> String {
    var scalars = Substring(s).unicodeScalars[...]
    while let last = scalars.last, isPythonWhitespace(last) { scalars.removeLast() }
    return String(String.UnicodeScalarView(scalars))
}

/// `PreTrainedTokenizer.tokenize` without the model: chunks of text (for `_tokenize`) and added tokens.
///
/// `Trie.split` is taken as leftmost-longest matching. That is what it computes whenever no added token is a prefix
/// of another one followed by more text (T5's `<pad>`, `</s>`, `<unk>`, `<extra_id_N>` never are); with such
/// overlapping tokens its lookahead can pick differently.
func slowTokenizerSplit(_ text: String, tokens: [AddedToken]) -> [TextSegment] {
    let bytes = Array(text.utf8)
    let patterns = tokens.map { Array($0.content.utf8) }
    // `Trie.split` + `cut_text`: the pieces between and including the matches, never empty.
    var chunks: [(text: String, token: AddedToken?)] = []
    var offset = 0
    for match in leftmostLongestMatches(bytes, patterns) {
        if match.start > offset { chunks.append((String(decoding: bytes[offset..<match.start], as: UTF8.self), nil)) }
        chunks.append((tokens[match.index].content, tokens[match.index]))
        offset = match.end
    }
    if offset < bytes.count { chunks.append((String(decoding: bytes[offset...], as: UTF8.self), nil)) }

    for i in chunks.indices {
        guard let token = chunks[i].token else { continue }
        if token.rstrip, i + 1 < chunks.count, !chunks[i + 1].text.isEmpty {
            chunks[i + 1].text = pythonLStrip(chunks[i + 1].text)
        }
        if token.lstrip, i > 0, !chunks[i - 1].text.isEmpty {
            chunks[i - 1].text = pythonRStrip(chunks[i - 1].text)
        }
        if token.singleWord, i > 0, !chunks[i - 1].text.isEmpty, chunks[i - 1].text.unicodeScalars.last != " " {
            chunks[i - 1].text += chunks[i].text
            chunks[i] = ("", nil)
        } else if token.singleWord, i + 1 < chunks.count, !chunks[i + 1].text.isEmpty,
                  chunks[i + 1].text.unicodeScalars.first != " " {
            chunks[i + 1].text = chunks[i].text + chunks[i + 1].text
            chunks[i] = ("", nil)
        }
    }
    // A chunk whose text equals an added token is that token (`token in no_split_token`), wherever it came from.
    let byContent = Dictionary(tokens.map { ($0.content, $0.id) }, uniquingKeysWith: { _, last in last })
    var segments: [TextSegment] = []
    for chunk in chunks where !chunk.text.isEmpty {
        if let id = byContent[chunk.text] { segments.append(.token(id)) } else {
            segments.append(.text(chunk.text, atInputStart: false))
        }
    }
    return segments
}
