import Testing
import MiroData
import MiroImage
import MiroRewards
import MiroShapes

/// Each reward must move the right way on the degradation it is meant to see. Pairs share index and seed, so
/// a degraded sample shows the same scene and caption as its clean twin (degradations draw from their own stream).
@Suite("Programmatic rewards")
struct RewardTests {
    static let n = 150

    static func pairs(_ change: (inout ShapesWorld.Configuration) -> Void) -> (clean: [ShapesSample], degraded: [ShapesSample]) {
        (ShapesWorld.dataset(count: n, seed: 31, configuration: .clean),
         ShapesWorld.dataset(count: n, seed: 31, configuration: .only(change)))
    }

    static func scores(_ reward: any RewardModel, _ samples: [ShapesSample]) throws -> [Float] {
        try reward.score(images: samples.map(\.image), captions: samples.map(\.caption))
    }

    @Test("names and fixed order of the Shapes world's coherence keys")
    func keys() {
        #expect(ShapesRewards.keys == ["alignment_score", "quality_score", "colorfulness_score", "compressibility_score"])
        #expect(ShapesRewards.all.map(\.name) == ShapesRewards.keys)
    }

    @Test("a degraded twin shows the same scene under the same caption")
    func twins() {
        let (clean, blurred) = Self.pairs { $0.blurProbability = 1 }
        #expect(zip(clean, blurred).allSatisfy { $0.scene == $1.scene && $0.caption == $1.caption && $0.image != $1.image })
    }

    @Test("blur lowers quality")
    func blurLowersQuality() throws {
        let (clean, degraded) = Self.pairs { $0.blurProbability = 1 }
        let a = try Self.scores(QualityReward(), clean), b = try Self.scores(QualityReward(), degraded)
        #expect(Stats.winRate(a, b) > 0.95)
        #expect(Stats.mean(a) - Stats.mean(b) > 0.3)
    }

    @Test("noise lowers quality and compressibility")
    func noiseLowersQuality() throws {
        let (clean, degraded) = Self.pairs { $0.noiseProbability = 1 }
        let qa = try Self.scores(QualityReward(), clean), qb = try Self.scores(QualityReward(), degraded)
        #expect(Stats.winRate(qa, qb) > 0.95)
        let ca = try Self.scores(CompressibilityReward(), clean), cb = try Self.scores(CompressibilityReward(), degraded)
        #expect(Stats.winRate(ca, cb) > 0.95)
    }

    @Test("noise leaves colourfulness alone: it is mostly luma, as after JPEG's chroma subsampling")
    func noiseIsNotColour() throws {
        let (clean, degraded) = Self.pairs { $0.noiseProbability = 1 }
        let a = try Self.scores(ColorfulnessReward(), clean), b = try Self.scores(ColorfulnessReward(), degraded)
        #expect(abs(Stats.mean(a) - Stats.mean(b)) < 0.02)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 0.05 })
    }

    @Test("clutter buys no quality: sharpness saturates on clean renders")
    func clutterIsNotQuality() throws {
        let (clean, degraded) = Self.pairs { $0.clutterProbability = 1 }
        let a = try Self.scores(QualityReward(), clean), b = try Self.scores(QualityReward(), degraded)
        #expect(Stats.mean(b) - Stats.mean(a) < 0.03)
        #expect(Stats.mean(a) > 0.85)
    }

    @Test("the quality score is the product of its three factors; pixelation shows in the blockiness factor")
    func qualityFactors() throws {
        let (clean, degraded) = Self.pairs { $0.pixelatedProbability = 1 }
        for sample in clean.prefix(20) + degraded.prefix(20) {
            let f = QualityReward.factors(sample.image)
            #expect(abs(f.sharpness * f.noise * f.blockiness - QualityReward().score(sample.image)) < 1e-6)
            #expect([f.sharpness, f.noise, f.blockiness].allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        let blockiness = { (s: [ShapesSample]) in Stats.mean(s.map { QualityReward.factors($0.image).blockiness }) }
        #expect(blockiness(clean) > 0.95 && blockiness(degraded) < 0.5)
    }

    /// Web-data rewards mostly agree (the paper's premise for conditioning on all of them at once); a Shapes
    /// world where one defect is the best way to raise one reward would make "every reward at 1" contradictory.
    @Test("no two rewards are strongly anti-correlated on the standard mix")
    func correlations() throws {
        let data = ShapesWorld.dataset(count: 1200, seed: 23)
        let scores = try ShapesRewards.score(images: data.map(\.image), captions: data.map(\.caption))
        let correlation = RewardCorrelation(scores: scores, keys: ShapesRewards.keys)
        let worst = try #require(correlation.mostNegative)
        #expect(worst.r > -0.2, "\(correlation.summary)")
        // The matrix itself: symmetric with a unit diagonal.
        for i in 0..<4 {
            #expect(abs(correlation.matrix[i][i] - 1) < 1e-9)
            for j in 0..<4 { #expect(abs(correlation.matrix[i][j] - correlation.matrix[j][i]) < 1e-12) }
        }
        #expect(RewardCorrelation(scores: ["a": [1, 2, 3], "b": [3, 2, 1]], keys: ["a", "b"]).matrix[0][1] == -1)
    }

    @Test("pixelation lowers quality and raises compressibility")
    func pixelation() throws {
        let (clean, degraded) = Self.pairs { $0.pixelatedProbability = 1 }
        #expect(Stats.winRate(try Self.scores(QualityReward(), clean), try Self.scores(QualityReward(), degraded)) > 0.9)
        #expect(Stats.winRate(try Self.scores(CompressibilityReward(), degraded), try Self.scores(CompressibilityReward(), clean)) > 0.9)
    }

    @Test("block artefacts lower quality")
    func blocky() throws {
        let (clean, degraded) = Self.pairs { $0.blockyProbability = 1 }
        #expect(Stats.mean(try Self.scores(QualityReward(), clean)) - Stats.mean(try Self.scores(QualityReward(), degraded)) > 0.1)
    }

    @Test("washing-out lowers colourfulness")
    func washedOut() throws {
        let (clean, degraded) = Self.pairs { $0.washedOutProbability = 1 }
        let a = try Self.scores(ColorfulnessReward(), clean), b = try Self.scores(ColorfulnessReward(), degraded)
        #expect(Stats.winRate(a, b) > 0.97)
        #expect(Stats.mean(a) - Stats.mean(b) > 0.15)
    }

    @Test("a wrong caption lowers alignment; clean pairs score near 1")
    func mismatch() throws {
        let (clean, degraded) = Self.pairs { $0.mismatchProbability = 1 }
        let a = try Self.scores(AlignmentReward(), clean), b = try Self.scores(AlignmentReward(), degraded)
        #expect(Stats.mean(a) > 0.95)
        let mismatched = zip(a, b).enumerated().filter { degraded[$0.offset].spec != clean[$0.offset].spec }
        #expect(mismatched.count > Self.n * 9 / 10)
        #expect(mismatched.allSatisfy { $0.element.0 > $0.element.1 + 0.2 })
        #expect(Stats.mean(b) < 0.6)
    }

    @Test("alignment gives partial credit: swapped colours beat wrong everything")
    func partialCredit() {
        let scene = ShapesScene(size: 32, background: ShapesBackground(rgb: [0.45, 0.45, 0.45]), objects: [
            ShapesObject(shape: .square, color: .red, centerX: 8, centerY: 16, size: 10),
            ShapesObject(shape: .circle, color: .blue, centerX: 24, centerY: 16, size: 10),
        ])
        let image = scene.render(), reward = AlignmentReward()
        let right = reward.score(image, caption: "a red square to the left of a blue circle")
        let swapped = reward.score(image, caption: "a red square to the right of a blue circle")
        let binding = reward.score(image, caption: "a blue square and a red circle")
        let wrong = reward.score(image, caption: "a green triangle and a yellow diamond")
        #expect(right > 0.9)
        #expect(swapped < right - 0.2 && swapped > 0.5)
        #expect(binding > wrong && binding < 0.6)
        #expect(wrong == 0)
        #expect(reward.score(image, caption: "a cat") == 0)
        #expect(reward.score(image, caption: "two squares") < reward.score(image, caption: "a square"))
    }

    @Test("colourfulness follows Hasler & Süsstrunk on hand-computed images")
    func colorfulnessFormula() {
        #expect(ColorfulnessReward.colorfulness(RGBImage(width: 4, height: 4, fill: (0.5, 0.5, 0.5))) == 0)
        // Pure red: rg = 255, yb = 127.5 everywhere, σ = 0, C = 0.3·√(255² + 127.5²) ≈ 85.53.
        let red = ColorfulnessReward.colorfulness(RGBImage(width: 4, height: 4, fill: (1, 0, 0)))
        #expect(abs(red - 0.3 * (255.0 * 255 + 127.5 * 127.5).squareRoot()) < 0.01)
        // Half red, half green: μ_rg = 0, σ_rg = 255, yb = 127.5 both, so C = 255 + 0.3·127.5.
        var pixels: [Float] = []
        for i in 0..<16 { pixels += i % 2 == 0 ? [1, 0, 0] : [0, 1, 0] }
        let mixed = ColorfulnessReward.colorfulness(RGBImage(width: 4, height: 4, pixels: pixels))
        #expect(abs(mixed - (255 + 0.3 * 127.5)) < 0.01)
        #expect(abs(ColorfulnessReward().score(RGBImage(width: 2, height: 2, fill: (1, 0, 0))) - red / (red + 45)) < 1e-6)
    }

    @Test("compressibility: flat ≫ structured ≫ noise")
    func compressibilityOrder() {
        var rng = SplitMix64(seed: 4)
        let flat = RGBImage(width: 32, height: 32, fill: (0.3, 0.6, 0.2))
        let noise = RGBImage(width: 32, height: 32, pixels: (0..<3072).map { _ in Float(rng.uniform()) })
        let shapes = ShapesWorld.dataset(count: 1, seed: 2, configuration: .clean)[0].image
        let reward = CompressibilityReward()
        #expect(reward.score(flat) > 0.8)
        #expect(reward.score(noise) < 0.3)
        #expect(reward.score(flat) > reward.score(shapes) && reward.score(shapes) > reward.score(noise))
        #expect(CompressibilityReward.bitsPerPixel(noise) > 20 && CompressibilityReward.bitsPerPixel(noise) < 26)
    }

    @Test("all rewards stay in [0, 1] and are deterministic over a standard dataset")
    func ranges() throws {
        let data = ShapesWorld.dataset(count: 300, seed: 17)
        let images = data.map(\.image), captions = data.map(\.caption)
        let first = try ShapesRewards.score(images: images, captions: captions)
        let second = try ShapesRewards.score(images: images, captions: captions)
        for key in ShapesRewards.keys {
            let values = try #require(first[key])
            #expect(values.count == data.count)
            #expect(values.allSatisfy { $0 >= 0 && $0 <= 1 && $0.isFinite }, "\(key)")
            #expect(values == second[key], "\(key) not deterministic")
            let mean = Stats.mean(values)
            let spread = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
            #expect(spread > 0.08, "\(key) barely varies (σ = \(spread))")
        }
    }

    @Test("mismatched image and caption counts throw", arguments: ShapesRewards.keys)
    func countMismatch(key: String) {
        let reward = ShapesRewards.all.first { $0.name == key }!
        #expect(throws: RewardError.self) {
            try reward.score(images: [RGBImage(width: 4, height: 4)], captions: [])
        }
    }
}
