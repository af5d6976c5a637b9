import Foundation
import Testing
import MiroTestSupport
import MiroEval
import MiroImage
import MiroShapes
import MiroTraining

@Suite struct DemoReportTests {
    func report(files: [String], target: Int? = nil, evaluation: String = "full", batch: Int = 32) -> DemoReport {
        DemoReport(steps: 1400, targetSteps: target, seed: 3407, batchSize: batch, seconds: 545, budgetMinutes: 10,
                   stepsChosenBy: "planned to fit the budget", evaluation: evaluation, directory: "runs/demo",
                   files: files, tables: ["TABLE-A", "TABLE-B"])
    }

    @Test func theSummarySaysWhatRanHowToRerunItAndWhatToLookAt() {
        let text = report(files: ["samples/final.png", "plots/loss.png", "eval.json"]).text()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "MIRO demo on the Shapes world: 1400 training steps x batch 32, seed 3407, 9m 05s in total (budget 10 min)")
        #expect(text.contains("the same weights again: miro demo --steps 1400 --seed 3407\n"), "\(text)")
        #expect(text.contains("What to look at (in runs/demo):"))
        // Exactly the files written are explained, in reading order, each with its sentence.
        let guide = lines.filter { $0.hasPrefix("  ") && !$0.hasPrefix("    ") }.map { $0.split(separator: " ").first.map(String.init) ?? "" }
        #expect(guide == ["samples/final.png", "plots/loss.png", "eval.json"], "\(guide)")
        #expect(text.contains("'all rewards high' with 'all rewards low'"))
        #expect(!text.contains("reward_sweep_isolated.json"))
        #expect(text.hasSuffix("TABLE-A\n\nTABLE-B"))
    }

    @Test func theReproduceLineNamesNonDefaultsAndAnEarlyStop() {
        #expect(DemoReport.reproduceCommand(steps: 412, seed: 7, batchSize: 32, evaluation: "small")
                == "miro demo --steps 412 --seed 7 --eval-size small")
        #expect(DemoReport.reproduceCommand(steps: 9, seed: 1, batchSize: 8, evaluation: "full") == "miro demo --steps 9 --seed 1 --batch-size 8")
        let stopped = report(files: [], target: 1500).text()
        #expect(stopped.contains("training stopped at step 1400 of the planned 1500"))
        #expect(stopped.contains("miro demo --steps 1500 --seed 3407 (trains all 1500 steps)"), "\(stopped)")
        #expect(DemoReport.duration(59.6) == "1m 00s" && DemoReport.duration(7) == "7s" && DemoReport.duration(.nan) == "?")
    }

    /// Every file `DemoOutputs` can write has a description, and every tier's cost grows with its size.
    @Test func everyOutputIsDescribedAndTiersShrink() {
        let described = Set(DemoReport.descriptions.map(\.path))
        for path in ["samples/final.png", "samples/training_by_reward.png", "samples/shapeseval.png", "plots/loss.png",
                     "plots/reward_sweep.png", "eval.json", "reward_sweep.json", "reward_sweep_isolated.json", "metrics.jsonl",
                     "checkpoints/", "run.json"] {
            #expect(described.contains(path), "\(path) has no description")
        }
        let rates = DemoEvaluation.Rates(secondsPerImageStep: 0.003, secondsPerScoredImage: 0.001)
        let costs = DemoEvaluation.tiers().map { $0.predictedSeconds(rates, eulerSteps: 20, rewards: 4) }
        #expect(zip(costs, costs.dropFirst()).allSatisfy { $0 > $1 }, "\(costs)")
        // The full tier: 36 grid + 168 ShapesEval + 4 × 3 × 42 × 2 sweep images, 20 steps each.
        let full = DemoEvaluation.tiers()[0].sampledImages(rewards: 4)
        #expect(full.grid == 36 && full.eval == 168 && full.sweeps == 1008)
        // Calls: 6 grid rows, 3 ShapesEval batches, 4 rewards × 3 targets × 2 branches.
        #expect(DemoEvaluation.tiers()[0].samplerCalls(rewards: 4) == 6 + 3 + 24)
        let withCalls = DemoEvaluation.Rates(secondsPerImageStep: 0.003, secondsPerCall: 0.5, secondsPerScoredImage: 0.001)
        #expect(abs(DemoEvaluation.tiers()[0].predictedSeconds(withCalls, eulerSteps: 20, rewards: 4) - costs[0] - 33 * 0.5 * DemoEvaluation.underestimate) < 1e-9)
    }
}

@Suite struct TrainingSheetTests {
    /// Each third of the sorted scores gives its picks, evenly spaced inside it, in increasing score.
    @Test func picksComeFromEachThirdOfTheScores() {
        let scores: [String: [Float]] = ["r": (0..<30).map { Float(29 - $0) / 29 }]   // image i has rank 29 − i
        let rows = TrainingSheet.rows(scores: scores, keys: ["r", "missing"], perLevel: 2)
        #expect(rows.count == 3 && rows.map(\.level) == [0, 1, 2])
        // Ranks 0..<10: picks at 2 and 7 → images 27 and 22.
        #expect(rows[0].indices == [27, 22] && rows[2].indices == [7, 2], "\(rows.map(\.indices))")
        #expect(rows[0].range == 0...(Float(9) / 29))
        for row in rows { #expect(row.indices.map { scores["r"]![$0] } == row.indices.map { scores["r"]![$0] }.sorted()) }
        #expect(TrainingSheet.rows(scores: ["r": [1, 2]], keys: ["r"], perLevel: 2).isEmpty, "fewer than three images")
    }

    @Test func theSheetRendersEveryRewardBlock() throws {
        let set = try ShapesTrainingSet(count: 60, seed: 3, encoder: ShapesTextEncoder(), logger: quietLogger)
        let sheet = try TrainingSheet.render(set, perLevel: 2)
        // Four blocks of three rows of 128-pixel cells, stacked.
        #expect(sheet.height > 4 * 3 * 128)
        #expect(sheet.width > 2 * 128)
    }
}
