// Port of the unigram segmentation of sentencepiece 0.2.0 (Model::EncodeOptimized in src/unigram_model.cc,
// merging of unknown runs in SentencePieceProcessor::PopulateSentencePieceText) and of Hugging Face tokenizers
// 0.19.1 (Unigram::encode_optimized with fuse_unk in src/models/unigram/model.rs).
//
// Both run the same Viterbi over UTF-8 byte positions: every vocabulary piece that is a prefix of the text at a
// character start is an edge; a character that starts no one-character piece gets an `<unk>` edge scored
// min_score - 10; ties keep the first candidate (shorter pieces from earlier starts). What differs, and is kept:
// sentencepiece stores float32 path scores but adds and compares a piece's score in double (the type of
// `IsUserDefined ? length * max_score - 0.1 : score`; unknown edges stay float), searches only NORMAL /
// USER_DEFINED / UNUSED pieces (UNUSED never taken) and takes min_score over NORMAL pieces;
// tokenizers adds float64 scores over every vocabulary entry (control pieces and sentinels included).

/// A byte trie over the vocabulary pieces for common-prefix search.
struct PieceTrie: Sendable {
    /// (node << 8 | byte) → child node.
    private var children: [Int: Int32] = [:]
    /// Piece id ending at each node, -1 for none.
    private var terminal: [Int32] = [-1]

    /// Later keys with the same bytes replace earlier ones (a Rust `HashMap` insert, as tokenizers builds it).
    init<S: Sequence>(_ keys: S) where S.Element == (bytes: [UInt8], id: Int32) {
        for (bytes, id) in keys {
            var node = 0
            for b in bytes {
                let key = node << 8 | Int(b)
                if let next = children[key] {
                    node = Int(next)
                } else {
                    terminal.append(-1)
                    let next = terminal.count - 1
                    children[key] = Int32(next)
                    node = next
                }
            }
            terminal[node] = id
        }
    }

    /// Calls `body(end, id)` for every piece that starts at `start` in `bytes`, shortest first.
    @inline(__always)
    func forEachPrefix(of bytes: [UInt8], from start: Int, _ body: (Int, Int32) -> Void) {
        var node = 0
        var i = start
        while i < bytes.count, let next = children[node << 8 | Int(bytes[i])] {
            node = Int(next)
            i += 1
            let id = terminal[node]
            if id >= 0 { body(i, id) }
        }
    }
}

/// One edge of the best path: bytes `start..<end` of the segmented text, vocabulary id `id`.
struct UnigramSegment: Equatable {
    var start: Int
    var end: Int
    var id: Int32
}

/// Byte length of the UTF-8 character whose first byte is `lead` (the text is valid UTF-8).
@inline(__always)
func utf8CharLength(_ lead: UInt8) -> Int {
    if lead < 0x80 { return 1 }
    if lead >> 5 == 0b110 { return 2 }
    if lead >> 4 == 0b1110 { return 3 }
    return 4
}

/// The best segmentation of `bytes` under sentencepiece's rules (float32 path scores, double comparisons).
///
/// - Parameters:
///   - scores: per piece id; `kinds[id]` says whether the id is a normal scored piece, user-defined or unused.
func sentencePieceViterbi(_ bytes: [UInt8], trie: PieceTrie, scores: [Float], kinds: [SentencePieceModelFile.PieceType],
                          minScore: Float, maxScore: Float, unkID: Int32) -> [UnigramSegment] {
    struct Best: LatticeNode { var id: Int32 = -1; var score: Float = 0; var start = -1 }
    let size = bytes.count
    guard size > 0 else { return [] }
    let unkScore = minScore - 10  // kUnkPenalty
    var best = [Best](repeating: Best(), count: size + 1)
    var start = 0
    while start < size {
        let tillHere = best[start].score
        let charLength = min(utf8CharLength(bytes[start]), size - start)
        var hasSingle = false
        trie.forEachPrefix(of: bytes, from: start) { end, id in
            let kind = kinds[Int(id)]
            if kind == .unused { return }
            let length = end - start
            // `IsUserDefined ? length * max_score_ - 0.1 : GetScore(id)` has type double (the `- 0.1`), so every
            // piece's path score is summed and compared in double, then stored as float.
            let score = kind == .userDefined ? Double(Float(length) * maxScore) - 0.1 : Double(scores[Int(id)])
            let candidate = score + Double(tillHere)
            if best[end].start == -1 || candidate > Double(best[end].score) {
                best[end] = Best(id: id, score: Float(candidate), start: start)
            }
            if length == charLength { hasSingle = true }
        }
        if !hasSingle {
            let candidate = unkScore + tillHere  // float + float in the reference
            let end = start + charLength
            if best[end].start == -1 || candidate > best[end].score {
                best[end] = Best(id: unkID, score: candidate, start: start)
            }
        }
        start += charLength
    }
    return backtrack(best, unkID: unkID)
}

/// The best segmentation of `bytes` under tokenizers' rules (float64 path scores, every entry searchable).
func huggingFaceViterbi(_ bytes: [UInt8], trie: PieceTrie, scores: [Double], minScore: Double,
                        unkID: Int32) -> [UnigramSegment] {
    struct Best: LatticeNode { var id: Int32 = 0; var score: Double = 0; var start = -1 }
    let size = bytes.count
    guard size > 0 else { return [] }
    let unkScore = minScore - 10  // K_UNK_PENALTY
    var best = [Best](repeating: Best(), count: size + 1)
    var start = 0
    while start < size {
        let tillHere = best[start].score
        let charLength = utf8CharLength(bytes[start])
        var hasSingle = false
        trie.forEachPrefix(of: bytes, from: start) { end, id in
            let candidate = scores[Int(id)] + tillHere
            if best[end].start == -1 || candidate > best[end].score {
                best[end] = Best(id: id, score: candidate, start: start)
            }
            if end - start == charLength { hasSingle = true }
        }
        if !hasSingle {
            let candidate = unkScore + tillHere
            let end = start + charLength
            if best[end].start == -1 || candidate > best[end].score {
                best[end] = Best(id: unkID, score: candidate, start: start)
            }
        }
        start += charLength
    }
    return backtrack(best, unkID: unkID)
}

/// Consecutive `<unk>` edges become one (both references do: the piece is the concatenated surface).
private func mergeUnknownRuns<S: Sequence>(_ path: S, unkID: Int32) -> [UnigramSegment] where S.Element == UnigramSegment {
    var merged: [UnigramSegment] = []
    for segment in path {
        if segment.id == unkID, let last = merged.last, last.id == unkID, last.end == segment.start {
            merged[merged.count - 1].end = segment.end
        } else {
            merged.append(segment)
        }
    }
    return merged
}

/// A lattice entry: the piece ending here on the best path and where it starts (−1: not reached).
protocol LatticeNode {
    var id: Int32 { get }
    var start: Int { get }
}

/// The best path read back from the end of the lattice, consecutive unknowns merged.
func backtrack<Node: LatticeNode>(_ best: [Node], unkID: Int32) -> [UnigramSegment] {
    var path: [UnigramSegment] = []
    var end = best.count - 1
    while end > 0 {
        let node = best[end]
        path.append(UnigramSegment(start: node.start, end: end, id: node.id))
        end = node.start
    }
    return mergeUnknownRuns(path.reversed(), unkID: unkID)
}
