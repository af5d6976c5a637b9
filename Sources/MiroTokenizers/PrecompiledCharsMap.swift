// Port of the precompiled normalization rules of sentencepiece 0.2.0 (Normalizer::DecodePrecompiledCharsMap and
// NormalizePrefix in src/normalizer.cc, over darts-clone's DoubleArray::commonPrefixSearch) and of Hugging Face's
// `Precompiled` normalizer (tokenizers 0.19.1 src/normalizers/precompiled.rs over spm_precompiled 0.1.4).
//
// The blob is `<uint32 LE: trie size in bytes><Darts double array, uint32 LE units><normalized strings, each
// ending in NUL>`. A trie key is a UTF-8 byte string of the input; its value is the byte offset of the
// replacement in the strings blob.

/// The precompiled character map of a SentencePiece normalizer (e.g. `nmt_nfkc`).
public struct PrecompiledCharsMap: Sendable {
    private let units: [UInt32]
    private let strings: [UInt8]

    /// Decodes and validates the blob: sizes, every trie node reachable from the root, every value pointing
    /// into the strings blob, the strings valid UTF-8. `describe` names the file and field for errors.
    public init(_ blob: [UInt8], describe: (String) -> TokenizerError) throws(TokenizerError) {
        guard blob.count > 4 else {
            throw describe("precompiled charsmap has \(blob.count) bytes; it needs a 4-byte trie size and a trie")
        }
        let trieBytes = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieBytes < blob.count - 4 || (trieBytes == blob.count - 4 && trieBytes > 0) else {
            throw describe("precompiled charsmap declares a \(trieBytes)-byte trie but holds only "
                + "\(blob.count - 4) bytes after the size (truncated?)")
        }
        guard trieBytes % 4 == 0, trieBytes >= 4 else {
            throw describe("precompiled charsmap trie size \(trieBytes) is not a positive multiple of 4")
        }
        var units = [UInt32](repeating: 0, count: trieBytes / 4)
        for i in units.indices {
            let o = 4 + 4 * i
            units[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        let strings = Array(blob[(4 + trieBytes)...])
        guard String(validating: strings, as: UTF8.self) != nil else {
            throw describe("precompiled charsmap: the normalized strings are not valid UTF-8")
        }
        self.units = units
        self.strings = strings
        try validateTrie(describe: describe)
    }

    // MARK: Darts-clone units

    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func value(_ unit: UInt32) -> Int { Int(unit & ((1 << 31) - 1)) }
    private static func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }
    private static func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }

    /// Visits every node reachable from the root once and checks that every stored value starts a UTF-8 string
    /// inside the blob. This bounds every lookup
    /// below, so they can never read outside the arrays nor return a bad slice.
    private func validateTrie(describe: (String) -> TokenizerError) throws(TokenizerError) {
        var visited = [Bool](repeating: false, count: units.count)
        var stack = [0]
        visited[0] = true
        while let node = stack.popLast() {
            let base = node ^ Self.offset(units[node])
            for c in 1...255 {
                let child = base ^ c
                guard child < units.count, Self.label(units[child]) == UInt32(c) else { continue }
                // Lookups only compare labels, so a unit reachable from two nodes is shared by both (the
                // structure is a DAG); checking it once is enough, and the visited set also ends any cycle.
                guard !visited[child] else { continue }
                visited[child] = true
                let childBase = child ^ Self.offset(units[child])
                if Self.hasLeaf(units[child]) {
                    guard childBase < units.count else {
                        throw describe("precompiled charsmap: leaf of unit \(child) is outside the trie")
                    }
                    let v = Self.value(units[childBase])
                    guard v < strings.count else {
                        throw describe("precompiled charsmap: value \(v) points outside the \(strings.count)-byte "
                            + "normalized strings")
                    }
                    guard String(validating: replacement(at: v), as: UTF8.self) != nil else {
                        throw describe("precompiled charsmap: value \(v) starts inside a UTF-8 character")
                    }
                }
                stack.append(child)
            }
        }
    }

    /// Values of every key that is a prefix of `key`, shortest first, with their lengths in bytes — darts-clone's
    /// commonPrefixSearch. `stopAtNUL`: spm_precompiled stops at a NUL byte; sentencepiece passes the length
    /// and does not.
    private func prefixMatches(_ key: ArraySlice<UInt8>, stopAtNUL: Bool, firstOnly: Bool) -> [(length: Int, value: Int)] {
        var results: [(length: Int, value: Int)] = []
        var node = Self.offset(units[0])
        for (i, c) in key.enumerated() {
            if stopAtNUL, c == 0 { break }
            node ^= Int(c)
            guard node < units.count else { break }
            let unit = units[node]
            guard Self.label(unit) == UInt32(c) else { break }
            node ^= Self.offset(unit)
            guard node < units.count else { break }
            if Self.hasLeaf(unit) {
                results.append((i + 1, Self.value(units[node])))
                if firstOnly { break }
            }
        }
        return results
    }

    private func replacement(at offset: Int) -> ArraySlice<UInt8> {
        var end = offset
        while end < strings.count, strings[end] != 0 { end += 1 }
        return strings[offset..<end]
    }

    // MARK: sentencepiece

    /// sentencepiece's `NormalizePrefix` over the charsmap: the longest rule matching the start of `input`
    /// (its byte length and replacement), or nil when none matches (the caller then copies one character).
    func longestPrefix(_ input: ArraySlice<UInt8>) -> (length: Int, replacement: ArraySlice<UInt8>)? {
        var best: (length: Int, value: Int)?
        for match in prefixMatches(input, stopAtNUL: false, firstOnly: false) where match.length > (best?.length ?? 0) {
            best = match
        }
        guard let best else { return nil }
        return (best.length, replacement(at: best.value))
    }

    // MARK: Hugging Face tokenizers

    /// spm_precompiled 0.1.4 `Precompiled::transform`: the replacement of the *first* (shortest) rule matching a
    /// prefix of `chunk`, even when the chunk is longer than the rule.
    private func transform(_ chunk: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard let first = prefixMatches(chunk, stopAtNUL: true, firstOnly: true).first else { return nil }
        return replacement(at: first.value)
    }

    /// tokenizers 0.19.1 `Precompiled::normalize`: per extended grapheme cluster, the cluster's transform when it
    /// is shorter than 6 bytes and some rule matches its start (the rest of the cluster is then dropped, as the
    /// reference does), else each character's transform or the character itself.
    ///
    /// Grapheme clusters are Swift's (`Character`), the reference uses unicode-segmentation 1.11 (Unicode 15.1):
    /// the two agree except on characters whose break properties changed between Unicode versions.
    func huggingFaceNormalize(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for grapheme in text {
            let bytes = Array(String(grapheme).utf8)
            if bytes.count < 6, let norm = transform(bytes[...]) {
                out.append(contentsOf: norm)
                continue
            }
            var start = 0
            for scalar in grapheme.unicodeScalars {
                let length = UTF8.width(scalar)
                let part = bytes[start..<(start + length)]
                if let norm = transform(part) { out.append(contentsOf: norm) } else { out.append(contentsOf: part) }
                start += length
            }
        }
        // Replacements were checked to be UTF-8 at load and are whole strings, so this cannot fail.
        return String(decoding: out, as: UTF8.self)
    }
}
