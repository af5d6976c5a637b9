import Foundation
import Logging
import MiroImage
import MiroPipeline
import MiroShapes
import MiroTraining

/// The work `miro demo` does after training, in sizes the step budget chooses from ("tiers"), its cost
/// model, and the run that writes every output file.
///
/// The sweeps dominate the cost (4 rewards × 3 targets × images × 2 negative branches), so smaller tiers
/// shrink them first, then ShapesEval's images per prompt; the sample grid and the training sheet are always
/// made — they are what a newcomer looks at first, and they are cheap.
public struct DemoEvaluation: Sendable, Equatable {
    public var name: String
    /// ShapesEval images per prompt.
    public var perPrompt: Int
    /// Images per target of each reward-target sweep.
    public var sweepImages: Int
    /// Whether the second sweep (per-reward isolation) runs.
    public var isolatedSweep: Bool
    /// Images of the conditioning-use probe; 0 skips it.
    public var probeImages: Int

    public init(name: String, perPrompt: Int, sweepImages: Int, isolatedSweep: Bool, probeImages: Int) {
        self.name = name
        self.perPrompt = perPrompt
        self.sweepImages = sweepImages
        self.isolatedSweep = isolatedSweep
        self.probeImages = probeImages
    }

    /// The tiers, most complete first; `perPrompt` is the full tier's ShapesEval size (`--per-prompt`).
    public static func tiers(perPrompt: Int = 4) -> [DemoEvaluation] {
        let prompts = ShapesEval.prompts().count   // one sweep image per held-out prompt in the full tier
        return [
            DemoEvaluation(name: "full", perPrompt: perPrompt, sweepImages: prompts, isolatedSweep: true, probeImages: 64),
            DemoEvaluation(name: "reduced", perPrompt: min(perPrompt, 2), sweepImages: max(prompts / 2, 1), isolatedSweep: true,
                           probeImages: 64),
            DemoEvaluation(name: "small", perPrompt: 1, sweepImages: max(prompts / 3, 1), isolatedSweep: true, probeImages: 32),
            DemoEvaluation(name: "minimal", perPrompt: 1, sweepImages: 8, isolatedSweep: false, probeImages: 0),
        ]
    }

    public static var tierNames: [String] { tiers().map(\.name) }

    /// Measured speeds the cost model scales.
    public struct Rates: Sendable, Equatable {
        /// Seconds to sample one image for one Euler step with the demo's guidance (CFG doubles the batch).
        public var secondsPerImageStep: Double
        /// Seconds each sampler call costs besides its steps (encoding the prompts, the condition tokens, noise).
        public var secondsPerCall: Double
        /// Seconds to score one image with every Shapes reward.
        public var secondsPerScoredImage: Double

        public init(secondsPerImageStep: Double, secondsPerCall: Double = 0, secondsPerScoredImage: Double) {
            self.secondsPerImageStep = secondsPerImageStep
            self.secondsPerCall = secondsPerCall
            self.secondsPerScoredImage = secondsPerScoredImage
        }
    }

    /// Times the sampler at 1 and at 3 Euler steps on one evaluation-sized batch (64 images), so the per-step
    /// cost is told apart from each call's fixed cost (a 2-step timing alone overstated a 20-step evaluation by
    /// a third), and the rewards on those images: a few seconds.
    public static func measureRates(_ pipeline: ShapesPipeline, settings: ShapesPipeline.Settings) throws -> Rates {
        let prompts = ShapesEval.prompts().map(\.prompt)
        let texts = (0..<64).map { prompts[$0 % prompts.count] }
        var s = settings
        s.rewardTargets = [:]
        func timed(steps: Int) throws -> (Double, [RGBImage]) {
            s.steps = steps
            let t0 = Date()
            let images = try pipeline.generate(texts, settings: s, batch: 64)
            return (Date().timeIntervalSince(t0), images)
        }
        let (one, _) = try timed(steps: 1)
        let (three, images) = try timed(steps: 3)
        let t0 = Date()
        _ = try ShapesRewards.score(images: images, captions: texts)
        let scoring = Date().timeIntervalSince(t0)
        // Timing noise can make the difference tiny or negative: never price a step below a third of the 3-step mean.
        let perStep = max((three - one) / 2, three / 9) / Double(texts.count)
        return Rates(secondsPerImageStep: perStep, secondsPerCall: max(one - perStep * Double(texts.count), 0),
                     secondsPerScoredImage: scoring / Double(texts.count))
    }

    /// Images each part samples (grid, ShapesEval, sweeps) for `rewards` rewards.
    public func sampledImages(rewards: Int) -> (grid: Int, eval: Int, sweeps: Int) {
        let grid = SampleGrid.prompts.count * (2 + rewards)
        let eval = ShapesEval.prompts().count * perPrompt
        let sweeps = rewards * 3 * sweepImages * (isolatedSweep ? 2 : 1)
        return (grid, eval, sweeps)
    }

    /// Sampler calls of each part: one per grid row, one per 64 ShapesEval images, one per 64 images of each
    /// (reward, target, negative branch).
    public func samplerCalls(rewards: Int) -> Int {
        let evalImages = ShapesEval.prompts().count * perPrompt
        return (2 + rewards) + (evalImages + 63) / 64 + rewards * 3 * (isolatedSweep ? 2 : 1) * ((sweepImages + 63) / 64)
    }

    /// Predicted seconds of this tier: sampling and scoring its images, the probe (1024 fresh samples scored
    /// for its bins, 4 noise levels × one pass per input plus its own, unguided), and a few seconds of files.
    public func predictedSeconds(_ rates: Rates, eulerSteps: Int, rewards: Int) -> Double {
        let n = sampledImages(rewards: rewards)
        let sampled = Double(n.grid + n.eval + n.sweeps)
        var seconds = sampled * Double(eulerSteps) * rates.secondsPerImageStep
        seconds += Double(samplerCalls(rewards: rewards)) * rates.secondsPerCall
        // ShapesEval scores every reward; a sweep only the swept one (half the full cost, to stay on the safe side).
        seconds += (Double(n.eval) + 0.5 * Double(n.sweeps)) * rates.secondsPerScoredImage
        if probeImages > 0 {
            seconds += 2 * 1024 * rates.secondsPerScoredImage
            seconds += Double(4 * (2 + rewards) * probeImages) * 0.5 * rates.secondsPerImageStep
        }
        return (seconds + 5) * Self.underestimate
    }

    /// What the timed rates miss: they come from a few warm batches, while the real run samples larger batches,
    /// writes PNGs and plots, and shares the CPU with whatever else runs. Measured on the 2-core box: the full
    /// tier was predicted at 108 s and took 127 s (×1.18); ×1.15 with the plan's own 4 % margin covers that.
    public static let underestimate = 1.15
}
