import Testing
import MiroData
import MiroImage
import MiroShapes

@Suite("Shape detector")
struct ShapeDetectorTests {
    static let clean = ShapesWorld.dataset(count: 600, seed: 77, configuration: .clean)

    /// GenEval-style accuracy on clean renders (every fact of the true caption recovered), per category, and the
    /// stricter check that the detections are exactly the drawn objects (no misses, no extras, right labels).
    @Test("recovers shapes, colours, counts and relations on clean images (≥ 95 % per category)",
          arguments: ShapesCategory.allCases)
    func cleanAccuracy(category: ShapesCategory) {
        let samples = Self.clean.filter { $0.category == category }
        #expect(samples.count >= 60)
        var factsRight = 0, exact = 0
        for s in samples {
            let found = ShapeDetector.detect(s.image)
            if s.faithfulSpec.facts.allSatisfy({ FactCheck.holds($0, in: found) }) { factsRight += 1 }
            let drawn = s.scene.objects.map { "\($0.color) \($0.shape)" }.sorted()
            if found.map({ "\($0.color) \($0.shape)" }).sorted() == drawn { exact += 1 }
        }
        let accuracy = Double(factsRight) / Double(samples.count), exactRate = Double(exact) / Double(samples.count)
        #expect(accuracy >= 0.95, "\(category.rawValue): facts \(accuracy)")
        #expect(exactRate >= 0.95, "\(category.rawValue): exact \(exactRate)")
    }

    @Test("every shape in every colour, at every size the generator draws", arguments: ShapeKind.allCases)
    func singleShapes(shape: ShapeKind) {
        var rng = SplitMix64(seed: 1)
        for color in ShapeColor.allCases {
            for size in stride(from: Float(8), through: 16, by: 1) {
                let gray = rng.uniformFloat(0.22, 0.72)
                let object = ShapesObject(shape: shape, color: color, centerX: rng.uniformFloat(9, 23),
                                          centerY: rng.uniformFloat(9, 23), size: size)
                let scene = ShapesScene(size: 32, background: ShapesBackground(rgb: [gray, gray, gray]), objects: [object])
                let found = ShapeDetector.detect(scene.render())
                #expect(found.count == 1)
                #expect(found.first?.shape == shape && found.first?.color == color, "\(color) \(shape) \(size)")
                if let d = found.first {
                    // Tips thinner than half a pixel fall outside the mask: triangles and diamonds come out narrower.
                    let slack: Float = shape == .triangle || shape == .diamond ? 2.5 : 1.5
                    #expect(abs(d.centroidX - object.centerX) < 1.5 && abs(d.box.width - size) <= slack)
                }
            }
        }
    }

    @Test("relations follow GenEval's rule")
    func relations() {
        let a = Box(minX: 2, minY: 10, maxX: 10, maxY: 18), b = Box(minX: 20, minY: 11, maxX: 28, maxY: 19)
        #expect(SpatialRelation.relations(a, b) == [.leftOf])
        #expect(SpatialRelation.relations(b, a) == [.rightOf])
        let c = Box(minX: 20, minY: 24, maxX: 28, maxY: 32)
        #expect(SpatialRelation.relations(a, c) == [.leftOf, .above])  // diagonal: both
        let d = Box(minX: 4, minY: 12, maxX: 12, maxY: 20)
        #expect(SpatialRelation.relations(a, d).isEmpty)  // within the 0.1 tolerance
    }

    @Test("noise, flat and empty images yield no shapes")
    func nothingToFind() {
        var rng = SplitMix64(seed: 3)
        var spurious = 0
        for _ in 0..<50 {
            let noise = RGBImage(width: 32, height: 32, pixels: (0..<(32 * 32 * 3)).map { _ in Float(rng.uniform()) })
            spurious += ShapeDetector.detect(noise).count
        }
        #expect(spurious <= 2, "\(spurious) shapes found in 50 noise images")
        #expect(ShapeDetector.detect(RGBImage(width: 32, height: 32, fill: (0.5, 0.5, 0.5))).isEmpty)
        let strokes = ShapesScene(size: 32, background: ShapesBackground(rgb: [0.4, 0.4, 0.4]), objects: [],
                                  strokes: [ShapesStroke(x0: 2, y0: 3, x1: 28, y1: 25, rgb: [0.9, 0.1, 0.1]),
                                            ShapesStroke(x0: 5, y0: 28, x1: 27, y1: 28, rgb: [0.1, 0.3, 0.9])])
        #expect(ShapeDetector.detect(strokes.render()).isEmpty)
    }

    @Test("hue classification survives washing-out and blur; detection degrades gracefully under heavy noise")
    func robustness() {
        let washed = ShapesWorld.dataset(count: 200, seed: 21, configuration: .only { $0.washedOutProbability = 1 })
        let noisy = ShapesWorld.dataset(count: 200, seed: 21, configuration: .only { $0.noiseProbability = 1 })
        func accuracy(_ data: [ShapesSample]) -> Double {
            Double(data.filter { s in
                let found = ShapeDetector.detect(s.image)
                return s.faithfulSpec.facts.allSatisfy { FactCheck.holds($0, in: found) }
            }.count) / Double(data.count)
        }
        #expect(accuracy(washed) > 0.8)
        let noisyAccuracy = accuracy(noisy)
        #expect(noisyAccuracy > 0.5 && noisyAccuracy < 0.999, "noisy accuracy \(noisyAccuracy)")
    }
}
