/// Port of the byte-level BPE core shared by open_clip 2.24.0's `SimpleTokenizer` (open_clip/tokenizer.py:
/// `bytes_to_unicode`, `get_pairs`, `SimpleTokenizer.bpe`, the `pat` regex) and transformers 4.40.2's
/// `CLIPTokenizer` / tokenizers 0.19.1's `BPE` with `end_of_word_suffix="</w>"`: the byte→unicode alphabet,
/// the CLIP pre-tokenizer, and merging by rank with the word's last symbol marked `</w>`.
import Foundation

/// GPT-2's reversible map from UTF-8 bytes to printable unicode scalars (`bytes_to_unicode`): printable Latin-1
/// bytes map to themselves, the other 68 to U+0100… in byte order, so no byte becomes whitespace or a control.
enum ByteLevelAlphabet {
    static let byteToScalar: [Unicode.Scalar] = {
        var printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var map = [Int](repeating: 0, count: 256)
        for b in printable { map[b] = b }
        var n = 0
        for b in 0..<256 where !printable.contains(b) {
            map[b] = 256 + n
            n += 1
            printable.append(b)
        }
        return map.map { Unicode.Scalar(UInt32($0))! }
    }()

    /// The alphabet in `bytes_to_unicode().values()` order (printables first, then the remapped bytes): the
    /// first 256 ids of open_clip's vocabulary.
    static let vocabularyOrder: [String] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        let rest = (0..<256).filter { !printable.contains($0) }
        return (printable + rest).map { String(Character(byteToScalar[$0])) }
    }()

    /// One pre-token's UTF-8 bytes, each as its alphabet symbol.
    static func symbols(of piece: String) -> [String] {
        var out: [String] = []
        for byte in piece.utf8 { out.append(String(Character(byteToScalar[Int(byte)]))) }
        return out
    }
}

/// A merge pair, hashed as one key.
struct MergePair: Hashable {
    var first: String
    var second: String
}

/// Ranked BPE merges applied to one pre-token at a time, exactly as `SimpleTokenizer.bpe` does: repeatedly merge
/// every left-to-right occurrence of the lowest-ranked adjacent pair until no pair has a rank.
struct BytePairMerger: Sendable {
    let ranks: [MergePair: Int]

    func merge(_ symbolsIn: [String]) -> [String] {
        var word = symbolsIn
        guard let last = word.last else { return [] }
        word[word.count - 1] = last + "</w>"
        while word.count > 1 {
            var best: (rank: Int, pair: MergePair)? = nil
            for i in 0..<(word.count - 1) {
                let pair = MergePair(first: word[i], second: word[i + 1])
                if let r = ranks[pair], best.map({ r < $0.rank }) ?? true { best = (r, pair) }
            }
            guard let (_, pair) = best else { break }
            var merged: [String] = []
            merged.reserveCapacity(word.count)
            var i = 0
            while i < word.count {
                if i < word.count - 1, word[i] == pair.first, word[i + 1] == pair.second {
                    merged.append(pair.first + pair.second)
                    i += 2
                } else {
                    merged.append(word[i])
                    i += 1
                }
            }
            word = merged
        }
        return word
    }
}

/// CLIP's pre-tokenizer, the regex
/// `<specials>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` run with `findall` over already
/// lower-cased text (so open_clip's `re.IGNORECASE` changes nothing): whitespace is dropped, letters group,
/// every digit stands alone, and other characters group into runs.
enum CLIPPreTokenizer {
    enum Piece: Equatable {
        case text(String)
        case special(String)
    }

    static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\s` of the `regex` module and Oniguruma: the Unicode White_Space property.
    static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// The `findall` matches of `text`; `specials` are tried first at every position, as the regex alternation does.
    static func split(_ text: String, specials: [String] = []) -> [Piece] {
        let scalars = text.unicodeScalars
        let specialScalars = specials.map { Array($0.unicodeScalars) }
        var pieces: [Piece] = []
        var i = scalars.startIndex
        func hasPrefix(_ p: [Unicode.Scalar], at start: String.UnicodeScalarView.Index) -> Bool {
            var j = start
            for s in p {
                guard j < scalars.endIndex, scalars[j] == s else { return false }
                j = scalars.index(after: j)
            }
            return true
        }
        outer: while i < scalars.endIndex {
            for (k, sp) in specialScalars.enumerated() where !sp.isEmpty && hasPrefix(sp, at: i) {
                pieces.append(.special(specials[k]))
                i = scalars.index(i, offsetBy: sp.count)
                continue outer
            }
            for c in contractions where hasPrefix(c, at: i) {
                let end = scalars.index(i, offsetBy: c.count)
                pieces.append(.text(String(text.unicodeScalars[i..<end])))
                i = end
                continue outer
            }
            let s = scalars[i]
            var end = scalars.index(after: i)
            if isLetter(s) {
                while end < scalars.endIndex, isLetter(scalars[end]) { end = scalars.index(after: end) }
            } else if isNumber(s) {
                // a single digit
            } else if isSpace(s) {
                i = end
                continue
            } else {
                while end < scalars.endIndex, !isSpace(scalars[end]), !isLetter(scalars[end]), !isNumber(scalars[end]) {
                    end = scalars.index(after: end)
                }
            }
            pieces.append(.text(String(text.unicodeScalars[i..<end])))
            i = end
        }
        return pieces
    }
}
