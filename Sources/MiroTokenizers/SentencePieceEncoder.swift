// Port of sentencepiece 0.2.0's encoding path as `SentencePieceProcessor::Encode` runs it for a unigram model:
// Normalizer::Normalize (src/normalizer.cc: precompiled rules, user-defined symbols kept verbatim, extra
// whitespace removal, dummy prefix, spaces escaped to U+2581), then the unigram Viterbi (UnigramModel.swift),
// then unknown runs merged and pieces mapped to ids as `PieceToId` does.

/// A SentencePiece unigram model, encoding text exactly as the `sentencepiece` library does.
public final class SentencePieceEncoder: Sendable {
    public let file: SentencePieceModelFile
    private let charsmap: PrecompiledCharsMap?
    private let trie: PieceTrie
    private let scores: [Float]
    private let kinds: [SentencePieceModelFile.PieceType]
    private let minScore: Float
    private let maxScore: Float
    private let unkID: Int32
    /// Every piece's id by its text, reserved (control, unknown) ones included: `ModelInterface::PieceToId`.
    private let idsByPiece: [String: Int32]
    /// USER_DEFINED pieces, which the normalizer leaves untouched (`PrefixMatcher`).
    private let userDefined: [[UInt8]]

    /// - Parameter path: names the file in errors.
    public init(file: SentencePieceModelFile, path: String) throws(TokenizerError) {
        self.file = file
        if file.precompiledCharsmap.isEmpty {
            charsmap = nil
        } else {
            charsmap = try PrecompiledCharsMap(file.precompiledCharsmap) { message in
                TokenizerError.invalidFile(path: path, message: "normalizer_spec: \(message)")
            }
        }
        var searchable: [(bytes: [UInt8], id: Int32)] = []
        var ids: [String: Int32] = [:]
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude  // FLT_MIN, as the reference starts it
        for (index, piece) in file.pieces.enumerated() {
            let id = Int32(index)
            ids[piece.piece] = id
            switch piece.type {
            case .normal, .userDefined, .unused: searchable.append((Array(piece.piece.utf8), id))
            default: break
            }
            if piece.type == .normal {
                minScore = min(minScore, piece.score)
                maxScore = max(maxScore, piece.score)
            }
        }
        trie = PieceTrie(searchable)
        scores = file.pieces.map(\.score)
        kinds = file.pieces.map(\.type)
        self.minScore = minScore
        self.maxScore = maxScore
        unkID = file.unkID
        idsByPiece = ids
        userDefined = file.pieces.filter { $0.type == .userDefined }.map { Array($0.piece.utf8) }
    }

    /// The number of pieces (`SentencePieceProcessor::GetPieceSize`).
    public var pieceCount: Int { file.pieces.count }

    /// The id of a piece, or the unknown id: `SentencePieceProcessor::PieceToId`.
    public func id(ofPiece piece: String) -> Int32 { idsByPiece[piece] ?? unkID }

    /// `sp.encode(text, out_type=str)`: the pieces (unknown runs merged, as their normalized text).
    public func encodePieces(_ text: String) -> [String] {
        let normalized = normalize(text)
        return sentencePieceViterbi(normalized, trie: trie, scores: scores, kinds: kinds, minScore: minScore,
                                    maxScore: maxScore, unkID: unkID)
            .map { String(decoding: normalized[$0.start..<$0.end], as: UTF8.self) }
    }

    /// `sp.encode(text)`: the ids.
    public func encode(_ text: String) -> [Int32] { encodePieces(text).map(id(ofPiece:)) }

    // MARK: Normalizer

    private static let space: UInt8 = 0x20
    private static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581

    /// `Normalizer::NormalizePrefix`: what the start of `input` becomes, and how many bytes it consumes.
    private func normalizePrefix(_ input: ArraySlice<UInt8>) -> (replacement: ArraySlice<UInt8>, consumed: Int) {
        // User-defined symbols are copied verbatim, the longest first.
        var longestUser = 0
        for symbol in userDefined where symbol.count > longestUser && input.starts(with: symbol) {
            longestUser = symbol.count
        }
        if longestUser > 0 { return (input.prefix(longestUser), longestUser) }
        if let charsmap, let rule = charsmap.longestPrefix(input) { return (rule.replacement, rule.length) }
        let length = min(utf8CharLength(input[input.startIndex]), input.count)
        return (input.prefix(length), length)
    }

    /// `Normalizer::Normalize`: the normalized UTF-8 bytes the model segments.
    func normalize(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var input = bytes[...]
        let removeExtra = file.removeExtraWhitespaces
        if removeExtra {
            while !input.isEmpty {
                let p = normalizePrefix(input)
                guard p.replacement.elementsEqual([Self.space]) else { break }
                input = input.dropFirst(p.consumed)
            }
        }
        guard !input.isEmpty else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3)
        func addWhitespace() { out.append(contentsOf: file.escapeWhitespaces ? Self.spaceSymbol : [Self.space]) }
        if !file.treatWhitespaceAsSuffix && file.addDummyPrefix { addWhitespace() }
        var previousIsSpace = removeExtra
        while !input.isEmpty {
            let p = normalizePrefix(input)
            var piece = p.replacement
            while previousIsSpace, piece.first == Self.space { piece = piece.dropFirst() }
            if !piece.isEmpty {
                for b in piece {
                    if file.escapeWhitespaces && b == Self.space { out.append(contentsOf: Self.spaceSymbol) } else { out.append(b) }
                }
                previousIsSpace = piece.last == Self.space
            }
            input = input.dropFirst(p.consumed)
            if !removeExtra { previousIsSpace = false }
        }
        if removeExtra {
            let trailing = file.escapeWhitespaces ? Self.spaceSymbol : [Self.space]
            while out.count >= trailing.count, out.suffix(trailing.count).elementsEqual(trailing) {
                out.removeLast(trailing.count)
            }
        }
        if file.treatWhitespaceAsSuffix && file.addDummyPrefix { addWhitespace() }
        return out
    }
}
