import Foundation
import Testing
import MiroData
import MiroImage
import MiroShapes

/// ShapesEval's calibration (docs/shapeseval-calibration.md): clean renders of its prompts score ≈ 1, the same
/// images with their 4×4 patches shuffled — colours without shapes — and noise score ≈ 0, at the threshold
/// `ShapesEval.minConfidence`.
@Suite("ShapesEval calibration")
struct ShapesEvalCalibrationTests {
    /// 2 images per prompt (84 per set): seconds, and enough to see a floor of 0.3 without the threshold.
    static let calibration = Result { try ShapesEvalCalibration.run(perPrompt: 2) }

    @Test("clean renders score > 0.9 and shuffled ones < 0.1 at the threshold; without it shuffled ones score > 0.2")
    func ceilingAndFloors() throws {
        let c = try Self.calibration.get()
        let clean = try #require(c.set("clean")), shuffled = try #require(c.set("shuffled")), noise = try #require(c.set("noise"))
        #expect(c.threshold == ShapesEval.minConfidence)
        #expect(clean.thresholded.overall > 0.9, "\(clean.thresholded)")
        #expect(shuffled.thresholded.overall < 0.1, "\(shuffled.thresholded)")
        // What the threshold (with the wholeness term under it) removes: ShapesEval before the calibration credited
        // mosaics with about a third of the ceiling.
        #expect(shuffled.unthresholded.overall > 0.2, "\(shuffled.unthresholded)")
        #expect(noise.thresholded.overall <= 0.01)
        // Every category: the floor is gone everywhere, not on average.
        for category in ShapesCategory.allCases {
            #expect((shuffled.thresholded.categories[category.rawValue] ?? 1) < 0.15, "\(category.rawValue)")
            #expect((clean.thresholded.categories[category.rawValue] ?? 0) > 0.85, "\(category.rawValue)")
        }
    }

    @Test("the threshold costs clean renders nothing and mildly blurred ones little")
    func thresholdIsNotTooStrict() throws {
        let c = try Self.calibration.get()
        let clean = try #require(c.set("clean")), blur = try #require(c.set("blur r=1"))
        #expect(clean.thresholded.overall == clean.unthresholded.overall)
        #expect(blur.thresholded.overall > 0.9 && blur.unthresholded.overall - blur.thresholded.overall < 0.05, "\(blur)")
        // The sweep is monotonic (a stricter threshold never makes an image right) and starts at no threshold.
        #expect(c.thresholds.first == 0)
        for s in c.sets { #expect(zip(s.sweep, s.sweep.dropFirst()).allSatisfy { $0 >= $1 }, "\(s.name): \(s.sweep)") }
        #expect(c.sets.allSatisfy { $0.sweep.first == $0.unthresholded.overall })
    }

    @Test("ShapesEval.minConfidence is the threshold the calibration's rule picks at 16 images per prompt")
    func thresholdFollowsTheRule() throws {
        // The rule (strictest sweep threshold that keeps the clean score) on the prompts' renders at the size the
        // docs report; a smaller run has too few images to tell 0.05 from 0.1.
        let c = try ShapesEvalCalibration.run(perPrompt: 16, thresholds: [0, 0.02, 0.05, 0.1, 0.2])
        #expect(c.recommendedThreshold == ShapesEval.minConfidence, "\(c.table())")
    }

    @Test("a single 4×4 tile is a fragment: detected as a square, with confidence below the threshold")
    func tileIsAFragment() {
        var image = RGBImage(width: 32, height: 32, fill: (0.45, 0.45, 0.45))
        for y in 12..<16 { for x in 12..<16 { image.pixels.replaceSubrange((3 * (y * 32 + x))..<(3 * (y * 32 + x) + 3), with: [0.9, 0.1, 0.1]) } }
        let tile = ShapeDetector.detect(image)
        #expect(tile.count == 1 && tile.allSatisfy { $0.confidence < ShapesEval.minConfidence }, "\(tile)")
        // Whole shapes: the generator's nominal smallest (8 px) keeps a high confidence; the smallest it ever draws
        // (6 px, when crowded; its anti-aliased edge leaves a 6×5 mask) stays above the threshold.
        for (size, least) in [(Float(8), Float(0.5)), (6, ShapesEval.minConfidence)] {
            let scene = ShapesScene(size: 32, background: ShapesBackground(rgb: [0.45, 0.45, 0.45]),
                                    objects: [ShapesObject(shape: .square, color: .red, centerX: 14.3, centerY: 14.6, size: size)])
            let whole = ShapeDetector.detect(scene.render())
            #expect(whole.count == 1 && whole.allSatisfy { $0.shape == .square && $0.confidence > least }, "\(size): \(whole)")
        }
    }

    @Test("patch shuffling permutes whole tiles, deterministically by seed")
    func shuffle() {
        let image = ShapesWorld.render(ShapesEval.prompts()[0].spec, seed: 3)
        let a = ShapesEvalCalibration.shufflePatches(image, patch: 4, seed: 1)
        #expect(a == ShapesEvalCalibration.shufflePatches(image, patch: 4, seed: 1))
        #expect(a != ShapesEvalCalibration.shufflePatches(image, patch: 4, seed: 2))
        #expect(a != image)
        func tiles(_ im: RGBImage) -> [[Float]] {
            (0..<64).map { t in
                let (tx, ty) = (t % 8 * 4, t / 8 * 4)
                return (0..<16).flatMap { i in [0, 1, 2].map { im.pixels[3 * ((ty + i / 4) * 32 + tx + i % 4) + $0] } }
            }
        }
        let before = tiles(image), after = tiles(a)
        #expect(before.sorted { $0.lexicographicallyPrecedes($1) } == after.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(zip(before, after).filter { $0 != $1 }.count > 32)  // most tiles moved
    }

    @Test("bad sizes are errors, and the JSON reads back")
    func errorsAndJSON() throws {
        #expect(throws: ShapesEvalCalibration.Failure.perPromptOutOfRange(0)) { try ShapesEvalCalibration.run(perPrompt: 0) }
        #expect(throws: ShapesEvalCalibration.Failure.self) {
            try ShapesEvalCalibration.run(perPrompt: ShapesEvalCalibration.maxPerPrompt + 1)
        }
        let c = try Self.calibration.get()
        let back = try JSONDecoder().decode(ShapesEvalCalibration.self, from: Data(try c.json().utf8))
        #expect(back.sets.map(\.name) == ["clean", "shuffled", "noise", "blur r=1", "blur r=2"])
        #expect(back.sets.map(\.thresholded) == c.sets.map(\.thresholded) && back.images == 84)
        #expect(c.table().contains("shuffled") && c.table().contains("overall by threshold"))
    }
}
