/// The built-in Shapes world: a seeded generator of small captioned images of coloured shapes, MIRO's
/// default dataset so that training and the demo run on a laptop CPU in minutes with nothing to download.
///
/// Every caption belongs to one of GenEval's six categories. A configurable share of samples is degraded
/// (wrong captions, blur, noise, clutter, washed-out colours, blockiness, pixelation) so that the programmatic
/// rewards spread the way web-data rewards do and reward-conditioned training has something to learn.
/// Sample `i` of seed `s` depends on nothing else, so datasets can be produced in any order or in parallel, and
/// it is bit-identical on every platform: all draws come from `SplitMix64`, and pixels are computed with IEEE
/// arithmetic only (no `exp`/`sin`, whose last bits differ between C libraries).

import MiroData
import MiroImage

/// One training example.
public struct ShapesSample: Sendable, Equatable {
    public var index: Int
    public var image: RGBImage
    /// The caption as trained on (possibly wrong about the image, see `degradations`).
    public var caption: String
    public var category: ShapesCategory
    /// What `caption` claims.
    public var spec: ShapesPromptSpec
    /// What is true of the image (equal to `spec` unless a caption mismatch was applied).
    public var faithfulSpec: ShapesPromptSpec
    public var scene: ShapesScene
    public var degradations: [ShapesDegradation]

    /// True when neither the caption nor the image was degraded.
    public var isClean: Bool { degradations.isEmpty }
}

public struct ShapesWorld: Sendable {
    /// Generator settings; probabilities are per sample and independent.
    public struct Configuration: Sendable, Hashable, Codable {
        /// Side of the square images in pixels. Shape sizes and gaps scale with it; everything is tuned at 32.
        public var imageSize = 32
        /// Relative frequency of each category, in `ShapesCategory.allCases` order. Equal by default.
        public var categoryWeights: [Double] = [1, 1, 1, 1, 1, 1]
        public var mismatchProbability = 0.25
        public var blurProbability = 0.2
        public var noiseProbability = 0.2
        public var clutterProbability = 0.15
        public var washedOutProbability = 0.2
        public var blockyProbability = 0.08
        public var pixelatedProbability = 0.08

        public init() {}

        /// The default mix: about 28 % of samples come out with no degradation at all.
        public static let standard = Configuration()

        /// Nothing degraded (faithful captions, clean images).
        public static var clean: Configuration {
            var c = Configuration()
            c.mismatchProbability = 0; c.blurProbability = 0; c.noiseProbability = 0; c.clutterProbability = 0
            c.washedOutProbability = 0; c.blockyProbability = 0; c.pixelatedProbability = 0
            return c
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .standard) {
        self.configuration = configuration
    }

    /// `count` samples (indices 0..<count) of the stream `seed`.
    public static func dataset(count: Int, seed: UInt64, configuration: Configuration = .standard) -> [ShapesSample] {
        let world = ShapesWorld(configuration: configuration)
        return (0..<count).map { world.sample(index: $0, seed: seed) }
    }

    /// Sample `index` of the stream `seed`.
    public func sample(index: Int, seed: UInt64) -> ShapesSample {
        var rng = SplitMix64(seed: seed, index: UInt64(index))
        let config = configuration
        let category = ShapesCategory.allCases[rng.weightedIndex(config.categoryWeights)]
        var faithful = Self.randomSpec(category, rng: &rng)
        while ShapesEval.isHeldOut(faithful) { faithful = Self.randomSpec(category, rng: &rng) }
        var scene = Self.scene(for: faithful, size: config.imageSize, rng: &rng)

        let template = rng.pick(ShapesTemplates.training)

        // Degradations draw from their own stream, and every decision and parameter is drawn whether used or not:
        // two configurations give the same scene, caption and defect parameters, differing only in what they toggle.
        var defects = SplitMix64(seed: rng.next())
        let wants = (mismatch: defects.chance(config.mismatchProbability), clutter: defects.chance(config.clutterProbability),
                     washedOut: defects.chance(config.washedOutProbability), blur: defects.chance(config.blurProbability),
                     pixelated: defects.chance(config.pixelatedProbability), blocky: defects.chance(config.blockyProbability),
                     noise: defects.chance(config.noiseProbability))
        let washAmount = defects.uniformFloat(0.35, 0.75), blurRadius = defects.int(in: 1...3), pixelFactor = defects.int(in: 2...3)
        let blockLevels = defects.int(in: 6...12), noiseSigma = defects.uniformFloat(0.03, 0.15), noiseSeed = defects.next()
        var mismatchRNG = SplitMix64(seed: defects.next()), clutterRNG = SplitMix64(seed: defects.next())

        var degradations: [ShapesDegradation] = []
        var spec = faithful
        if wants.mismatch, let (kind, wrong) = Self.mismatch(faithful, scene: scene, rng: &mismatchRNG) {
            spec = wrong
            degradations.append(kind)
        }
        if wants.clutter { degradations.append(Self.addClutter(to: &scene, rng: &clutterRNG)) }
        // Applied in this order: colour, optics, resampling, coding, sensor.
        var imageOps: [ShapesDegradation] = []
        if wants.washedOut { imageOps.append(.washedOut(amount: washAmount)) }
        if wants.blur { imageOps.append(.blur(radius: blurRadius)) }
        if wants.pixelated { imageOps.append(.pixelated(factor: pixelFactor)) }
        if wants.blocky { imageOps.append(.blocky(block: 4, levels: blockLevels)) }
        if wants.noise { imageOps.append(.noise(sigma: noiseSigma, seed: noiseSeed)) }

        var image = scene.render()
        for op in imageOps { image = op.apply(to: image) }
        return ShapesSample(index: index, image: image, caption: ShapesTemplates.apply(template, spec.text),
                            category: category, spec: spec, faithfulSpec: faithful, scene: scene,
                            degradations: degradations + imageOps)
    }

    /// A clean image of what `spec` describes (used to check the benchmark, and as a reference render).
    public static func render(_ spec: ShapesPromptSpec, seed: UInt64, size: Int = 32) -> RGBImage {
        var rng = SplitMix64(seed: seed, index: FNV1a.hash(spec.text))
        return scene(for: spec, size: size, rng: &rng).render()
    }

    // MARK: - Captions

    static func randomSpec(_ category: ShapesCategory, rng: inout SplitMix64) -> ShapesPromptSpec {
        let shapes = ShapeKind.allCases, colors = ShapeColor.allCases
        func twoDistinct<T: Equatable>(_ items: [T]) -> (T, T) {
            let a = rng.pick(items)
            let rest = items.filter { $0 != a }
            return (a, rng.pick(rest))
        }
        switch category {
        case .singleObject:
            return ShapesPromptSpec(category: category, objects: [ObjectSpec(rng.pick(shapes))])
        case .colors:
            return ShapesPromptSpec(category: category, objects: [ObjectSpec(rng.pick(shapes), rng.pick(colors))])
        case .counting:
            let n = rng.int(in: 2...4)
            return ShapesPromptSpec(category: category, objects: [ObjectSpec(rng.pick(shapes), rng.pick(colors))], count: n)
        case .twoObject:
            let (a, b) = twoDistinct(shapes)
            return ShapesPromptSpec(category: category, objects: [ObjectSpec(a), ObjectSpec(b)])
        case .colorAttr:
            let (a, b) = twoDistinct(shapes), (ca, cb) = twoDistinct(colors)
            return ShapesPromptSpec(category: category, objects: [ObjectSpec(a, ca), ObjectSpec(b, cb)])
        case .position:
            let first = ObjectSpec(rng.pick(shapes), rng.pick(colors))
            var second = ObjectSpec(rng.pick(shapes), rng.pick(colors))
            while second == first { second = ObjectSpec(rng.pick(shapes), rng.pick(colors)) }
            return ShapesPromptSpec(category: category, objects: [first, second], relation: rng.pick(SpatialRelation.allCases))
        }
    }

    /// A caption that is wrong about the scene in one specific way, or nil if none fits (or all land in the
    /// held-out benchmark set, which training must never show).
    static func mismatch(_ spec: ShapesPromptSpec, scene: ShapesScene,
                         rng: inout SplitMix64) -> (ShapesDegradation, ShapesPromptSpec)? {
        var kinds: [ShapesDegradation] = [.wrongShape]
        switch spec.category {
        case .singleObject, .twoObject: break
        case .colors: kinds.append(.wrongColor)
        case .counting: kinds += [.wrongColor, .wrongCount]
        case .colorAttr: kinds += [.wrongColor, .swappedColors]
        case .position: kinds += [.wrongColor, .swappedPosition]
        }
        let sceneShapes = Set(scene.objects.map(\.shape)), sceneColors = Set(scene.objects.map(\.color))
        for _ in 0..<8 {
            var wrong = spec
            let kind = rng.pick(kinds)
            let i = rng.int(in: 0...(spec.objects.count - 1))
            switch kind {
            case .wrongShape:
                wrong.objects[i].shape = rng.pick(ShapeKind.allCases.filter { !sceneShapes.contains($0) })
            case .wrongColor:
                wrong.objects[i].color = rng.pick(ShapeColor.allCases.filter { !sceneColors.contains($0) })
            case .wrongCount:
                wrong.count = rng.pick([2, 3, 4].filter { $0 != spec.count })
            case .swappedPosition:
                wrong.relation = spec.relation?.inverse
            default:  // .swappedColors
                wrong.objects[0].color = spec.objects[1].color
                wrong.objects[1].color = spec.objects[0].color
            }
            if wrong != spec && !ShapesEval.isHeldOut(wrong) { return (kind, wrong) }
        }
        return nil
    }

    // MARK: - Scenes

    /// A scene that makes `spec` true: its objects, non-overlapping, with the stated relation holding by
    /// GenEval's own test (and no other relation, so a position caption is never ambiguous).
    static func scene(for spec: ShapesPromptSpec, size: Int, rng: inout SplitMix64) -> ShapesScene {
        let scale = Float(size) / 32
        let gray = rng.uniformFloat(0.22, 0.72)
        let background = ShapesBackground(
            rgb: (0..<3).map { _ in gray + rng.uniformFloat(-0.03, 0.03) },
            rampX: rng.uniformFloat(-0.08, 0.08), rampY: rng.uniformFloat(-0.08, 0.08),
            grain: rng.chance(0.5) ? rng.uniformFloat(0, 0.012) : 0, grainSeed: rng.next())

        var specs: [ObjectSpec]
        var sizeRange: ClosedRange<Float>
        switch spec.category {
        case .singleObject, .colors: specs = [spec.objects[0]]; sizeRange = 10...16
        case .counting: specs = Array(repeating: spec.objects[0], count: spec.count); sizeRange = spec.count == 2 ? 9...12 : 8...10
        default: specs = Array(spec.objects.prefix(2)); sizeRange = 8...13
        }
        // Unspecified colours are drawn at random; a counting caption's objects share one colour.
        let sharedColor = rng.pick(ShapeColor.allCases)
        let colors = specs.map { $0.color ?? (spec.category == .counting ? sharedColor : rng.pick(ShapeColor.allCases)) }
        var sizes = specs.map { _ in rng.uniformFloat(sizeRange.lowerBound, sizeRange.upperBound).rounded() * scale }

        var objects: [ShapesObject] = []
        // Rejection sampling; when crowded, shrink and retry. After 20 rounds (only for images far below 32 px)
        // the last attempt is kept even if objects touch, rather than looping forever.
        placement: for _ in 0..<20 {
            for _ in 0..<60 {
                objects = zip(specs, zip(colors, sizes)).map { spec, cs in
                    let half = cs.1 / 2 + scale
                    let nominal = cs.0.rgb
                    let rgb = [nominal.0, nominal.1, nominal.2].map { min(max($0 + rng.uniformFloat(-0.04, 0.04), 0), 1) }
                    return ShapesObject(shape: spec.shape, color: cs.0, rgb: rgb,
                                        centerX: rng.uniformFloat(half, Float(size) - half),
                                        centerY: rng.uniformFloat(half, Float(size) - half), size: cs.1)
                }
                if isValid(objects, relation: spec.category == .position ? spec.relation : nil, minGap: 3 * scale) {
                    break placement
                }
            }
            sizes = sizes.map { max($0 - scale, 6 * scale) }
        }
        return ShapesScene(size: size, background: background, objects: objects)
    }

    static func isValid(_ objects: [ShapesObject], relation: SpatialRelation?, minGap: Float) -> Bool {
        for i in objects.indices {
            for j in objects.indices where j > i && objects[i].box.gap(to: objects[j].box) < minGap { return false }
        }
        if let relation, objects.count == 2 {
            return SpatialRelation.relations(objects[0].box, objects[1].box) == [relation]
        }
        return true
    }

    /// Adds 0–2 small distractor shapes and 0–2 strokes (at least one item) in random palette colours.
    static func addClutter(to scene: inout ShapesScene, rng: inout SplitMix64) -> ShapesDegradation {
        let scale = Float(scene.size) / 32, extent = Float(scene.size)
        var shapes = rng.int(in: 0...2), strokes = rng.int(in: 0...2)
        if shapes + strokes == 0 { if rng.chance(0.5) { shapes = 1 } else { strokes = 1 } }
        var placed = 0
        for _ in 0..<shapes {
            let s = rng.uniformFloat(4, 6).rounded() * scale
            let color = rng.pick(ShapeColor.allCases)
            let nominal = color.rgb
            for _ in 0..<20 {
                let d = ShapesObject(shape: rng.pick(ShapeKind.allCases), color: color, rgb: [nominal.0, nominal.1, nominal.2],
                                     centerX: rng.uniformFloat(s / 2, extent - s / 2),
                                     centerY: rng.uniformFloat(s / 2, extent - s / 2), size: s)
                if (scene.objects + scene.distractors).allSatisfy({ $0.box.gap(to: d.box) >= scale }) {
                    scene.distractors.append(d)
                    placed += 1
                    break
                }
            }
        }
        for _ in 0..<strokes {
            let nominal = rng.pick(ShapeColor.allCases).rgb
            let x0 = rng.uniformFloat(0, extent), y0 = rng.uniformFloat(0, extent)
            // A direction from a uniform point in the square (only sqrt, which IEEE rounds exactly everywhere).
            var (dx, dy) = (rng.uniformFloat(-1, 1), rng.uniformFloat(-1, 1))
            let norm = max((dx * dx + dy * dy).squareRoot(), 0.05)
            (dx, dy) = (dx / norm, dy / norm)
            let length = rng.uniformFloat(8, 20) * scale
            scene.strokes.append(ShapesStroke(x0: x0, y0: y0, x1: x0 + length * dx, y1: y0 + length * dy,
                                              rgb: [nominal.0, nominal.1, nominal.2]))
        }
        return .clutter(shapes: placed, strokes: strokes)
    }
}
