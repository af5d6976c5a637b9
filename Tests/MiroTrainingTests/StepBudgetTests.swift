import Foundation
import Testing
import MiroTestSupport
import MiroEngine
import MiroIO
import MiroShapes
import MiroTraining

@Suite struct StepBudgetTests {
    /// 600 s, 30 s spent on 75 steps, 0.25 s/step: 4 % margin leaves 576 s; the full evaluation (150 s) is within
    /// 30 % of the budget, so 576 − 30 − 150 = 396 s of training = 1584 more steps.
    @Test func plansTheStepsThatFitAfterTheEvaluation() throws {
        let plan = try StepBudget(budget: 600, elapsed: 30, stepsDone: 75, secondsPerStep: 0.25,
                                  tierSeconds: [150, 80, 40, 15], minimumSteps: 100).plan()
        #expect(plan == StepBudget.Plan(steps: 75 + 1584, tier: 0, predictedSeconds: 576, overBudget: false))
    }

    /// 180 s: the full (150 s) and reduced (80 s) evaluations exceed 30 % of it (54 s), the small one (40 s) does
    /// not: 172.8 − 30 − 40 = 102.8 s → 411 more steps.
    @Test func shortBudgetsShrinkTheEvaluationFirst() throws {
        let plan = try StepBudget(budget: 180, elapsed: 30, stepsDone: 75, secondsPerStep: 0.25,
                                  tierSeconds: [150, 80, 40, 15], minimumSteps: 100).plan()
        #expect(plan.tier == 2 && plan.steps == 75 + 411 && !plan.overBudget, "\(plan)")
        #expect(plan.predictedSeconds <= 180)
    }

    /// A tier within the share that would leave fewer than the minimum steps gives way to a smaller one.
    @Test func theMinimumStepsWinOverALargerEvaluation() throws {
        let plan = try StepBudget(budget: 200, elapsed: 100, stepsDone: 75, secondsPerStep: 1,
                                  tierSeconds: [60, 30], minimumSteps: 100, maxEvaluationShare: 0.5).plan()
        // Tier 0: 192 − 100 − 60 = 32 s → 107 steps ≥ 100, kept.
        #expect(plan.tier == 0 && plan.steps == 107, "\(plan)")
        let tighter = try StepBudget(budget: 200, elapsed: 110, stepsDone: 75, secondsPerStep: 1,
                                     tierSeconds: [60, 30], minimumSteps: 100, maxEvaluationShare: 0.5).plan()
        // Tier 0 leaves 22 s → 97 < 100; tier 1 leaves 52 s → 127.
        #expect(tighter.tier == 1 && tighter.steps == 127, "\(tighter)")
    }

    /// When nothing fits, the plan is the minimum with the smallest evaluation, flagged as over budget.
    @Test func aBudgetTooSmallGivesTheMinimumFlagged() throws {
        let plan = try StepBudget(budget: 60, elapsed: 50, stepsDone: 75, secondsPerStep: 0.5,
                                  tierSeconds: [150, 15], minimumSteps: 100).plan()
        #expect(plan.steps == 100 && plan.tier == 1 && plan.overBudget, "\(plan)")
        #expect(plan.predictedSeconds == 77.5)   // 50 s spent + 25 more steps × 0.5 s + 15 s of evaluation
        // Already past the minimum: the steps done stand, nothing is added.
        let past = try StepBudget(budget: 60, elapsed: 70, stepsDone: 300, secondsPerStep: 0.5,
                                  tierSeconds: [10], minimumSteps: 100).plan()
        #expect(past.steps == 300 && past.overBudget)
    }

    @Test func nonsenseInputsAreClearErrorsAndHugeOnesDoNotTrap() throws {
        let good = StepBudget(budget: 600, elapsed: 10, stepsDone: 0, secondsPerStep: 0.1, tierSeconds: [10], minimumSteps: 0)
        var broken: [StepBudget] = []
        for edit in [{ (b: inout StepBudget) in b.secondsPerStep = 0 }, { $0.secondsPerStep = .nan }, { $0.budget = .infinity },
                     { $0.elapsed = -1 }, { $0.tierSeconds = [] }, { $0.tierSeconds = [.nan] }, { $0.stepsDone = -5 }] {
            var b = good
            edit(&b)
            broken.append(b)
        }
        for b in broken {
            #expect(throws: TrainingError.self) { try b.plan() }
        }
        var fast = good
        fast.secondsPerStep = 1e-300
        #expect(try fast.plan().steps == StepBudget.maximumSteps)
    }
}

/// Retargeting a paused run during warm-up trains the same weights as a run started with the final target.
@Suite(.serialized) struct RetargetTests {
    let data: ShapesTrainingSet

    init() throws {
        data = try ShapesTrainingSet(count: 64, seed: 5, encoder: ShapesTextEncoder(), logger: quietLogger)
    }

    @Test func aRetargetedRunEqualsOneStartedWithItsTarget() throws {
        let dirA = try tempDir(), dirB = try tempDir()
        defer { try? FileManager.default.removeItem(at: dirA); try? FileManager.default.removeItem(at: dirB) }
        let a = try Trainer(runDirectory: dirA, config: microConfig(steps: 6), data: data, resume: false, logger: quietLogger)
        try a.train()
        // B: a provisional target of 1000, paused at step 3 (warm-up is 2 steps; step 2 runs at the base rate
        // whatever the target), retargeted to 6.
        let b = try Trainer(runDirectory: dirB, config: microConfig(steps: 1000), data: data, resume: false, logger: quietLogger)
        try b.train(pauseAt: 3)
        #expect(b.step == 3)
        #expect(Checkpoint.list(in: b.checkpointDirectory).isEmpty, "a pause writes no checkpoint")
        try b.retarget(steps: 6)
        #expect(b.schedule == a.schedule && b.config == a.config)
        try b.train()
        #expect(b.step == 6 && Checkpoint.list(in: b.checkpointDirectory).map(\.step) == [6])
        for ((name, x), (_, y)) in zip(a.model.stateDict(), b.model.stateDict()) {
            #expect(try x.bytes() == y.bytes(), "\(name) differs between a planned and a direct run")
        }
        for (s, t) in zip(a.ema.shadow, b.ema.shadow) { #expect(try s.tensor.bytes() == t.tensor.bytes(), "EMA \(s.name)") }
        let stored = try String(contentsOf: dirB.appendingPathComponent("run.json"), encoding: .utf8)
        #expect(stored == (try a.config.json()), "run.json holds the retargeted configuration")
    }

    @Test func retargetingAfterTheDecayStartedIsRefused() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try Trainer(runDirectory: dir, config: microConfig(steps: 1000), data: data, resume: false, logger: quietLogger)
        try t.train(pauseAt: 4)
        // Step 3 ran on the cosine for 1000 steps; for 6 it would have been lower.
        #expect(throws: TrainingError.self) { try t.retarget(steps: 6) }
        #expect(throws: TrainingError.self) { try t.retarget(steps: 2) }   // below the current step
        #expect(t.config.train.steps == 1000)
        try t.retarget(steps: 1000)   // the same target changes nothing and is allowed
    }
}
