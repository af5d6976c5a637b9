/// Port of transformers 4.40.2 `BertTokenizer` (models/bert/tokenization_bert.py: `load_vocab`, `BasicTokenizer`,
/// `WordpieceTokenizer`, `build_inputs_with_special_tokens`) for an uncased `vocab.txt`, as ImageReward's BLIP calls
/// it: `tokenizer(prompt, padding="max_length", truncation=True, max_length=35)` → `[CLS] … [SEP]`, `[PAD]` with mask 0.
///
/// The basic tokenizer drops NUL, U+FFFD and control characters, turns whitespace into spaces, puts spaces around
/// CJK ideographs, NFC-normalises, splits on whitespace, lower-cases, strips accents (NFD, drop Mn), and splits every
/// punctuation character off; WordPiece then takes the longest vocabulary prefix, continuing with `##` pieces, and
/// gives `[UNK]` for a word it cannot cover or one longer than 100 characters.
/// Not reproduced: special tokens written in the text (`[MASK]`) are split like words, and Python's `str.lower`
/// Greek final-sigma rule (lower-casing here is per character, as BertTokenizerFast does).
import Foundation

public final class BERTWordPieceTokenizer: Sendable {
    public struct Encoding: Sendable, Equatable {
        public var ids: [Int32]
        public var attentionMask: [Int32]
    }

    public let path: String
    public let clsID: Int32
    public let sepID: Int32
    public let padID: Int32
    public let unknownID: Int32
    public let maxInputCharsPerWord = 100
    public let vocabularySize: Int

    /// Keys are UTF-8 bytes: Python compares strings code point by code point, Swift `String` up to canonical
    /// equivalence, which would merge distinct vocabulary entries.
    private let vocabulary: [[UInt8]: Int32]

    /// Reads `vocab.txt`: one token a line, the line number is the id (a repeated token keeps its last line).
    public init(vocabTXT path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.io(path: path, message: "cannot be read (\(error.localizedDescription))")
        }
        guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw TokenizerError.invalidFile(path: path, message: "is not valid UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // `readlines()` gives no extra empty line after a final newline.
        if text.hasSuffix("\n") { lines.removeLast() }
        guard lines.count < Int(Int32.max) else { throw TokenizerError.invalidFile(path: path, message: "has too many lines") }
        var vocabulary: [[UInt8]: Int32] = [:]
        for (index, line) in lines.enumerated() { vocabulary[Array(line.utf8)] = Int32(index) }
        func id(_ token: String) throws -> Int32 {
            guard let v = vocabulary[Array(token.utf8)] else {
                throw TokenizerError.invalidFile(path: path, message: "has no line for the special token `\(token)`")
            }
            return v
        }
        self.path = path
        self.clsID = try id("[CLS]")
        self.sepID = try id("[SEP]")
        self.padID = try id("[PAD]")
        self.unknownID = try id("[UNK]")
        self.vocabulary = vocabulary
        self.vocabularySize = lines.count
    }

    /// The id of `token` as a whole vocabulary line (`[MASK]`, `##ing`), or nil when `vocab.txt` has no such line.
    public func tokenID(_ token: String) -> Int32? { vocabulary[Array(token.utf8)] }

    // MARK: Encoding

    /// The wordpiece ids of `text`, without `[CLS]`/`[SEP]`.
    public func encodeContent(_ text: String) -> [Int32] {
        basicTokens(text).flatMap(wordpieces)
    }

    /// `[CLS]` + content + `[SEP]`, untruncated.
    public func encode(_ text: String) -> [Int32] { [clsID] + encodeContent(text) + [sepID] }

    /// `padding="max_length", truncation=True, max_length=length`: content cut to `length - 2`, then `[PAD]`s.
    public func encode(_ text: String, length: Int) throws -> Encoding {
        try encoding(content: encodeContent(text), length: length)
    }

    /// `[CLS]` + `content` cut to `length - 2` + `[SEP]`, then `[PAD]`s with mask 0 up to `length`.
    func encoding(content: [Int32], length: Int) throws -> Encoding {
        guard length >= 2 else { throw TokenizerError.invalidArgument(message: "length \(length) leaves no room for [CLS] and [SEP]") }
        var ids = [clsID] + content.prefix(length - 2) + [sepID]
        let mask = [Int32](repeating: 1, count: ids.count) + [Int32](repeating: 0, count: length - ids.count)
        ids += [Int32](repeating: padID, count: length - ids.count)
        return Encoding(ids: ids, attentionMask: mask)
    }

    /// Every text at `length` tokens (ImageReward tokenises one prompt per image this way).
    public func encode(batch texts: [String], length: Int) throws -> [Encoding] {
        try texts.map { try encode($0, length: length) }
    }

    // MARK: BasicTokenizer

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.generalCategory == .spaceSeparator
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        let c = s.properties.generalCategory
        return c == .control || c == .format
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    /// `BasicTokenizer.tokenize` with `do_lower_case=True`, `tokenize_chinese_chars=True`, `strip_accents=None`.
    func basicTokens(_ text: String) -> [[Unicode.Scalar]] {
        // _clean_text and _tokenize_chinese_chars
        var cleaned = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
            if Self.isWhitespace(s) {
                cleaned.append(" ")
            } else if Self.isChineseCharacter(s) {
                cleaned.append(" ")
                cleaned.append(s)
                cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        let normalized = String(cleaned).precomposedStringWithCanonicalMapping
        var out: [[Unicode.Scalar]] = []
        for word in Self.pythonSplit(normalized) {
            let lowered = CLIPTextCleaning.lowercasedPerScalar(String(String.UnicodeScalarView(word)))
            // _run_strip_accents: NFD, then drop nonspacing marks.
            let stripped = lowered.decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                $0.properties.generalCategory != .nonspacingMark
            }
            // _run_split_on_punc
            var current: [Unicode.Scalar] = []
            for s in stripped {
                if Self.isPunctuation(s) {
                    if !current.isEmpty { out.append(current) }
                    out.append([s])
                    current = []
                } else {
                    current.append(s)
                }
            }
            if !current.isEmpty { out.append(current) }
        }
        // The final `whitespace_tokenize(" ".join(split_tokens))` only matters when stripping left whitespace inside a
        // token, which _clean_text has already made impossible except for Python-only spaces (U+001C…U+001F).
        return out.flatMap { Self.pythonSplit(String(String.UnicodeScalarView($0))) }
    }

    /// Python `str.split()`: runs of `str.isspace` characters separate words.
    static func pythonSplit(_ text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in text.unicodeScalars {
            if CLIPTextCleaning.pythonIsSpace(s) {
                if !current.isEmpty { words.append(current) }
                current = []
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    // MARK: WordpieceTokenizer

    /// Greedy longest-match-first over one basic token (code points, as Python's `list(token)`).
    func wordpieces(_ chars: [Unicode.Scalar]) -> [Int32] {
        if chars.count > maxInputCharsPerWord { return [unknownID] }
        var pieces: [Int32] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: Int32? = nil
            while start < end {
                var key: [UInt8] = start > 0 ? Array("##".utf8) : []
                for s in chars[start..<end] { key += Array(String(Character(s)).utf8) }
                if let id = vocabulary[key] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}
