import Foundation
import Testing
import MiroEngine
import MiroRewardModels
import MiroTokenizers

/// Each reward tokenises as its reference call does (tokens.json, written by the fixture script with
/// transformers' `CLIPTokenizerFast(..., padding=True, truncation=True, max_length=77)` and open_clip's
/// `tokenize`, over the real CLIP vocabulary).
@Suite(.serialized)
struct RewardTokenizationTests {
    struct Expected: Decodable {
        struct Batch: Decodable {
            var ids: [[Int64]]
            var mask: [[Int64]]?
        }
        var captions: [String]
        var huggingface_longest: Batch
        var openclip: Batch
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Fixtures.url("tokens.json")))
    }

    /// A full-vocabulary shape-only model is enough to construct a reward whose tokenizer is under test.
    static func reward(_ kind: CLIPSimilarityReward.Kind) throws -> CLIPSimilarityReward {
        let model = try CLIPModel.shapeOnly(config: .vitH14)
        let tokenizer = kind == .hpsv2 ? try Fixtures.openCLIPTokenizer.get() : try Fixtures.huggingFaceTokenizer.get()
        return try CLIPSimilarityReward(kind: kind, model: model, tokenizer: tokenizer,
                                        preprocessor: FixedPixels(Tensor.zeros([1, 3, 224, 224])))
    }

    @Test("PickScore, SciScore and the OpenAI CLIP score pad to the longest caption with <|endoftext|>, truncating to 77",
          arguments: [CLIPSimilarityReward.Kind.pickScore, .sciScore, .openAICLIP])
    func huggingFaceLongest(_ kind: CLIPSimilarityReward.Kind) throws {
        let expected = try Self.expected()
        let (ids, mask) = try Self.reward(kind).tokenize(expected.captions)
        let rows = expected.huggingface_longest.ids
        #expect(ids.shape == [rows.count, rows[0].count])
        #expect(try ids.toArray(Int64.self) == rows.flatMap { $0 })
        #expect(try mask.toArray(Int64.self) == (expected.huggingface_longest.mask ?? []).flatMap { $0 })
        #expect(rows[2].count == 77 && rows[2].last == 49407)
    }

    @Test("HPSv2 uses open_clip's tokenize: always 77 ids, zero padding, the last id forced to <end_of_text>")
    func openCLIPMaxLength() throws {
        let expected = try Self.expected()
        let (ids, _) = try Self.reward(.hpsv2).tokenize(expected.captions)
        #expect(ids.shape == [expected.captions.count, 77])
        #expect(try ids.toArray(Int64.self) == expected.openclip.ids.flatMap { $0 })
    }

    @Test("a reward refuses the other reference's tokenizer")
    func flavourChecked() throws {
        let model = try CLIPModel.shapeOnly(config: .vitH14)
        let pixels = try FixedPixels(Tensor.zeros([1, 3, 224, 224]))
        let message = thrownDescription {
            _ = try CLIPSimilarityReward(kind: .hpsv2, model: model, tokenizer: Fixtures.huggingFaceTokenizer.get(), preprocessor: pixels)
        }
        #expect(message?.contains("open_clip") == true, "\(message ?? "no error")")
    }
}
