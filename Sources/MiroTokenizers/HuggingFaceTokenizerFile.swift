// Reader of a Hugging Face `tokenizer.json` (tokenizers 0.19.1 serde layout) holding a Unigram model, as
// transformers' SpmConverter / T5Converter write it — both the 4.40 layout (normalizer Sequence[Precompiled,
// Strip, Replace(" {2,}" -> "▁")], pre_tokenizer Metaspace{prepend_scheme, split}) and the older one of the
// google/flan-t5-* repositories (Precompiled [+ Replace(" {2,}" -> " ")], Sequence[WhitespaceSplit,
// Metaspace{add_prefix_space}]). `truncation` and `padding` in the file are ignored: transformers replaces them
// on every call, and so do the encode arguments here.
import MiroFormats

/// The parts of a `tokenizer.json` that encoding uses.
struct HuggingFaceTokenizerFile: Sendable {
    var normalizer: HFNormalizer?
    var preTokenizer: HFPreTokenizer?
    var vocab: [(piece: String, score: Double)]
    var unkID: Int32
    var addedTokens: [AddedToken]
    /// TemplateProcessing's `single` template around the sequence: ids before and after it.
    var prefixIDs: [Int32] = []
    var suffixIDs: [Int32] = []

    init(bytes: [UInt8], path: String) throws(TokenizerError) {
        func bad(_ message: String) -> TokenizerError { .invalidFile(path: path, message: message) }
        func unsupported(_ message: String) -> TokenizerError { .unsupported(path: path, message: message) }
        let root: PythonJSON
        do {
            root = try PythonJSON.parse(bytes, options: .strict)
        } catch {
            throw bad("not valid JSON: \(error)")
        }
        guard root.members != nil else { throw bad("the top level is not a JSON object") }

        // model
        guard let model = root["model"], model.members != nil else { throw bad("missing object \"model\"") }
        guard let type = model["type"]?.string else { throw bad("model.type is missing or not a string") }
        guard type == "Unigram" else {
            throw unsupported("model.type is \"\(type)\"; only SentencePiece Unigram models are supported")
        }
        if let fallback = model["byte_fallback"], !fallback.isNull {
            guard let flag = fallback.bool else { throw bad("model.byte_fallback is not a boolean") }
            guard !flag else { throw unsupported("model.byte_fallback is true; byte fallback is not supported") }
        }
        guard let entries = model["vocab"]?.array else { throw bad("model.vocab is missing or not an array") }
        guard !entries.isEmpty else { throw bad("model.vocab is empty") }
        var vocab: [(piece: String, score: Double)] = []
        vocab.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            // Scores are read as tokenizers reads them (serde_json without float_roundtrip), see SerdeJSONFloat.swift.
            guard let pair = entry.array, pair.count == 2, let piece = pair[0].string, case .number(let lexeme) = pair[1],
                  let score = serdeJSONDouble(lexeme) else {
                throw bad("model.vocab[\(i)] is not a [piece, score] pair: \(entry.dumps())")
            }
            guard score.isFinite else { throw bad("model.vocab[\(i)] (\"\(piece)\") has a non-finite score") }
            vocab.append((piece, score))
        }
        self.vocab = vocab
        guard let unk = model["unk_id"], let unkID = unk.integer else {
            throw unsupported("model.unk_id is missing or null; a Unigram model without an unknown token fails on "
                + "any character outside its vocabulary")
        }
        guard unkID >= 0, unkID < vocab.count else {
            throw bad("model.unk_id \(unkID) is outside the vocabulary (\(vocab.count) entries)")
        }
        self.unkID = Int32(unkID)

        // added_tokens
        var added: [AddedToken] = []
        for (i, entry) in (root["added_tokens"]?.array ?? []).enumerated() {
            let at = "added_tokens[\(i)]"
            guard let content = entry["content"]?.string, !content.isEmpty else { throw bad("\(at).content is missing or empty") }
            guard let id = entry["id"]?.integer, id >= 0, id <= Int(Int32.max) else {
                throw bad("\(at).id is missing or not a non-negative integer")
            }
            func flag(_ key: String, _ fallback: Bool) throws(TokenizerError) -> Bool {
                guard let value = entry[key], !value.isNull else { return fallback }
                guard let b = value.bool else { throw bad("\(at).\(key) is not a boolean") }
                return b
            }
            let special = try flag("special", false)
            added.append(AddedToken(content: content, id: Int32(id), singleWord: try flag("single_word", false),
                                    lstrip: try flag("lstrip", false), rstrip: try flag("rstrip", false),
                                    normalized: try flag("normalized", !special), special: special))
        }
        addedTokens = added

        // normalizer, pre_tokenizer
        if let node = root["normalizer"], !node.isNull {
            normalizer = try Self.normalizer(node, at: "normalizer", path: path)
        }
        if let node = root["pre_tokenizer"], !node.isNull {
            preTokenizer = try Self.preTokenizer(node, at: "pre_tokenizer", path: path)
        }
        if let node = root["post_processor"], !node.isNull {
            try readTemplate(node, path: path)
        }
    }

    private static func normalizer(_ node: PythonJSON, at: String, path: String) throws(TokenizerError) -> HFNormalizer {
        guard let type = node["type"]?.string else {
            throw TokenizerError.invalidFile(path: path, message: "\(at).type is missing or not a string")
        }
        switch type {
        case "Sequence":
            guard let items = node["normalizers"]?.array else {
                throw TokenizerError.invalidFile(path: path, message: "\(at).normalizers is not an array")
            }
            var steps: [HFNormalizer] = []
            for (i, item) in items.enumerated() { steps.append(try normalizer(item, at: "\(at).normalizers[\(i)]", path: path)) }
            return .sequence(steps)
        case "Precompiled":
            guard let text = node["precompiled_charsmap"]?.string else {
                throw TokenizerError.invalidFile(path: path, message: "\(at).precompiled_charsmap is not a string")
            }
            guard let blob = decodeBase64(text) else {
                throw TokenizerError.invalidFile(path: path, message: "\(at).precompiled_charsmap is not valid base64")
            }
            return .precompiled(try PrecompiledCharsMap(blob) { message in
                TokenizerError.invalidFile(path: path, message: "\(at): \(message)")
            })
        case "Strip":
            let left = node["strip_left"]?.bool ?? false
            let right = node["strip_right"]?.bool ?? false
            return .strip(left: left, right: right)
        case "Replace":
            guard let content = node["content"]?.string else {
                throw TokenizerError.invalidFile(path: path, message: "\(at).content is not a string")
            }
            if let literal = node["pattern"]?["String"]?.string {
                return .replace(ReplacePattern(literal: Array(literal.unicodeScalars), repeatCount: nil), content: content)
            }
            guard let regex = node["pattern"]?["Regex"]?.string else {
                throw TokenizerError.invalidFile(path: path, message: "\(at).pattern is neither {\"String\": ...} nor {\"Regex\": ...}")
            }
            guard let pattern = ReplacePattern.regex(regex) else {
                throw TokenizerError.unsupported(path: path, message: "\(at).pattern regex \"\(regex)\" is not supported "
                    + "(only a repeated character such as \" {2,}\", as SentencePiece converters write)")
            }
            return .replace(pattern, content: content)
        default:
            throw TokenizerError.unsupported(path: path, message: "\(at).type \"\(type)\" is not supported (Precompiled, "
                + "Strip, Replace and Sequence are)")
        }
    }

    private static func preTokenizer(_ node: PythonJSON, at: String, path: String) throws(TokenizerError) -> HFPreTokenizer {
        guard let type = node["type"]?.string else {
            throw TokenizerError.invalidFile(path: path, message: "\(at).type is missing or not a string")
        }
        switch type {
        case "Sequence":
            guard let items = node["pretokenizers"]?.array else {
                throw TokenizerError.invalidFile(path: path, message: "\(at).pretokenizers is not an array")
            }
            var steps: [HFPreTokenizer] = []
            for (i, item) in items.enumerated() { steps.append(try preTokenizer(item, at: "\(at).pretokenizers[\(i)]", path: path)) }
            return .sequence(steps)
        case "WhitespaceSplit":
            return .whitespaceSplit
        case "Metaspace":
            guard let text = node["replacement"]?.string, text.unicodeScalars.count == 1, let replacement = text.unicodeScalars.first else {
                throw TokenizerError.invalidFile(path: path, message: "\(at).replacement is not a one-character string")
            }
            var scheme = HFPreTokenizer.PrependScheme.always  // the deserializer's default
            if let value = node["prepend_scheme"], !value.isNull {
                guard let name = value.string, let parsed = HFPreTokenizer.PrependScheme(rawValue: name) else {
                    throw TokenizerError.invalidFile(path: path, message: "\(at).prepend_scheme \(value.dumps()) is not first, never or always")
                }
                scheme = parsed
            }
            if let value = node["add_prefix_space"], !value.isNull {
                guard let add = value.bool else {
                    throw TokenizerError.invalidFile(path: path, message: "\(at).add_prefix_space is not a boolean")
                }
                if !add {
                    if let explicit = node["prepend_scheme"], !explicit.isNull, scheme != .never {
                        throw TokenizerError.invalidFile(path: path, message: "\(at): add_prefix_space false does not "
                            + "match prepend_scheme \(explicit.dumps())")
                    }
                    scheme = .never
                }
            }
            var split = true
            if let value = node["split"], !value.isNull {
                guard let flag = value.bool else { throw TokenizerError.invalidFile(path: path, message: "\(at).split is not a boolean") }
                split = flag
            }
            return .metaspace(replacement: replacement, prependScheme: scheme, split: split)
        default:
            throw TokenizerError.unsupported(path: path, message: "\(at).type \"\(type)\" is not supported (Metaspace, "
                + "WhitespaceSplit and Sequence are)")
        }
    }

    /// TemplateProcessing's `single` template: `[$A, </s>]` for T5.
    private mutating func readTemplate(_ node: PythonJSON, path: String) throws(TokenizerError) {
        guard let type = node["type"]?.string else {
            throw TokenizerError.invalidFile(path: path, message: "post_processor.type is missing or not a string")
        }
        guard type == "TemplateProcessing" else {
            throw TokenizerError.unsupported(path: path, message: "post_processor.type \"\(type)\" is not supported "
                + "(TemplateProcessing is)")
        }
        guard let single = node["single"]?.array else {
            throw TokenizerError.invalidFile(path: path, message: "post_processor.single is not an array")
        }
        let specials = node["special_tokens"]
        var seenSequence = false
        for (i, item) in single.enumerated() {
            let at = "post_processor.single[\(i)]"
            if let sequence = item["Sequence"] {
                guard sequence["id"]?.string == "A", !seenSequence else {
                    throw TokenizerError.unsupported(path: path, message: "\(at): only one sequence $A is supported")
                }
                seenSequence = true
            } else if let special = item["SpecialToken"] {
                guard let name = special["id"]?.string else {
                    throw TokenizerError.invalidFile(path: path, message: "\(at).SpecialToken.id is not a string")
                }
                guard let idsJSON = specials?[name]?["ids"]?.array else {
                    throw TokenizerError.invalidFile(path: path, message: "\(at): special token \"\(name)\" is not in "
                        + "post_processor.special_tokens")
                }
                var ids: [Int32] = []
                for value in idsJSON {
                    guard let id = value.integer, id >= 0, id <= Int(Int32.max) else {
                        throw TokenizerError.invalidFile(path: path, message: "post_processor.special_tokens[\"\(name)\"].ids "
                            + "holds \(value.dumps()), not a non-negative integer")
                    }
                    ids.append(Int32(id))
                }
                if seenSequence { suffixIDs += ids } else { prefixIDs += ids }
            } else {
                throw TokenizerError.invalidFile(path: path, message: "\(at) is neither a Sequence nor a SpecialToken")
            }
        }
        guard seenSequence else {
            throw TokenizerError.invalidFile(path: path, message: "post_processor.single has no $A sequence")
        }
    }
}

/// Standard base64 with padding (what serde writes for the charsmap); nil on any other character.
func decodeBase64(_ text: String) -> [UInt8]? {
    var values: [UInt8] = []
    values.reserveCapacity(text.utf8.count)
    var padding = 0
    for c in text.utf8 {
        let v: UInt8
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): v = 62
        case UInt8(ascii: "/"): v = 63
        case UInt8(ascii: "="):
            padding += 1
            continue
        default: return nil
        }
        guard padding == 0 else { return nil }  // data after padding
        values.append(v)
    }
    guard (values.count + padding) % 4 == 0, padding <= 2 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(values.count * 3 / 4)
    var i = 0
    while i + 4 <= values.count {
        out.append(values[i] << 2 | values[i + 1] >> 4)
        out.append(values[i + 1] << 4 | values[i + 2] >> 2)
        out.append(values[i + 2] << 6 | values[i + 3])
        i += 4
    }
    switch values.count - i {
    case 0: break
    case 2: out.append(values[i] << 2 | values[i + 1] >> 4)
    case 3:
        out.append(values[i] << 2 | values[i + 1] >> 4)
        out.append(values[i + 1] << 4 | values[i + 2] >> 2)
    default: return nil
    }
    return out
}
