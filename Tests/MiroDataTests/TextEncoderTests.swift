import Testing
import MiroData
import MiroShapes

@Suite("Shapes text encoder")
struct TextEncoderTests {
    let encoder = ShapesTextEncoder()

    @Test("T5-like layout: maxTokens × width, mask over real tokens, EOS appended, zero padding")
    func layout() {
        let e = encoder.encode("A red circle, to the LEFT of a blue square!")
        #expect(e.embeddings.count == 16 * 64 && e.mask.count == 16)
        #expect(e.tokens == ["a", "red", "circle", "to", "the", "left", "of", "a", "blue", "square", "</s>"])
        #expect(e.tokenCount == 11)
        #expect(e.mask == Array(repeating: true, count: 11) + Array(repeating: false, count: 5))
        #expect(e.embeddings[(11 * 64)...].allSatisfy { $0 == 0 })
        #expect(e.embeddings[(10 * 64)..<(11 * 64)].contains { $0 != 0 })
    }

    @Test("the empty caption is EOS alone (the unconditional text)")
    func empty() {
        let e = encoder.empty
        #expect(e.tokens == ["</s>"] && e.tokenCount == 1)
        #expect(e.mask == [true] + Array(repeating: false, count: 15))
        #expect(e == encoder.encode("  ...  "))
    }

    @Test("unknown words map to <unk>; case and punctuation do not matter")
    func unknownWords() {
        let e = encoder.encode("a red zebra")
        #expect(e.tokens == ["a", "red", "<unk>", "</s>"])
        #expect(encoder.encode("A RED, circle.") == encoder.encode("a red circle"))
        #expect(encoder.tokenEmbedding("zebra") == encoder.tokenEmbedding("<unk>"))
        #expect(encoder.encode("a red zebra") == encoder.encode("a red giraffe"))
    }

    @Test("every word of training captions and benchmark prompts is in the vocabulary")
    func coverage() {
        let captions = ShapesWorld.dataset(count: 500, seed: 3).map(\.caption) + ShapesEval.prompts().map(\.prompt)
        for caption in captions {
            let e = encoder.encode(caption)
            #expect(!e.tokens.contains("<unk>"), "\(caption)")
            #expect(e.tokenCount <= 16)
        }
    }

    @Test("long captions are truncated, keeping EOS last")
    func truncation() {
        let e = ShapesTextEncoder(width: 8, maxTokens: 4).encode("a red circle and a blue square")
        #expect(e.tokens == ["a", "red", "circle", "</s>"])
        #expect(e.mask == [true, true, true, true])
        #expect(e.embeddings.count == 32)
    }

    @Test("embeddings are deterministic and pinned (bit-identical on every platform)")
    func determinism() {
        #expect(ShapesTextEncoder().encode("a red circle") == encoder.encode("a red circle"))
        let red = encoder.tokenEmbedding("red")
        #expect(red.prefix(4).map(\.bitPattern) == [3_205_180_990, 1_038_389_521, 3_211_028_557, 3_210_526_263])
        #expect(encoder.tokenEmbedding("</s>").prefix(4).map(\.bitPattern) == [1_072_689_665, 1_066_879_295, 1_002_886_866, 1_041_387_620])
        // Roughly standard normal entries.
        let mean = red.reduce(0, +) / 64, variance = red.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 64
        #expect(abs(mean) < 0.4 && variance > 0.5 && variance < 1.6)
    }

    @Test("word order matters: the same words in another order encode differently")
    func order() {
        let a = encoder.encode("a red circle and a blue square"), b = encoder.encode("a blue circle and a red square")
        #expect(a != b)
        #expect(Set(a.tokens) == Set(b.tokens))
        // The position code: the same token at two positions differs.
        let e = encoder.encode("a a")
        #expect(Array(e.embeddings[0..<64]) != Array(e.embeddings[64..<128]))
        #expect(encoder.tokenEmbedding("red") != encoder.tokenEmbedding("blue"))
    }

    @Test("batch encoding concatenates rows")
    func batch() {
        let (embeddings, mask) = encoder.encode(["a red circle", ""])
        #expect(embeddings.count == 2 * 16 * 64 && mask.count == 32)
        #expect(Array(embeddings[(16 * 64)...]) == encoder.empty.embeddings)
        #expect(Array(mask[0..<16]) == encoder.encode("a red circle").mask)
    }
}
