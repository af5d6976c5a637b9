/// Port of the two CLIP text tokenizers the reward models use:
/// - transformers 4.40.2 `CLIPTokenizerFast` (tokenization_clip_fast.py over tokenizers 0.19.1, built by
///   `CLIPConverter` from `vocab.json` + `merges.txt`): NFC + whitespace + lower-case normalizer, special tokens cut
///   out, the CLIP regex split, byte-level BPE with `</w>`, `<|startoftext|>` … `<|endoftext|>`, and with
///   `padding="max_length", truncation=True, max_length=77` the content cut to 75 tokens and padding with the pad
///   token (mask 0);
/// - open_clip 2.24.0 `SimpleTokenizer.__call__` (tokenizer.py) from `bpe_simple_vocab_16e6.txt.gz`: `_clean_lower`,
///   the same split and BPE, `<start_of_text>` … `<end_of_text>`, cut to 77 with the last id forced to
///   `<end_of_text>`, zero padding.
/// On clean text the two give the same ids (the vocabularies agree id for id); see CLIPTextCleaning for where the
/// cleaning differs.
import Foundation

public final class CLIPTokenizer: Sendable {
    public enum Flavor: Sendable, Equatable {
        /// transformers' `CLIPTokenizerFast` from `vocab.json` + `merges.txt`.
        case huggingFace
        /// open_clip's `SimpleTokenizer` from `bpe_simple_vocab_16e6.txt.gz`.
        case openCLIP
    }

    /// One tokenised text at a fixed length.
    public struct Encoding: Sendable, Equatable {
        public var ids: [Int32]
        /// 1 for real tokens, 0 for padding (open_clip returns no mask; this is `ids != pad` up to the last real token).
        public var attentionMask: [Int32]
    }

    /// How many merges CLIP uses: both references cut the merges list at `49152 - 256 - 2` lines.
    public static let mergeCount = 49152 - 256 - 2
    /// CLIP's text context.
    public static let contextLength = 77

    public let flavor: Flavor
    /// The file the merges were read from (named in errors).
    public let path: String
    public let bosID: Int32
    public let eosID: Int32
    public let padID: Int32
    public let vocabularySize: Int

    private let vocabulary: [String: Int32]
    private let merger: BytePairMerger
    private let specials: [String: Int32]
    private let unknownID: Int32

    private init(flavor: Flavor, path: String, vocabulary: [String: Int32], ranks: [MergePair: Int], specials: [String: Int32],
                 bosID: Int32, eosID: Int32, padID: Int32, unknownID: Int32) {
        self.flavor = flavor
        self.path = path
        self.vocabulary = vocabulary
        self.merger = BytePairMerger(ranks: ranks)
        self.specials = specials
        self.bosID = bosID
        self.eosID = eosID
        self.padID = padID
        self.unknownID = unknownID
        self.vocabularySize = vocabulary.count
    }

    // MARK: Loading

    /// open_clip's tokenizer from `bpe_simple_vocab_16e6.txt.gz` (the file shipped in the open_clip_torch wheel).
    public static func openCLIP(bpeGZ path: String) throws -> CLIPTokenizer {
        let (merges, ordered) = try openCLIPVocabulary(bpeGZ: path, specials: ["<start_of_text>", "<end_of_text>"])
        // `dict(zip(vocab, range))` keeps the last id of a repeated string.
        var vocabulary: [String: Int32] = [:]
        for (id, token) in ordered.enumerated() { vocabulary[token] = Int32(id) }
        guard let bos = vocabulary["<start_of_text>"], let eos = vocabulary["<end_of_text>"] else {
            throw TokenizerError.invalidFile(path: path, message: "special tokens missing from the derived vocabulary")
        }
        return CLIPTokenizer(flavor: .openCLIP, path: path, vocabulary: vocabulary, ranks: ranks(merges),
                             specials: ["<start_of_text>": bos, "<end_of_text>": eos], bosID: bos, eosID: eos, padID: 0,
                             unknownID: eos)
    }

    /// transformers' `CLIPTokenizerFast` from a model folder's `vocab.json` and `merges.txt`. `padToken` is the
    /// folder's pad token (`<|endoftext|>` for openai/clip-vit-large-patch14; some LAION folders use `!`).
    public static func huggingFace(vocabJSON: String, mergesTXT: String, padToken: String = "<|endoftext|>") throws -> CLIPTokenizer {
        let vocabulary = try readVocabularyJSON(vocabJSON)
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: mergesTXT))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw TokenizerError.invalidFile(path: mergesTXT, message: "is not valid UTF-8")
            }
            text = decoded
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.io(path: mergesTXT, message: "cannot be read (\(error.localizedDescription))")
        }
        // `merges_handle.read().strip().split("\n")[1:49152-256-2+1]` (the slow tokenizer; the converter takes its ranks).
        let lines = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n", omittingEmptySubsequences: false)
        guard let header = lines.first, header.hasPrefix("#version") else {
            throw TokenizerError.invalidFile(path: mergesTXT, message: "first line is not a `#version` header")
        }
        let merges = try parseMerges(lines[1..<min(lines.count, mergeCount + 1)], firstLine: 2, path: mergesTXT)
        for (k, m) in merges.enumerated() where vocabulary[m.first + m.second] == nil {
            throw TokenizerError.invalidFile(path: mergesTXT, message: "line \(k + 2): merge result `\(m.first + m.second)` is not in \(vocabJSON)")
        }
        func id(_ token: String) throws -> Int32 {
            guard let v = vocabulary[token] else {
                throw TokenizerError.invalidFile(path: vocabJSON, message: "has no entry for the special token `\(token)`")
            }
            return v
        }
        let bos = try id("<|startoftext|>"), eos = try id("<|endoftext|>"), pad = try id(padToken)
        return CLIPTokenizer(flavor: .huggingFace, path: mergesTXT, vocabulary: vocabulary, ranks: ranks(merges),
                             specials: ["<|startoftext|>": bos, "<|endoftext|>": eos], bosID: bos, eosID: eos, padID: pad,
                             unknownID: eos)
    }

    /// Writes the `vocab.json` and `merges.txt` of a Hugging Face CLIP folder derived from open_clip's merges file,
    /// as `SimpleTokenizer` builds its vocabulary (the two vocabularies agree id for id; only the special tokens are
    /// spelled `<|startoftext|>` / `<|endoftext|>`). Returns the two paths.
    @discardableResult
    public static func writeHuggingFaceFiles(fromBPEGZ path: String, into folder: String) throws -> (vocabJSON: String, mergesTXT: String) {
        let (merges, ordered) = try openCLIPVocabulary(bpeGZ: path, specials: ["<|startoftext|>", "<|endoftext|>"])
        var vocabulary: [String: Int] = [:]
        for (id, token) in ordered.enumerated() { vocabulary[token] = id }
        let vocabPath = folder + "/vocab.json", mergesPath = folder + "/merges.txt"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try JSONEncoder().encode(vocabulary).write(to: URL(fileURLWithPath: vocabPath))
            let body = merges.map { $0.first + " " + $0.second }.joined(separator: "\n")
            try Data(("#version: 0.2\n" + body + "\n").utf8).write(to: URL(fileURLWithPath: mergesPath))
        } catch {
            throw TokenizerError.io(path: folder, message: "cannot write vocab.json / merges.txt (\(error.localizedDescription))")
        }
        return (vocabPath, mergesPath)
    }

    static func readGzipText(_ path: String) throws -> String {
        let bytes = try GzipFile.decompress(path: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError.invalidFile(path: path, message: "decompressed text is not valid UTF-8")
        }
        return text
    }

    private static func readVocabularyJSON(_ path: String) throws -> [String: Int32] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.io(path: path, message: "cannot be read (\(error.localizedDescription))")
        }
        let raw: [String: Int]
        do {
            raw = try JSONDecoder().decode([String: Int].self, from: data)
        } catch {
            throw TokenizerError.invalidFile(path: path, message: "is not a JSON object of token → integer id (\(error))")
        }
        var vocabulary: [String: Int32] = [:]
        for (token, id) in raw {
            guard id >= 0, id < Int(Int32.max) else {
                throw TokenizerError.invalidFile(path: path, message: "token `\(token)` has id \(id), outside 0..<\(Int32.max)")
            }
            vocabulary[token] = Int32(id)
        }
        guard !vocabulary.isEmpty else { throw TokenizerError.invalidFile(path: path, message: "is an empty vocabulary") }
        return vocabulary
    }

    /// Python's `line.split()` into exactly two symbols; anything else is a corrupt merges file.
    /// open_clip's merges file read as `SimpleTokenizer` reads it (`split('\n')[1:49152-256-2+1]`: the header line
    /// skipped, at most `mergeCount` merges) and its vocabulary in id order: alphabet, alphabet + `</w>`, the joined
    /// merges, then `specials` (spelled as the caller's flavour spells them).
    private static func openCLIPVocabulary(bpeGZ path: String, specials: [String]) throws -> (merges: [MergePair], ordered: [String]) {
        let text = try readGzipText(path)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 1 else { throw TokenizerError.invalidFile(path: path, message: "has no merge lines after the header") }
        let merges = try parseMerges(lines[1..<min(lines.count, mergeCount + 1)], firstLine: 2, path: path)
        var ordered = ByteLevelAlphabet.vocabularyOrder
        ordered += ByteLevelAlphabet.vocabularyOrder.map { $0 + "</w>" }
        ordered += merges.map { $0.first + $0.second }
        return (merges, ordered + specials)
    }

    private static func parseMerges(_ lines: ArraySlice<Substring>, firstLine: Int, path: String) throws -> [MergePair] {
        var merges: [MergePair] = []
        merges.reserveCapacity(lines.count)
        for (k, line) in lines.enumerated() {
            let parts = line.split(whereSeparator: { $0.unicodeScalars.allSatisfy(CLIPTextCleaning.pythonIsSpace) })
            // open_clip's file ends with a newline: the final empty line is within the slice only for short files.
            if parts.isEmpty && k == lines.count - 1 { break }
            guard parts.count == 2 else {
                throw TokenizerError.invalidFile(path: path, message: "line \(firstLine + k): `\(line)` is not a merge of two symbols")
            }
            merges.append(MergePair(first: String(parts[0]), second: String(parts[1])))
        }
        guard !merges.isEmpty else { throw TokenizerError.invalidFile(path: path, message: "has no merges") }
        return merges
    }

    private static func ranks(_ merges: [MergePair]) -> [MergePair: Int] {
        var ranks: [MergePair: Int] = [:]
        // `dict(zip(merges, range))`: a repeated pair keeps its last rank.
        for (r, m) in merges.enumerated() { ranks[m] = r }
        return ranks
    }

    // MARK: Encoding

    /// The content ids of `text` without the start and end tokens and without truncation.
    public func encodeContent(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        switch flavor {
        case .huggingFace:
            // Special tokens are cut out of the normalized text first (leftmost, longest), then each segment is split.
            for segment in splitOnSpecials(CLIPTextCleaning.huggingFaceNormalize(text)) {
                switch segment {
                case .special(let s): ids.append(specials[s] ?? unknownID)
                case .text(let t): appendPieces(CLIPPreTokenizer.split(String(t)), to: &ids)
                }
            }
        case .openCLIP:
            appendPieces(CLIPPreTokenizer.split(CLIPTextCleaning.openCLIPClean(text), specials: Array(specials.keys).sorted()), to: &ids)
        }
        return ids
    }

    /// `<start>` + content + `<end>`, untruncated.
    public func encode(_ text: String) -> [Int32] { [bosID] + encodeContent(text) + [eosID] }

    /// How a batch is padded.
    public enum Padding: Sendable, Equatable {
        /// To `length` (`padding="max_length"`; open_clip always does this with zeros).
        case maxLength
        /// To the longest row after truncation (`padding=True`, as CLIPProcessor is called for PickScore / SciScore).
        case longest
    }

    /// The ids and mask at exactly `length` tokens (truncated with the end token kept last, then padded).
    public func encode(_ text: String, length: Int = CLIPTokenizer.contextLength) throws -> Encoding {
        let ids = try truncated(text, length: length)
        return padded(ids, to: length)
    }

    /// Every text truncated to `length` tokens, then padded as `padding` says.
    public func encode(batch texts: [String], length: Int = CLIPTokenizer.contextLength,
                       padding: Padding = .maxLength) throws -> [Encoding] {
        let rows = try texts.map { try truncated($0, length: length) }
        let target = padding == .maxLength ? length : rows.map(\.count).max() ?? 0
        return rows.map { padded($0, to: target) }
    }

    private func truncated(_ text: String, length: Int) throws -> [Int32] {
        guard length >= 2 else { throw TokenizerError.invalidArgument(message: "length \(length) leaves no room for the start and end tokens") }
        let ids = encode(text)
        // HF truncates the content to length-2; open_clip cuts to length and overwrites the last id: the same ids.
        return ids.count > length ? Array(ids.prefix(length - 1)) + [eosID] : ids
    }

    private func padded(_ ids: [Int32], to length: Int) -> Encoding {
        let mask = [Int32](repeating: 1, count: ids.count) + [Int32](repeating: 0, count: length - ids.count)
        return Encoding(ids: ids + [Int32](repeating: padID, count: length - ids.count), attentionMask: mask)
    }

    private func appendPieces(_ pieces: [CLIPPreTokenizer.Piece], to ids: inout [Int32]) {
        for piece in pieces {
            switch piece {
            case .special(let s):
                ids.append(specials[s] ?? unknownID)
            case .text(let scalars):
                for token in merger.merge(ByteLevelAlphabet.symbols(of: scalars)) { ids.append(vocabulary[token] ?? unknownID) }
            }
        }
    }

    private enum Segment {
        case text(Substring)
        case special(String)
    }

    private func splitOnSpecials(_ text: String) -> [Segment] {
        let names = specials.keys.sorted { $0.count > $1.count }
        var segments: [Segment] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            var earliest: (Range<Substring.Index>, String)? = nil
            for name in names {
                if let r = rest.range(of: name), earliest.map({ r.lowerBound < $0.0.lowerBound }) ?? true { earliest = (r, name) }
            }
            guard let (r, name) = earliest else { break }
            if r.lowerBound > rest.startIndex { segments.append(.text(rest[..<r.lowerBound])) }
            segments.append(.special(name))
            rest = rest[r.upperBound...]
        }
        if !rest.isEmpty { segments.append(.text(rest)) }
        return segments
    }
}
