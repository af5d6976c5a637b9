import Foundation
import Testing
import MiroEngine
import MiroRewardModels

/// Opt-in (MIRO_REWARD_TIMING=1): the full-size CLIP towers with random weights on a batch of 8 images at 224²
/// and 8 captions of 77 tokens, timed once after a warm-up, for the benchmark notes. Not a parity check.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MIRO_REWARD_TIMING"] != nil))
struct FullSizeTimingTests {
    static let batch = 8

    func time(_ label: String, _ body: () throws -> [Float]) throws {
        _ = try body()  // warm-up
        let start = Date()
        let out = try body()
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "%@: %.2f s for %d pairs (%.2f images/s), finite %@", label, seconds, Self.batch,
                     Double(Self.batch) / seconds, out.allSatisfy(\.isFinite) ? "yes" : "no"))
        #expect(out.count == Self.batch && out.allSatisfy(\.isFinite))
    }

    func inputs(vocabulary: Int) throws -> (pixels: Tensor, ids: Tensor, mask: Tensor) {
        let g = try Generator(seed: 3)
        let pixels = try Tensor.empty([Self.batch, 3, 224, 224])
        try pixels.normal_(generator: g)
        var ids: [Int64] = []
        for row in 0..<Self.batch {
            let content = (0..<75).map { Int64(($0 * 7919 + row * 104_729) % (vocabulary - 2)) }
            ids += [Int64(vocabulary - 2)] + content + [Int64(vocabulary - 1)]
        }
        let idTensor = try Tensor(ids, shape: [Self.batch, 77])
        return (pixels, idTensor, try Tensor.ones([Self.batch, 77], dtype: .int64))
    }

    @Test("aesthetic_score on OpenAI CLIP ViT-L/14 (vision tower + MLP)")
    func aesthetic() throws {
        let reward = try AestheticReward(clip: CLIPModel.random(config: .openAIViTL14), mlp: AestheticMLP.random(),
                                         preprocessor: FixedPixels(Tensor.zeros([1, 3, 224, 224])), batchSize: Self.batch)
        let (pixels, _, _) = try inputs(vocabulary: 49408)
        try time("aesthetic_score (ViT-L/14 image tower + MLP)") { try reward.score(pixelValues: pixels) }
    }

    @Test("pick_a_score_score on ViT-H-14 (both towers)")
    func pickScore() throws {
        let reward = try CLIPSimilarityReward(kind: .pickScore, model: CLIPModel.random(config: .vitH14),
                                              tokenizer: Fixtures.huggingFaceTokenizer.get(),
                                              preprocessor: FixedPixels(Tensor.zeros([1, 3, 224, 224])), batchSize: Self.batch)
        let (pixels, ids, mask) = try inputs(vocabulary: 49408)
        try time("pick_a_score_score (ViT-H-14 image + text towers)") { try reward.score(pixelValues: pixels, ids: ids, mask: mask) }
    }
}
