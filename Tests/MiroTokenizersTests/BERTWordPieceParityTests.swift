import Foundation
import Testing
import MiroTokenizers

/// Fixtures from `scripts/make_clip_bert_tokenizer_fixtures.py`: a small uncased vocab.txt and the ids of
/// transformers 4.40.2 `BertTokenizer` and `BertTokenizerFast` (padding="max_length", truncation=True, max_length=35).
struct BERTExpected: Decodable {
    struct Output: Decodable {
        var ids: [Int32]
        var ids35: [Int32]
        var mask35: [Int32]
    }

    struct Case: Decodable {
        var name: String
        var text: String
        var slow: Output
        var fast: Output
    }

    struct Fuzz: Decodable {
        var text: String
        var slow: [Int32]
        var fast: [Int32]
    }

    var cases: [Case]
    var fuzz: [Fuzz]
}

@Suite("BERT WordPiece against BertTokenizer / BertTokenizerFast 4.40.2")
struct BERTWordPieceParityTests {
    @Test func matchesBothReferencesOnTheHardSet() throws {
        let tokenizer = try BERTWordPieceTokenizer(vocabTXT: try Fixtures.path("bert/vocab.txt"))
        let expected = try JSONDecoder().decode(BERTExpected.self, from: Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("bert/expected.json"))))
        #expect(expected.cases.count > 10)
        for c in expected.cases {
            for reference in [c.slow, c.fast] {
                #expect(tokenizer.encode(c.text) == reference.ids, "\(c.name)")
                let e = try tokenizer.encode(c.text, length: 35)
                #expect(e.ids == reference.ids35, "\(c.name)")
                #expect(e.attentionMask == reference.mask35, "\(c.name)")
            }
        }
    }

    @Test func matchesBothReferencesOnSeededRandomTexts() throws {
        let tokenizer = try BERTWordPieceTokenizer(vocabTXT: try Fixtures.path("bert/vocab.txt"))
        let expected = try JSONDecoder().decode(BERTExpected.self, from: Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("bert/expected.json"))))
        #expect(expected.fuzz.count >= 100)
        for (k, c) in expected.fuzz.enumerated() {
            let ids = tokenizer.encode(c.text)
            #expect(ids == c.slow, "fuzz \(k): \(c.text.debugDescription)")
            #expect(ids == c.fast, "fuzz \(k): \(c.text.debugDescription)")
        }
    }

    @Test func specialIDs() throws {
        let tokenizer = try BERTWordPieceTokenizer(vocabTXT: try Fixtures.path("bert/vocab.txt"))
        #expect(tokenizer.padID == 0 && tokenizer.unknownID == 1 && tokenizer.clsID == 2 && tokenizer.sepID == 3)
        #expect(throws: TokenizerError.self) { try tokenizer.encode("x", length: 1) }
        let rows = try tokenizer.encode(batch: ["a photo", ""], length: 35)
        #expect(rows.count == 2 && rows.allSatisfy { $0.ids.count == 35 && $0.attentionMask.count == 35 })
        #expect(rows[1].ids.prefix(3) == [2, 3, 0] && rows[1].attentionMask.prefix(3) == [1, 1, 0])
    }
}
