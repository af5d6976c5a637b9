import Foundation
import Testing
import MiroTokenizers

/// Fixtures written by `scripts/make_tokenizer_fixtures.py` (transformers 4.40.2, tokenizers 0.19.1,
/// sentencepiece 0.2.0): a T5-style unigram model saved by T5Tokenizer (slow/) and T5TokenizerFast (fast/), the
/// older tokenizer.json layout (legacy/), and the ids both references give on a hard text set (expected.json).
enum Fixtures {
    static var directory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures resource missing")
        }
    }

    static func path(_ name: String) throws -> String { try directory.appendingPathComponent(name).path }

    static func expected() throws -> ExpectedTokens {
        try JSONDecoder().decode(ExpectedTokens.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
    }
}

struct ExpectedTokens: Decodable {
    struct Padded: Decodable {
        var ids: [Int32]
        var mask: [Int32]
    }

    /// One reference's output: unpadded `ids`, and `L16` / `L64` (padding="max_length", truncation=True).
    struct Output: Decodable {
        var ids: [Int32]
        var padded: [Int: Padded]

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            ids = try c.decode([Int32].self, forKey: Key(stringValue: "ids"))
            padded = [:]
            for key in c.allKeys where key.stringValue.hasPrefix("L") {
                guard let n = Int(key.stringValue.dropFirst()) else { continue }
                padded[n] = try c.decode(Padded.self, forKey: key)
            }
        }
    }

    struct Case: Decodable {
        var name: String
        var text: String
        var slow: Output
        var fast: Output
        var legacy: Output
        var first: Output
    }

    var vocabSize: Int
    var lenTokenizer: Int
    var maxLengths: [Int]
    var cases: [Case]
    var disagreements: [String]
    var serde: Serde
    var spmPrecision: Serde
    var userDefined: [Serde]

    struct Serde: Decodable {
        var text: String
        var ids: [Int32]
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", lenTokenizer = "len_tokenizer", maxLengths = "max_lengths", cases, disagreements, serde
        case spmPrecision = "spm_precision", userDefined = "user_defined"
    }
}

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory(_ label: String = #function) throws -> URL {
    let safe = label.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("MiroTokenizersTests-\(safe)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Asserts that `body` throws a TokenizerError whose description names `path` and contains every phrase.
func expectTokenizerError(path: String, contains phrases: [String], sourceLocation: SourceLocation = #_sourceLocation,
                          _ body: () throws -> Void) {
    let error = #expect(throws: TokenizerError.self, sourceLocation: sourceLocation) { try body() }
    guard let error else { return }
    #expect(error.description.hasPrefix(path + ": "), "\(error)", sourceLocation: sourceLocation)
    for phrase in phrases {
        #expect(error.description.contains(phrase), "'\(error.description)' lacks '\(phrase)'", sourceLocation: sourceLocation)
    }
}
