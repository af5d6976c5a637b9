// Port of `Tokenizer::encode_single_sequence` of Hugging Face tokenizers 0.19.1 (src/tokenizer/mod.rs) for a
// Unigram `tokenizer.json`: added tokens cut out of the raw text, the rest normalized, added tokens with
// `normalized: true` cut out of that, pre-tokenized, and each pre-token segmented by the Unigram model
// (Unigram::tokenize maps each piece's text to its id; a fused unknown run becomes `unk_id` unless its text is in
// the vocabulary).

/// The encoding pipeline of a `tokenizer.json`, without truncation and the template (T5Tokenizer does those).
struct FastT5Backend: Sendable {
    let normalizer: HFNormalizer?
    let preTokenizer: HFPreTokenizer?
    let prefixIDs: [Int32]
    let suffixIDs: [Int32]
    private let trie: PieceTrie
    private let scores: [Double]
    private let minScore: Double
    private let unkID: Int32
    private let vocabIDs: [String: Int32]
    private let addedIDs: [String: Int32]
    private let rawTokens: [AddedToken]
    private let rawPatterns: [[UInt8]]
    private let normalizedTokens: [AddedToken]
    private let normalizedPatterns: [[UInt8]]

    init(file: HuggingFaceTokenizerFile) {
        normalizer = file.normalizer
        preTokenizer = file.preTokenizer
        prefixIDs = file.prefixIDs
        suffixIDs = file.suffixIDs
        var ids: [String: Int32] = [:]
        for (index, entry) in file.vocab.enumerated() { ids[entry.piece] = Int32(index) }  // the last one wins
        vocabIDs = ids
        trie = PieceTrie(file.vocab.enumerated().map { (bytes: Array($0.element.piece.utf8), id: Int32($0.offset)) })
        scores = file.vocab.map(\.score)
        minScore = file.vocab.map(\.score).min() ?? 0
        unkID = file.unkID
        addedIDs = Dictionary(file.addedTokens.map { ($0.content, $0.id) }, uniquingKeysWith: { _, last in last })
        // `refresh_added_tokens`: special tokens first, then the others; each kind in its own matcher.
        let ordered = file.addedTokens.filter(\.special) + file.addedTokens.filter { !$0.special }
        rawTokens = ordered.filter { !$0.normalized }
        rawPatterns = rawTokens.map { Array($0.content.utf8) }
        normalizedTokens = ordered.filter(\.normalized)
        let normalizer = file.normalizer
        normalizedPatterns = normalizedTokens.map { Array((normalizer?.normalize($0.content) ?? $0.content).utf8) }
    }

    /// The id of an added token or vocabulary entry.
    func tokenID(_ token: String) -> Int32? { addedIDs[token] ?? vocabIDs[token] }

    /// The ids of `text`, before truncation and the post-processor.
    func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        let raw = huggingFaceSplit(text, tokens: rawTokens, patterns: rawPatterns, startOffset: 0) { piece, atStart in
            [.text(piece, atInputStart: atStart)]
        }
        for segment in raw {
            guard case .text(let piece, let atStart) = segment else {
                if case .token(let id) = segment { ids.append(id) }
                continue
            }
            let normalized = normalizer?.normalize(piece) ?? piece
            let pieces = huggingFaceSplit(normalized, tokens: normalizedTokens, patterns: normalizedPatterns,
                                          startOffset: atStart ? 0 : 1) { text, start in [.text(text, atInputStart: start)] }
            for part in pieces {
                switch part {
                case .token(let id): ids.append(id)
                case .text(let text, let start):
                    let splits = [HFPreTokenizer.Split(text: text, atInputStart: start)]
                    for split in preTokenizer?.preTokenize(splits) ?? splits {
                        ids += model(split.text)
                    }
                }
            }
        }
        return ids
    }

    /// `Unigram::tokenize` of one pre-token.
    private func model(_ text: String) -> [Int32] {
        let bytes = Array(text.utf8)
        return huggingFaceViterbi(bytes, trie: trie, scores: scores, minScore: minScore, unkID: unkID).map { segment in
            guard segment.id == unkID else { return segment.id }
            return vocabIDs[String(decoding: bytes[segment.start..<segment.end], as: UTF8.self)] ?? unkID
        }
    }
}
