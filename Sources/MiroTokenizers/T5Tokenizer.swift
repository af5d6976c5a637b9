// Port of transformers 4.40.2's T5 tokenizers as `MiroPipeline._encode_prompts` calls them
// (`tokenizer(texts, padding="max_length", max_length=..., truncation=True)`):
// - from `tokenizer.json`: T5TokenizerFast (tokenization_t5_fast.py over tokenizers 0.19.1: added tokens cut out,
//   normalizer, pre-tokenizer, Unigram, truncation to max_length minus the template's tokens, then `</s>`);
// - from `spiece.model`: T5Tokenizer (tokenization_t5.py, legacy mode: added tokens cut out by
//   `PreTrainedTokenizer.tokenize`, each chunk through sentencepiece, `</s>` appended unless the ids already end
//   with it, truncation by `prepare_for_model` before that).
// Padding is on the right with the pad token's id and mask 0.
import Foundation

/// A T5 tokenizer (SentencePiece unigram + `</s>` + sentinels) giving the ids and attention masks of transformers'
/// `T5TokenizerFast` (when read from `tokenizer.json`) or `T5Tokenizer` (when read from `spiece.model`).
///
/// Special tokens written in the text (`</s>`, `<pad>`, `<unk>`, `<extra_id_5>`) become their ids, as in both
/// references. The two references differ on a few inputs and each file kind follows its own (see
/// docs/text-to-image.md, "Tokenizer"): text ending in `</s>` gets no second `</s>` from `spiece.model`, and
/// text that normalizes into a special token's spelling (full-width `＜/s＞`) is that token only for
/// `tokenizer.json`.
public final class T5Tokenizer: Sendable {
    /// Which file the tokenizer was read from, hence which reference it reproduces.
    public enum Source: Sendable, Equatable {
        /// `tokenizer.json`: transformers' `T5TokenizerFast`.
        case tokenizerJSON
        /// `spiece.model`: transformers' `T5Tokenizer` (sentencepiece).
        case sentencePieceModel
    }

    /// How a batch is padded.
    public enum Padding: Sendable, Equatable {
        /// No padding: rows keep their own lengths.
        case none
        /// To the longest row of the batch (`padding=True`).
        case longest
        /// To `maxLength` (`padding="max_length"`); rows already longer are left as they are.
        case maxLength
    }

    public let source: Source
    /// The file the tokenizer was read from.
    public let path: String
    public let padID: Int32
    public let eosID: Int32
    /// `model_max_length` of `tokenizer_config.json`, used when an encode call gives no `maxLength`.
    public let modelMaxLength: Int?
    /// The added tokens (`<pad>`, `</s>`, `<unk>`, sentinels) with the ids and flags in use.
    public let addedTokens: [AddedToken]

    private enum Backend: Sendable {
        case fast(FastT5Backend)
        case slow(SentencePieceEncoder)
    }

    private let backend: Backend
    /// Added token ids by content, for the slow path's `convert_tokens_to_ids`.
    private let addedByContent: [String: Int32]

    private init(source: Source, path: String, padID: Int32, eosID: Int32, modelMaxLength: Int?,
                 addedTokens: [AddedToken], backend: Backend) {
        self.source = source
        self.path = path
        self.padID = padID
        self.eosID = eosID
        self.modelMaxLength = modelMaxLength
        self.addedTokens = addedTokens
        self.backend = backend
        addedByContent = Dictionary(addedTokens.map { ($0.content, $0.id) }, uniquingKeysWith: { _, last in last })
    }

    // MARK: Loading

    /// Reads a tokenizer folder as transformers saves it: `tokenizer.json` when present (the fast tokenizer),
    /// else `spiece.model` (the slow one); `tokenizer_config.json` beside either, when present, gives the special
    /// tokens and `model_max_length`.
    public static func load(folder: String) throws(TokenizerError) -> T5Tokenizer {
        let url = URL(fileURLWithPath: folder, isDirectory: true)
        let json = url.appendingPathComponent("tokenizer.json").path
        let model = url.appendingPathComponent("spiece.model").path
        let config = url.appendingPathComponent("tokenizer_config.json").path
        let configPath = FileManager.default.fileExists(atPath: config) ? config : nil
        if FileManager.default.fileExists(atPath: json) { return try load(tokenizerJSON: json, config: configPath) }
        if FileManager.default.fileExists(atPath: model) { return try load(sentencePieceModel: model, config: configPath) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TokenizerError.io(path: folder, message: "no such tokenizer folder")
        }
        throw TokenizerError.io(path: folder, message: "the folder holds neither tokenizer.json nor spiece.model")
    }

    /// Reads a `tokenizer.json` (transformers' `T5TokenizerFast`), with an optional `tokenizer_config.json`.
    public static func load(tokenizerJSON path: String, config configPath: String? = nil) throws(TokenizerError) -> T5Tokenizer {
        let file = try HuggingFaceTokenizerFile(bytes: try readFile(path), path: path)
        let config = try configPath.map { p throws(TokenizerError) in try TokenizerConfigFile(bytes: try readFile(p), path: p) }
            ?? TokenizerConfigFile()
        let backend = FastT5Backend(file: file)
        func id(of token: String, _ role: String) throws(TokenizerError) -> Int32 {
            guard let id = backend.tokenID(token) else {
                throw TokenizerError.invalidFile(path: path, message: "the \(role) token \"\(token)\" is neither an "
                    + "added token nor in model.vocab")
            }
            return id
        }
        let pad = try id(of: config.padToken ?? "<pad>", "pad")
        let eos = try id(of: config.eosToken ?? "</s>", "eos")
        return T5Tokenizer(source: .tokenizerJSON, path: path, padID: pad, eosID: eos, modelMaxLength: config.modelMaxLength,
                           addedTokens: file.addedTokens, backend: .fast(backend))
    }

    /// Reads a SentencePiece `spiece.model` (transformers' `T5Tokenizer`), with an optional `tokenizer_config.json`
    /// (without one: T5's defaults, 100 sentinels `<extra_id_i>` = piece count + 99 - i, stripping the spaces
    /// around them).
    public static func load(sentencePieceModel path: String, config configPath: String? = nil) throws(TokenizerError) -> T5Tokenizer {
        let encoder = try SentencePieceEncoder(file: try SentencePieceModelFile(bytes: try readFile(path), path: path), path: path)
        let config = try configPath.map { p throws(TokenizerError) in try TokenizerConfigFile(bytes: try readFile(p), path: p) }
            ?? TokenizerConfigFile()
        if config.legacy == false {
            throw TokenizerError.unsupported(path: configPath ?? path, message: "legacy is false; only T5Tokenizer's "
                + "legacy mode (the default, and google/flan-t5-xl's) is supported with spiece.model — use tokenizer.json")
        }
        func pieceID(_ token: String, _ role: String) throws(TokenizerError) -> Int32 {
            let id = encoder.id(ofPiece: token)
            guard encoder.file.pieces[Int(id)].piece == token else {
                throw TokenizerError.invalidFile(path: path, message: "the \(role) token \"\(token)\" is not a piece")
            }
            return id
        }
        var tokens: [AddedToken]
        if let fromConfig = config.addedTokens {
            tokens = fromConfig
        } else {
            // T5Tokenizer.__init__: sentinels first (lstrip/rstrip), then pad/eos/unk at their piece ids.
            let extra = config.extraIDs ?? 100
            let count = encoder.pieceCount
            guard Int32(exactly: count + extra) != nil else {
                throw TokenizerError.invalidFile(path: configPath ?? path, message: "extra_ids \(extra) with \(count) "
                    + "pieces overflows 32-bit token ids")
            }
            tokens = (0..<extra).map { i in
                AddedToken(content: "<extra_id_\(i)>", id: Int32(count - 1 + extra - i), lstrip: true, rstrip: true)
            }
            for (token, role) in [(config.padToken ?? "<pad>", "pad"), (config.eosToken ?? "</s>", "eos"),
                                  (config.unkToken ?? "<unk>", "unk")] where !tokens.contains(where: { $0.content == token }) {
                tokens.append(AddedToken(content: token, id: try pieceID(token, role)))
            }
        }
        func id(of token: String, _ role: String) throws(TokenizerError) -> Int32 {
            if let added = tokens.last(where: { $0.content == token }) { return added.id }
            return try pieceID(token, role)
        }
        let pad = try id(of: config.padToken ?? "<pad>", "pad")
        let eos = try id(of: config.eosToken ?? "</s>", "eos")
        return T5Tokenizer(source: .sentencePieceModel, path: path, padID: pad, eosID: eos,
                           modelMaxLength: config.modelMaxLength, addedTokens: tokens, backend: .slow(encoder))
    }

    private static func readFile(_ path: String) throws(TokenizerError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.io(path: path, message: "no such file") }
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw TokenizerError.io(path: path, message: "cannot read: \(error.localizedDescription)")
        }
    }

    // MARK: Encoding

    /// The id of `<extra_id_i>`, nil when the tokenizer has no such sentinel.
    public func sentinelID(_ i: Int) -> Int32? { addedTokens.last { $0.content == "<extra_id_\(i)>" }?.id }

    /// The ids of one text with `</s>`, neither truncated nor padded: `tokenizer(text).input_ids`.
    public func encode(_ text: String) -> [Int32] { finish(modelIDs(text), truncateTo: nil) }

    /// A batch as `tokenizer(texts, max_length=, padding=, truncation=)` returns `input_ids` and `attention_mask`.
    ///
    /// - Parameters:
    ///   - maxLength: the length for truncation and `.maxLength` padding; nil takes `model_max_length` from
    ///     `tokenizer_config.json` when one of them needs it (an error without one).
    ///   - truncation: cut each row to `maxLength`, keeping `</s>` last.
    public func encode(batch texts: [String], maxLength: Int? = nil, padding: Padding = .maxLength,
                       truncation: Bool = true) throws(TokenizerError) -> (ids: [[Int32]], mask: [[Int32]]) {
        var length: Int?
        if truncation || padding == .maxLength {
            guard let resolved = maxLength ?? modelMaxLength else {
                throw TokenizerError.invalidArgument(message: "truncation or max-length padding needs maxLength, and "
                    + "\(path) comes without a tokenizer_config.json model_max_length")
            }
            guard resolved >= 1 else {
                throw TokenizerError.invalidArgument(message: "maxLength \(resolved) leaves no room for </s>")
            }
            length = resolved
        }
        var ids = texts.map { finish(modelIDs($0), truncateTo: truncation ? length : nil) }
        let target: Int?
        switch padding {
        case .none: target = nil
        case .longest: target = ids.map(\.count).max()
        case .maxLength: target = length
        }
        var mask = ids.map { [Int32](repeating: 1, count: $0.count) }
        if let target {
            for i in ids.indices where ids[i].count < target {
                let missing = target - ids[i].count
                ids[i] += [Int32](repeating: padID, count: missing)
                mask[i] += [Int32](repeating: 0, count: missing)
            }
        }
        return (ids, mask)
    }

    /// The ids before the end-of-sequence handling.
    private func modelIDs(_ text: String) -> [Int32] {
        switch backend {
        case .fast(let fast): return fast.encode(text)
        case .slow(let encoder):
            var ids: [Int32] = []
            for segment in slowTokenizerSplit(text, tokens: addedTokens) {
                switch segment {
                case .token(let id): ids.append(id)
                case .text(let chunk, _):
                    // `convert_tokens_to_ids`: added tokens first, then `sp_model.piece_to_id`.
                    ids += encoder.encodePieces(chunk).map { addedByContent[$0] ?? encoder.id(ofPiece: $0) }
                }
            }
            return ids
        }
    }

    /// Truncation and `</s>`, each as its reference does it.
    private func finish(_ ids: [Int32], truncateTo maxLength: Int?) -> [Int32] {
        switch backend {
        case .fast(let fast):
            // Tokenizer::post_process: truncate to max_length minus the template's tokens, then apply it.
            var body = ids
            if let maxLength {
                let budget = max(0, maxLength - fast.prefixIDs.count - fast.suffixIDs.count)
                if body.count > budget { body = Array(body.prefix(budget)) }
            }
            return fast.prefixIDs + body + fast.suffixIDs
        case .slow:
            // prepare_for_model: remove (len + 1 - max_length) ids from the end, only if that many are there
            // (truncate_sequences logs an error and keeps them otherwise); then `_add_eos_if_not_present`.
            var body = ids
            if let maxLength, body.count + 1 > maxLength {
                let remove = body.count + 1 - maxLength
                if body.count > remove { body.removeLast(remove) }
            }
            return body.last == eosID ? body : body + [eosID]
        }
    }
}
