import Testing
import MiroData
import MiroShapes

@Suite("Shapes world generator")
struct ShapesWorldTests {
    @Test("same seed gives the same samples, byte for byte")
    func determinism() {
        let a = ShapesWorld.dataset(count: 64, seed: 42)
        let b = ShapesWorld.dataset(count: 64, seed: 42)
        #expect(a == b)
        #expect(fingerprint(a) == fingerprint(b))
    }

    @Test("different seeds give different data")
    func seedsDiffer() {
        let a = ShapesWorld.dataset(count: 32, seed: 1), b = ShapesWorld.dataset(count: 32, seed: 2)
        #expect(fingerprint(a) != fingerprint(b))
        #expect(zip(a, b).filter { $0.image == $1.image }.count == 0)
    }

    @Test("sample i does not depend on how many are generated (random access)")
    func randomAccess() {
        let data = ShapesWorld.dataset(count: 20, seed: 9)
        let world = ShapesWorld()
        #expect(world.sample(index: 17, seed: 9) == data[17])
        #expect(world.sample(index: 3, seed: 9) == data[3])
    }

    /// Pins the default dataset. It changes whenever the generator changes — update it deliberately, since
    /// that changes what every model is trained on. Equal on every platform: the generator uses only IEEE
    /// arithmetic and our own PRNG.
    @Test("the default dataset's fingerprint is pinned")
    func pinnedFingerprint() {
        let data = ShapesWorld.dataset(count: 16, seed: 2026)
        #expect(fingerprint(data) == ShapesWorldTests.pinned, "fingerprint is \(fingerprint(data))")
    }
    static let pinned: UInt64 = 15_996_292_264_258_246_649

    @Test("all six GenEval categories appear in equal shares")
    func categoryProportions() {
        let data = ShapesWorld.dataset(count: 3000, seed: 5)
        #expect(Set(ShapesCategory.allCases.map(\.rawValue))
            == ["single_object", "two_object", "counting", "colors", "position", "color_attr"])
        for category in ShapesCategory.allCases {
            let share = Double(data.filter { $0.category == category }.count) / Double(data.count)
            #expect(abs(share - 1.0 / 6) < 0.03, "\(category.rawValue): \(share)")
        }
    }

    @Test("degradations occur at their configured rates and are recorded")
    func degradationRates() {
        let config = ShapesWorld.Configuration.standard
        let data = ShapesWorld.dataset(count: 3000, seed: 6)
        func rate(_ kind: (ShapesDegradation) -> Bool) -> Double {
            Double(data.filter { $0.degradations.contains(where: kind) }.count) / Double(data.count)
        }
        #expect(abs(rate { $0.kind == "blur" } - config.blurProbability) < 0.03)
        #expect(abs(rate { $0.kind == "noise" } - config.noiseProbability) < 0.03)
        #expect(abs(rate { $0.kind == "washed_out" } - config.washedOutProbability) < 0.03)
        #expect(abs(rate { $0.kind == "clutter" } - config.clutterProbability) < 0.03)
        #expect(abs(rate { $0.isCaptionMismatch } - config.mismatchProbability) < 0.04)
        let clean = Double(data.filter(\.isClean).count) / Double(data.count)
        #expect(clean > 0.2 && clean < 0.4, "clean share \(clean)")
        // A mismatch is recorded exactly when the caption's claim differs from the truth.
        for s in data { #expect(s.degradations.contains { $0.isCaptionMismatch } == (s.spec != s.faithfulSpec)) }
        // Each mismatch kind exists.
        for kind in ["wrong_color", "wrong_count", "wrong_shape", "swapped_position", "swapped_colors"] {
            #expect(data.contains { $0.degradations.contains { $0.kind == kind } }, "\(kind) never generated")
        }
    }

    @Test("the clean configuration degrades nothing, and a clean image is exactly its scene's render")
    func cleanConfiguration() {
        for s in ShapesWorld.dataset(count: 100, seed: 3, configuration: .clean) {
            #expect(s.isClean)
            #expect(s.spec == s.faithfulSpec)
            #expect(s.image == s.scene.render())
        }
    }

    @Test("every caption parses back to the spec it was written from")
    func captionRoundTrip() {
        for s in ShapesWorld.dataset(count: 1000, seed: 8) {
            #expect(ShapesPromptSpec.parse(s.caption) == s.spec, "\(s.caption)")
            #expect(s.caption.contains(s.spec.text))
        }
    }

    @Test("scenes make their faithful captions true: counts, non-overlap, and one unambiguous relation")
    func scenesMatchSpecs() {
        for s in ShapesWorld.dataset(count: 600, seed: 4, configuration: .clean) {
            let objects = s.scene.objects
            switch s.category {
            case .counting:
                #expect(objects.count == s.faithfulSpec.count)
                #expect(Set(objects.map(\.color)).count == 1 && Set(objects.map(\.shape)).count == 1)
            case .position:
                #expect(SpatialRelation.relations(objects[0].box, objects[1].box) == [s.faithfulSpec.relation!])
            case .singleObject, .colors: #expect(objects.count == 1)
            case .twoObject, .colorAttr: #expect(objects.count == 2)
            }
            for (spec, object) in zip(s.faithfulSpec.objects, objects) { #expect(spec.matches(object.shape, object.color)) }
            for i in objects.indices {
                #expect(objects[i].box.minX >= 0 && objects[i].box.maxX <= 32)
                for j in objects.indices where j > i { #expect(objects[i].box.gap(to: objects[j].box) >= 3) }
            }
        }
    }

    @Test("images are 32×32 RGB in [0, 1]")
    func imageFormat() {
        for s in ShapesWorld.dataset(count: 200, seed: 12) {
            #expect(s.image.width == 32 && s.image.height == 32)
            #expect(s.image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    @Test("the image size is configurable")
    func largerImages() {
        var config = ShapesWorld.Configuration.clean
        config.imageSize = 64
        let s = ShapesWorld(configuration: config).sample(index: 0, seed: 1)
        #expect(s.image.width == 64)
        let detected = ShapeDetector.detect(s.image)
        #expect(s.faithfulSpec.facts.allSatisfy { FactCheck.holds($0, in: detected) })
    }

    @Test("the parser reads GenEval-style and free-form captions")
    func parser() {
        let position = ShapesPromptSpec.parse("A photo of a Blue circle, to the LEFT of a red triangle.")
        #expect(position == ShapesPromptSpec(category: .position, objects: [ObjectSpec(.circle, .blue), ObjectSpec(.triangle, .red)],
                                             relation: .leftOf))
        #expect(ShapesPromptSpec.parse("three green triangles")?.facts == [.count(ObjectSpec(.triangle, .green), 3)])
        #expect(ShapesPromptSpec.parse("a dog right of a square")?.category == .singleObject)
        #expect(ShapesPromptSpec.parse("a circle and a square")?.category == .twoObject)
        #expect(ShapesPromptSpec.parse("a red circle and a blue square")?.category == .colorAttr)
        #expect(ShapesPromptSpec.parse("an orange diamond")?.category == .colors)
        #expect(ShapesPromptSpec.parse("a cat on a sofa") == nil)
        #expect(ShapesPromptSpec.parse("") == nil)
    }

    @Test("semantic keys ignore word order")
    func semanticKeys() {
        let a = ShapesPromptSpec.parse("a red circle to the left of a blue square")!
        let b = ShapesPromptSpec.parse("a blue square to the right of a red circle")!
        #expect(a.semanticKey == b.semanticKey)
        #expect(ShapesPromptSpec.parse("a red circle and a blue square")!.semanticKey
            == ShapesPromptSpec.parse("a blue square and a red circle")!.semanticKey)
        #expect(a.semanticKey != ShapesPromptSpec.parse("a red circle above a blue square")!.semanticKey)
    }

    @Test("SplitMix64 and FNV-1a match their reference values")
    func referenceRandom() {
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(rng.next() == 0x06C4_5D18_8009_454F)
        #expect(FNV1a.hash("") == 0xCBF2_9CE4_8422_2325)
        #expect(FNV1a.hash("a") == 0xAF63_DC4C_8601_EC8C)
        #expect(FNV1a.hash("foobar") == 0x8594_4171_F739_67E8)
    }
}
