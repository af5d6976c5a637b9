import Testing
import MiroData
import MiroImage
import MiroRewards
import MiroShapes

@Suite("ShapesEval benchmark")
struct ShapesEvalTests {
    static let prompts = ShapesEval.prompts()

    @Test("fixed prompts in GenEval's six categories, up to 8 meanings each")
    func promptSet() {
        #expect(Self.prompts == ShapesEval.prompts(seed: 0))
        #expect(Self.prompts != ShapesEval.prompts(seed: 1))
        let counts = Dictionary(grouping: Self.prompts, by: \.category).mapValues(\.count)
        #expect(counts == [.singleObject: 4, .twoObject: 6, .counting: 8, .colors: 8, .position: 8, .colorAttr: 8])
        #expect(Set(Self.prompts.map(\.prompt)).count == Self.prompts.count)
        #expect(Set(Self.prompts.map(\.spec.semanticKey)).count == Self.prompts.count)
        for p in Self.prompts {
            #expect(p.prompt.hasPrefix("a photo of "))
            #expect(ShapesPromptSpec.parse(p.prompt) == p.spec, "\(p.prompt)")
            #expect(!p.facts.isEmpty)
        }
    }

    /// The benchmark is fixed: a change to the prompt set (vocabulary, hold-out rule, selection) breaks comparability
    /// with earlier scores, so it must be deliberate.
    @Test("the prompt set is pinned")
    func pinned() {
        let joined = Self.prompts.map(\.prompt).joined(separator: "\n")
        #expect(FNV1a.hash(joined) == Self.pinnedHash, "hash is \(FNV1a.hash(joined))")
        #expect(Self.prompts.first?.prompt == "a photo of a triangle")
    }
    static let pinnedHash: UInt64 = 13_507_091_492_366_757_138

    @Test("counting is exact, existence is at-least, relations need a matching pair (GenEval's rules)")
    func factRules() {
        func object(_ shape: ShapeKind, _ color: ShapeColor, _ x: Float, _ y: Float) -> ShapesObject {
            ShapesObject(shape: shape, color: color, centerX: x, centerY: y, size: 9)
        }
        let scene = ShapesScene(size: 32, background: ShapesBackground(rgb: [0.4, 0.4, 0.4]), objects: [
            object(.circle, .red, 7, 7), object(.circle, .red, 24, 7), object(.circle, .red, 7, 24), object(.square, .blue, 24, 24),
        ])
        let found = ShapeDetector.detect(scene.render())
        #expect(found.count == 4)
        let redCircle = ObjectSpec(.circle, .red), blueSquare = ObjectSpec(.square, .blue)
        #expect(FactCheck.holds(.count(redCircle, 3), in: found))
        #expect(!FactCheck.holds(.count(redCircle, 2), in: found))
        #expect(!FactCheck.holds(.count(redCircle, 4), in: found))
        #expect(FactCheck.holds(.count(ObjectSpec(.circle), 3), in: found))
        #expect(FactCheck.holds(.exists(redCircle), in: found) && !FactCheck.holds(.exists(ObjectSpec(.circle, .blue)), in: found))
        #expect(FactCheck.holds(.relation(redCircle, .leftOf, blueSquare), in: found))
        #expect(FactCheck.holds(.relation(redCircle, .above, blueSquare), in: found))
        #expect(!FactCheck.holds(.relation(blueSquare, .leftOf, redCircle), in: found))
        #expect(!FactCheck.holds(.relation(redCircle, .leftOf, ObjectSpec(.triangle)), in: found))
    }

    @Test("detections below minConfidence do not exist for the verdicts; facts report their match confidence")
    func threshold() throws {
        let prompt = try #require(Self.prompts.first { $0.category == .counting })
        let found = ShapeDetector.detect(ShapesWorld.render(prompt.spec, seed: 1))
        #expect(found.count == prompt.spec.count && found.allSatisfy { $0.confidence >= ShapesEval.minConfidence }, "\(found)")
        let t = ShapesEval.minConfidence
        #expect(ShapesEval.verdictConfidence(prompt, found, minConfidence: t) == found.map(\.confidence).min())
        // One of the n below the threshold: n − 1 remain, the count fails (GenEval drops such boxes before counting).
        var weak = found
        weak[0].confidence = t / 2
        #expect(ShapesEval.verdictConfidence(prompt, weak, minConfidence: t) == nil)
        #expect(ShapesEval.verdictConfidence(prompt, weak, minConfidence: 0) == t / 2)
        // An extra low-confidence match is ignored at the threshold, but breaks the count without one.
        var extra = found
        extra.append(weak[0])
        #expect(ShapesEval.verdictConfidence(prompt, extra, minConfidence: t) != nil)
        #expect(ShapesEval.verdictConfidence(prompt, extra, minConfidence: 0) == nil)
        // matchConfidence: the best match for exists, nil when the fact fails.
        let spec = prompt.spec.objects[0]
        #expect(FactCheck.matchConfidence(.exists(spec), in: weak) == found.dropFirst().map(\.confidence).max().map { max($0, t / 2) })
        #expect(FactCheck.matchConfidence(.exists(ObjectSpec(spec.shape == .circle ? .square : .circle)), in: found) == nil)
        // Scoring the same detections: right at 0, wrong at the threshold.
        let k = try ShapesEval.score(detections: [weak], prompts: [prompt], minConfidence: 0)
        #expect(k.perPrompt[0].correct == [true] && k.perPrompt[0].confidence == [t / 2])
        #expect(try ShapesEval.score(detections: [weak], prompts: [prompt]).perPrompt[0].correct == [false])
    }

    @Test("held-out meanings: enough per category, never generated for training")
    func heldOut() {
        for category in [ShapesCategory.counting, .position, .colorAttr] {
            let held = Self.prompts.filter { $0.category == category }
            #expect(held.allSatisfy { ShapesEval.isHeldOut($0.spec) })
        }
        let evalStrings = Set(Self.prompts.map(\.prompt))
        let evalKeys = Set(Self.prompts.filter { ShapesEval.isHeldOut($0.spec) }.map(\.spec.semanticKey))
        for s in ShapesWorld.dataset(count: 4000, seed: 0) {
            #expect(!evalStrings.contains(s.caption))
            #expect(!s.caption.hasPrefix("a photo of "))
            #expect(!ShapesEval.isHeldOut(s.spec) && !ShapesEval.isHeldOut(s.faithfulSpec), "\(s.caption)")
            #expect(!evalKeys.contains(s.spec.semanticKey))
        }
    }

    @Test("clean renders of its own prompts score 1; noise scores 0")
    func sanity() throws {
        let k = 3
        let renders = Self.prompts.flatMap { p in (0..<k).map { ShapesWorld.render(p.spec, seed: UInt64($0)) } }
        let result = try ShapesEval.score(images: renders, prompts: Self.prompts)
        #expect(result.overall >= 0.97, "overall \(result.overall): \(result.categories)")
        #expect(Set(result.categories.keys) == Set(ShapesCategory.allCases.map(\.rawValue)))
        #expect(result.perPrompt.count == Self.prompts.count && result.perPrompt.allSatisfy { $0.correct.count == k })

        var rng = SplitMix64(seed: 5)
        let noise = renders.map { _ in RGBImage(width: 32, height: 32, pixels: (0..<3072).map { _ in Float(rng.uniform()) }) }
        let noiseResult = try ShapesEval.score(images: noise, prompts: Self.prompts)
        #expect(noiseResult.overall <= 0.05)
        let blank = renders.map { _ in RGBImage(width: 32, height: 32, fill: (0.5, 0.5, 0.5)) }
        #expect(try ShapesEval.score(images: blank, prompts: Self.prompts).overall == 0)
    }

    @Test("images are judged against their own prompt; overall is the mean over categories")
    func grouping() throws {
        // Render each prompt's image for the *next* prompt: almost everything becomes wrong.
        let renders = Self.prompts.map { ShapesWorld.render($0.spec, seed: 0) }
        let shifted = Array(renders.dropFirst()) + [renders[0]]
        let result = try ShapesEval.score(images: shifted, prompts: Self.prompts)
        #expect(result.overall < 0.5)
        let mean = ShapesCategory.allCases.map { result.categories[$0.rawValue]! }.reduce(0, +) / 6
        #expect(abs(result.overall - mean) < 1e-12)
    }

    @Test("a number of images that is not a multiple of the prompts throws")
    func badCounts() {
        #expect(throws: RewardError.self) { try ShapesEval.score(images: [], prompts: Self.prompts) }
        let one = RGBImage(width: 32, height: 32)
        #expect(throws: RewardError.self) {
            try ShapesEval.score(images: Array(repeating: one, count: Self.prompts.count + 1), prompts: Self.prompts)
        }
    }
}
