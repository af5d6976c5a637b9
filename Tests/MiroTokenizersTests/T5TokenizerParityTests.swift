import Foundation
import Testing
import MiroTokenizers

/// Ids and attention masks against transformers' T5TokenizerFast (tokenizer.json, both layouts) and T5Tokenizer
/// (spiece.model) on the hard text set of scripts/make_tokenizer_fixtures.py.
@Suite(.serialized) struct T5TokenizerParityTests {
    enum Kind: String, CaseIterable, Sendable { case slow, fast, legacy, first }

    static func tokenizer(_ kind: Kind) throws -> T5Tokenizer {
        switch kind {
        case .slow: return try T5Tokenizer.load(folder: Fixtures.path("slow"))
        case .fast: return try T5Tokenizer.load(folder: Fixtures.path("fast"))
        case .legacy: return try T5Tokenizer.load(tokenizerJSON: Fixtures.path("legacy/tokenizer.json"))
        case .first:
            // fast/tokenizer.json with Metaspace's prepend_scheme "first", as the fixture script rewrites it.
            let text = try String(contentsOfFile: Fixtures.path("fast/tokenizer.json"), encoding: .utf8)
            let range = try #require(text.range(of: #""prepend_scheme": "always""#))
            let dir = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("tokenizer.json").path
            try text.replacingCharacters(in: range, with: #""prepend_scheme": "first""#)
                .write(toFile: path, atomically: true, encoding: .utf8)
            return try T5Tokenizer.load(tokenizerJSON: path, config: Fixtures.path("fast/tokenizer_config.json"))
        }
    }

    static func reference(_ c: ExpectedTokens.Case, _ kind: Kind) -> ExpectedTokens.Output {
        switch kind {
        case .slow: return c.slow
        case .fast: return c.fast
        case .legacy: return c.legacy
        case .first: return c.first
        }
    }

    @Test(arguments: Kind.allCases) func loadsTheRightKind(kind: Kind) throws {
        let tokenizer = try Self.tokenizer(kind)
        #expect(tokenizer.source == (kind == .slow ? .sentencePieceModel : .tokenizerJSON))
        #expect(tokenizer.padID == 0 && tokenizer.eosID == 1)
    }

    @Test(arguments: Kind.allCases) func unpaddedIDsMatch(kind: Kind) throws {
        let expected = try Fixtures.expected()
        let tokenizer = try Self.tokenizer(kind)
        for c in expected.cases {
            let want = Self.reference(c, kind).ids
            let got = tokenizer.encode(c.text)
            #expect(got == want, "\(kind) \(c.name): \(c.text.debugDescription)\n got  \(got)\n want \(want)")
        }
    }

    @Test(arguments: Kind.allCases) func paddedAndTruncatedBatchesMatch(kind: Kind) throws {
        let expected = try Fixtures.expected()
        let tokenizer = try Self.tokenizer(kind)
        let texts = expected.cases.map(\.text)
        for n in expected.maxLengths {
            let (ids, mask) = try tokenizer.encode(batch: texts, maxLength: n, padding: .maxLength, truncation: true)
            for (i, c) in expected.cases.enumerated() {
                let want = try #require(Self.reference(c, kind).padded[n])
                #expect(ids[i] == want.ids, "\(kind) L\(n) \(c.name)\n got  \(ids[i])\n want \(want.ids)")
                #expect(mask[i] == want.mask, "\(kind) L\(n) \(c.name) mask\n got  \(mask[i])\n want \(want.mask)")
            }
        }
    }

    /// The fixture script lists where the two references disagree; each file kind must follow its own.
    @Test func slowAndFastReallyDisagreeSomewhere() throws {
        let expected = try Fixtures.expected()
        #expect(!expected.disagreements.isEmpty)
        let slow = try Self.tokenizer(.slow)
        let fast = try Self.tokenizer(.fast)
        for name in expected.disagreements {
            let c = try #require(expected.cases.first { $0.name == name })
            #expect(slow.encode(c.text) != fast.encode(c.text), "\(name)")
        }
    }

    @Test(arguments: Kind.allCases) func sentinelsCountDownFromTheTop(kind: Kind) throws {
        let expected = try Fixtures.expected()
        let tokenizer = try Self.tokenizer(kind)
        #expect(tokenizer.sentinelID(0) == Int32(expected.vocabSize + 99))
        #expect(tokenizer.sentinelID(99) == Int32(expected.vocabSize))
        #expect(tokenizer.sentinelID(100) == nil)
        #expect(tokenizer.encode("<extra_id_7>") == [Int32(expected.vocabSize + 92), 1])
    }

    /// Scores are read as tokenizers' serde_json reads them: here a correctly rounded parse would pick "▁a" + "b".
    @Test func scoresAreReadLikeSerdeJSON() throws {
        let expected = try Fixtures.expected().serde
        let tokenizer = try T5Tokenizer.load(tokenizerJSON: Fixtures.path("serde/tokenizer.json"))
        #expect(tokenizer.encode(expected.text) == expected.ids)
        #expect(expected.ids == [3])
    }

    /// sentencepiece adds a piece's score in double and stores float: "▁a" + "b" beats "▁ab" although the two tie
    /// in float32 (a float32 Viterbi keeps "▁ab", a float64 one would too on other inputs).
    @Test func sentencePieceArithmeticIsReproduced() throws {
        let expected = try Fixtures.expected().spmPrecision
        let tokenizer = try T5Tokenizer.load(sentencePieceModel: Fixtures.path("spm_precision/spiece.model"))
        #expect(tokenizer.encode(expected.text) == expected.ids)
        #expect(expected.ids == [4, 5, 1])
    }

    /// USER_DEFINED pieces stay verbatim through normalization and win with length * max_score - 0.1; the
    /// model's small custom charsmap has a two-character rule (e + U+0301 → é).
    @Test func userDefinedPiecesAndCustomRules() throws {
        let expected = try Fixtures.expected().userDefined
        #expect(expected.count >= 5)
        let tokenizer = try T5Tokenizer.load(sentencePieceModel: Fixtures.path("user_defined/spiece.model"))
        for c in expected {
            #expect(tokenizer.encode(c.text) == c.ids, "\(c.text.debugDescription)")
        }
    }
}
