import Foundation
import Testing
import MiroRewardModels
import MiroTokenizers

/// BLIP's tokenizer (transformers 4.40.2 `BertTokenizer` + `[DEC]`/`[ENC]`, as `init_tokenizer` builds it) on a
/// hard text set: accents, CJK, special tokens written in the text (upper and lower case), an over-long word, a
/// zero-width space, truncation at 35, the empty string. References: Fixtures/imagereward/tokenizer.json.
struct ImageRewardTokenizerTests {
    struct Case: Decodable {
        let text: String
        let ids: [Int32]
        let ids35: [Int32]
        let mask35: [Int32]
    }

    struct Reference: Decodable {
        let decID: Int32
        let encID: Int32
        let vocabSize: Int
        let cases: [Case]

        enum CodingKeys: String, CodingKey {
            case decID = "dec_id", encID = "enc_id", vocabSize = "vocab_size", cases
        }
    }

    func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: ImageRewardFixtures.url("tokenizer.json")))
    }

    @Test func addedTokenIDsFollowTheVocabulary() throws {
        let ref = try reference()
        let tokenizer = try BLIPTokenizer(vocabTXT: ImageRewardFixtures.url("tiny/vocab.txt").path)
        #expect(tokenizer.decID == ref.decID && tokenizer.encID == ref.encID)
        #expect(tokenizer.count == ref.vocabSize + 2)
    }

    @Test func idsMatchTheReference() throws {
        let ref = try reference()
        let tokenizer = try BLIPTokenizer(vocabTXT: ImageRewardFixtures.url("tiny/vocab.txt").path)
        #expect(ref.cases.count >= 10)
        for c in ref.cases {
            #expect(tokenizer.encode(c.text) == c.ids, "untruncated: \(c.text.debugDescription)")
            let padded = try tokenizer.encode(c.text, length: BLIPTokenizer.imageRewardLength)
            #expect(padded.ids == c.ids35, "max_length 35: \(c.text.debugDescription)")
            #expect(padded.attentionMask == c.mask35, "mask: \(c.text.debugDescription)")
        }
    }

    /// A vocabulary without `[MASK]`: transformers appends it first, so `[DEC]`/`[ENC]` move up by one.
    @Test func missingMaskTokenShiftsTheAddedIDs() throws {
        let dir = try imageRewardTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let vocab = dir.appendingPathComponent("vocab.txt")
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\n".write(to: vocab, atomically: true, encoding: .utf8)
        let tokenizer = try BLIPTokenizer(vocabTXT: vocab.path)
        #expect(tokenizer.decID == 7 && tokenizer.encID == 8 && tokenizer.count == 9)
        #expect(tokenizer.encode("a [MASK] b[DEC]") == [2, 4, 6, 5, 7, 3])
    }
}
