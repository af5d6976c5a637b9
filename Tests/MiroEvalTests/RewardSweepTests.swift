import Foundation
import Testing
import MiroTestSupport
import MiroData
import MiroEval
import MiroPipeline
import MiroShapes
import MiroTraining

@Suite struct RewardSweepTests {
    /// A rise smaller than two standard errors of the first-vs-last difference is reported as flat, not as
    /// following the target; without standard errors (sweeps written before they were kept) only the order counts.
    @Test func verdictSeparatesARealRiseFromNoise() throws {
        let sweep = RewardSweep(
            targets: [0, 0.5, 1],
            means: ["rises": [0.2, 0.5, 0.7], "flat": [0.1367, 0.1368, 0.1370], "falls": [0.28, 0.27, 0.26],
                    "constant": [0, 0, 0]],
            standardErrors: ["rises": [0.02, 0.02, 0.02], "flat": [0.01, 0.01, 0.01], "falls": [0.001, 0.001, 0.001],
                             "constant": [0, 0, 0]])
        #expect(sweep.verdict("rises") == "monotonic (rise 0.5000 > 2 s.e. 0.0566)", "\(sweep.verdict("rises"))")
        #expect(sweep.verdict("flat").hasPrefix("flat"), "\(sweep.verdict("flat"))")
        #expect(sweep.verdict("falls") == "not monotonic")
        #expect(sweep.verdict("constant").hasPrefix("flat"), "\(sweep.verdict("constant"))")
        #expect(sweep.verdict("missing") == "not monotonic")
        let table = sweep.table()
        #expect(table.contains("negative: all at 0") && table.contains("flat (rise 0.0003 ≤ 2 s.e. 0.0283)"), "\(table)")

        let old = #"{"targets": [0, 1], "means": {"q": [0.1, 0.1001], "c": [0.2, 0.2]}}"#
        let decoded = try JSONDecoder().decode(RewardSweep.self, from: Data(old.utf8))
        #expect(decoded.isolated == nil && decoded.standardErrors == nil && decoded.riseStandardErrors == nil)
        #expect(decoded.verdict("q") == "monotonic" && decoded.verdict("c") == "flat (no rise)")
    }

    /// Both ends of a sweep share prompts and noise, so the rise is judged by the per-image differences: a rise
    /// that is small next to the spread of the means (flat when the ends are taken as independent) but larger than
    /// the spread of the differences is real. `run` must record that paired s.e. for every reward.
    @Test func pairedStandardErrorJudgesTheRise() throws {
        let unpaired = RewardSweep(targets: [0, 1], means: ["q": [0.20, 0.22]], standardErrors: ["q": [0.02, 0.02]])
        #expect(unpaired.verdict("q").hasPrefix("flat"), "\(unpaired.verdict("q"))")
        var paired = unpaired
        paired.riseStandardErrors = ["q": 0.005]
        #expect(paired.verdict("q") == "monotonic (rise 0.0200 > 2 s.e. 0.0100)", "\(paired.verdict("q"))")
        paired.riseStandardErrors = ["q": 0.011]
        #expect(paired.verdict("q") == "flat (rise 0.0200 ≤ 2 s.e. 0.0220)", "\(paired.verdict("q"))")
        let roundTrip = try JSONDecoder().decode(RewardSweep.self, from: Data(try paired.json().utf8))
        #expect(roundTrip.riseStandardErrors == ["q": 0.011])
    }

    /// With isolation and the swept target at 0 both CFG branches carry the same rewards, so guidance cancels:
    /// the sweep must measure what the conditional model alone (guidance 0) gives — while the default negative
    /// (all rewards 0) at the same guidance measures something else, so the comparison can tell them apart.
    @Test func isolatedSweepAtTargetZeroIsTheUnguidedModel() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A few steps at a high rate, raw weights: at initialisation the output barely depends on the rewards.
        var config = microConfig(steps: 30)
        config.train.learningRate = 1e-2
        let data = try ShapesTrainingSet(count: 64, seed: 3, encoder: ShapesTextEncoder(), logger: quietLogger)
        let trainer = try Trainer(runDirectory: dir, config: config, data: data, resume: false, logger: quietLogger)
        try trainer.train()
        let pipeline = try ShapesPipeline(model: trainer.model, config: trainer.config, step: trainer.step)

        var settings = ShapesPipeline.Settings()
        settings.steps = 4
        settings.seed = 11
        settings.guidance = 3
        let isolated = try RewardSweep.run(pipeline, settings: settings, targets: [0], images: 6, isolated: true)
        let contrasted = try RewardSweep.run(pipeline, settings: settings, targets: [0], images: 6)
        settings.guidance = 0
        let unguided = try RewardSweep.run(pipeline, settings: settings, targets: [0], images: 6)
        #expect(isolated.isolated == true && unguided.isolated == nil)
        #expect(Set(isolated.means.keys) == Set(pipeline.rewardKeys))
        var largestContrast = 0.0, largestIsolatedGap = 0.0
        for key in pipeline.rewardKeys {
            let a = try #require(isolated.means[key]?.first), b = try #require(unguided.means[key]?.first)
            largestIsolatedGap = max(largestIsolatedGap, abs(a - b))
            largestContrast = max(largestContrast, abs(try #require(contrasted.means[key]?.first) - b))
            #expect(isolated.standardErrors?[key]?.count == 1)
            // One target: first and last are the same images, so the paired rise is exactly 0 with s.e. 0.
            #expect(isolated.riseStandardErrors?[key] == 0)
        }
        #expect(largestIsolatedGap < 1e-5, "isolated at target 0 vs unguided: \(largestIsolatedGap)")
        #expect(largestContrast > 1e-4, "guidance against all-0 negatives should change some reward: \(largestContrast)")
        #expect(isolated.table().contains("negative: others at 1, this one at 0"))
    }
}
