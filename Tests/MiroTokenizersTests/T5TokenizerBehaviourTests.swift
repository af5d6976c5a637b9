import Foundation
import Testing
import MiroTokenizers

/// Loading rules, padding and truncation options, and every kind of bad input.
struct T5TokenizerBehaviourTests {
    @Test func folderPrefersTokenizerJSONAndFallsBackToSpieceModel() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        try fm.copyItem(atPath: Fixtures.path("slow/spiece.model"), toPath: dir.appendingPathComponent("spiece.model").path)
        try fm.copyItem(atPath: Fixtures.path("fast/tokenizer.json"), toPath: dir.appendingPathComponent("tokenizer.json").path)
        #expect(try T5Tokenizer.load(folder: dir.path).source == .tokenizerJSON)
        try fm.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
        // Without tokenizer_config.json the slow tokenizer takes T5's defaults: same ids on plain text.
        let slow = try T5Tokenizer.load(folder: dir.path)
        #expect(slow.source == .sentencePieceModel)
        let reference = try T5Tokenizer.load(folder: Fixtures.path("slow"))
        for text in ["A photo of a cat.", "x <extra_id_3> y </s>", ""] {
            #expect(slow.encode(text) == reference.encode(text), "\(text)")
        }
    }

    @Test func paddingModes() throws {
        let tokenizer = try T5Tokenizer.load(folder: Fixtures.path("fast"))
        let texts = ["a cat", "a photo of a red house beside the river"]
        let short = tokenizer.encode(texts[0]), long = tokenizer.encode(texts[1])
        let none = try tokenizer.encode(batch: texts, padding: .none, truncation: false)
        #expect(none.ids == [short, long])
        #expect(none.mask == [[Int32](repeating: 1, count: short.count), [Int32](repeating: 1, count: long.count)])
        let longest = try tokenizer.encode(batch: texts, padding: .longest, truncation: false)
        #expect(longest.ids[0] == short + [Int32](repeating: 0, count: long.count - short.count))
        #expect(longest.mask[0].reduce(0, +) == Int32(short.count))
        #expect(longest.ids[1] == long)
        // maxLength nil: model_max_length (512) of tokenizer_config.json.
        let model = try tokenizer.encode(batch: texts)
        #expect(model.ids.allSatisfy { $0.count == 512 })
    }

    @Test(arguments: ["slow", "fast"]) func truncationKeepsEndOfSequence(folder: String) throws {
        let tokenizer = try T5Tokenizer.load(folder: Fixtures.path(folder))
        let text = String(repeating: "a photo of a cat on a chair ", count: 10)
        let full = tokenizer.encode(text)
        for n in [1, 2, 5, full.count - 1, full.count, full.count + 3] {
            let (ids, mask) = try tokenizer.encode(batch: [text], maxLength: n, padding: .maxLength, truncation: true)
            if folder == "slow" && n == 1 {
                // T5Tokenizer cannot remove every id (truncate_sequences logs an error and keeps them all).
                #expect(ids[0] == full)
                continue
            }
            #expect(ids[0].count == n)
            let kept = min(n, full.count)
            #expect(Array(ids[0].prefix(kept - 1)) == Array(full.prefix(kept - 1)))
            #expect(ids[0][kept - 1] == 1, "</s> last at n=\(n)")
            #expect(mask[0] == [Int32](repeating: 1, count: kept) + [Int32](repeating: 0, count: n - kept))
        }
        #expect(throws: TokenizerError.self) { try tokenizer.encode(batch: [text], maxLength: 0) }
    }

    @Test func sentencePieceModelWithoutConfigNeedsMaxLength() throws {
        let tokenizer = try T5Tokenizer.load(sentencePieceModel: Fixtures.path("slow/spiece.model"))
        #expect(tokenizer.modelMaxLength == nil)
        #expect(throws: TokenizerError.self) { try tokenizer.encode(batch: ["a"]) }
        #expect(try tokenizer.encode(batch: ["a"], padding: .none, truncation: false).ids == [tokenizer.encode("a")])
    }

    // MARK: Bad input

    @Test func missingFilesAreNamed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        expectTokenizerError(path: dir.path, contains: ["neither tokenizer.json nor spiece.model"]) {
            _ = try T5Tokenizer.load(folder: dir.path)
        }
        let missing = dir.appendingPathComponent("nope").path
        expectTokenizerError(path: missing, contains: ["no such tokenizer folder"]) { _ = try T5Tokenizer.load(folder: missing) }
        let model = dir.appendingPathComponent("spiece.model").path
        expectTokenizerError(path: model, contains: ["no such file"]) { _ = try T5Tokenizer.load(sentencePieceModel: model) }
    }

    @Test func truncatedSpieceModelIsAnError() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("slow/spiece.model")))
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("spiece.model").path
        for cut in [0, 1, 2, 7, 100, bytes.count / 3, bytes.count / 2, bytes.count - 1000, bytes.count - 1] {
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: path))
            expectTokenizerError(path: path, contains: []) { _ = try T5Tokenizer.load(sentencePieceModel: path) }
        }
        try Data("not a protobuf at all, just text".utf8).write(to: URL(fileURLWithPath: path))
        expectTokenizerError(path: path, contains: []) { _ = try T5Tokenizer.load(sentencePieceModel: path) }
    }

    @Test func malformedTokenizerJSONIsAnError() throws {
        let text = try String(contentsOfFile: Fixtures.path("fast/tokenizer.json"), encoding: .utf8)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokenizer.json").path
        func check(_ content: String, _ phrases: [String]) throws {
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            expectTokenizerError(path: path, contains: phrases) { _ = try T5Tokenizer.load(tokenizerJSON: path) }
        }
        try check(String(text.prefix(text.count / 2)), ["not valid JSON"])
        try check("[]", ["not a JSON object"])
        try check(text.replacingOccurrences(of: "\"type\": \"Unigram\"", with: "\"type\": \"BPE\""), ["model.type is \"BPE\""])
        try check(text.replacingOccurrences(of: "\"precompiled_charsmap\": \"", with: "\"precompiled_charsmap\": \"!"),
                  ["precompiled_charsmap is not valid base64"])
        try check(text.replacingOccurrences(of: "\"unk_id\": 2", with: "\"unk_id\": 999999"), ["unk_id 999999"])
        try check(text.replacingOccurrences(of: "\"vocab\": [", with: "\"vocab\": [7, "), ["model.vocab[0]"])
        try check(text.replacingOccurrences(of: "\"type\": \"Metaspace\"", with: "\"type\": \"ByteLevel\""),
                  ["\"ByteLevel\" is not supported"])
    }

    @Test func malformedTokenizerConfigIsAnError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.path("slow/spiece.model"),
                                         toPath: dir.appendingPathComponent("spiece.model").path)
        let config = dir.appendingPathComponent("tokenizer_config.json").path
        try #"{"model_max_length": "long"}"#.write(toFile: config, atomically: true, encoding: .utf8)
        expectTokenizerError(path: config, contains: ["model_max_length"]) { _ = try T5Tokenizer.load(folder: dir.path) }
        try #"{"legacy": false}"#.write(toFile: config, atomically: true, encoding: .utf8)
        expectTokenizerError(path: config, contains: ["legacy is false"]) { _ = try T5Tokenizer.load(folder: dir.path) }
    }
}
