// Reader of transformers' `tokenizer_config.json` (transformers 4.40.2 `PreTrainedTokenizerBase.save_pretrained`
// writes it; the google/flan-t5-* repositories carry an older one without `added_tokens_decoder`): the special
// tokens, their strip flags, `model_max_length` and the T5 `legacy` / `extra_ids` settings.
import MiroFormats

/// The settings of a `tokenizer_config.json` that encoding uses. Every field is optional in the file.
struct TokenizerConfigFile: Sendable {
    var padToken: String?
    var eosToken: String?
    var unkToken: String?
    /// `model_max_length`; nil when absent or the "no limit" value transformers writes (≥ 1e12).
    var modelMaxLength: Int?
    var extraIDs: Int?
    var legacy: Bool?
    /// `added_tokens_decoder`: the slow tokenizer's added tokens with their flags, by id.
    var addedTokens: [AddedToken]?

    init() {}

    init(bytes: [UInt8], path: String) throws(TokenizerError) {
        func bad(_ message: String) -> TokenizerError { .invalidFile(path: path, message: message) }
        let root: PythonJSON
        do {
            root = try PythonJSON.parse(bytes, options: .python)
        } catch {
            throw bad("not valid JSON: \(error)")
        }
        guard root.members != nil else { throw bad("the top level is not a JSON object") }

        /// A token is written as a string or as an AddedToken dict `{"content": ..., ...}`.
        func token(_ key: String) throws(TokenizerError) -> String? {
            guard let value = root[key], !value.isNull else { return nil }
            if let text = value.string { return text }
            if let text = value["content"]?.string { return text }
            throw bad("\(key) is neither a string nor an object with a string \"content\": \(value.dumps())")
        }
        padToken = try token("pad_token")
        eosToken = try token("eos_token")
        unkToken = try token("unk_token")
        if let value = root["model_max_length"], !value.isNull {
            guard let length = value.number, length >= 1 else {
                throw bad("model_max_length \(value.dumps()) is not a positive number")
            }
            modelMaxLength = length < 1e12 ? Int(length) : nil
        }
        if let value = root["extra_ids"], !value.isNull {
            guard let count = value.integer, count >= 0, count <= 1_000_000 else {
                throw bad("extra_ids \(value.dumps()) is not a non-negative integer")
            }
            extraIDs = count
        }
        if let value = root["legacy"], !value.isNull {
            guard let flag = value.bool else { throw bad("legacy \(value.dumps()) is not a boolean") }
            legacy = flag
        }
        if let decoder = root["added_tokens_decoder"], !decoder.isNull {
            guard let members = decoder.members else { throw bad("added_tokens_decoder is not an object") }
            var tokens: [AddedToken] = []
            for (key, entry) in members {
                let at = "added_tokens_decoder[\"\(key)\"]"
                guard let id = Int32(key), id >= 0 else { throw bad("\(at): the key is not a non-negative token id") }
                guard let content = entry["content"]?.string, !content.isEmpty else {
                    throw bad("\(at).content is missing or empty")
                }
                func flag(_ name: String, _ fallback: Bool) throws(TokenizerError) -> Bool {
                    guard let value = entry[name], !value.isNull else { return fallback }
                    guard let b = value.bool else { throw bad("\(at).\(name) is not a boolean") }
                    return b
                }
                let special = try flag("special", false)
                tokens.append(AddedToken(content: content, id: id, singleWord: try flag("single_word", false),
                                         lstrip: try flag("lstrip", false), rstrip: try flag("rstrip", false),
                                         normalized: try flag("normalized", !special), special: special))
            }
            addedTokens = tokens
        }
    }
}
