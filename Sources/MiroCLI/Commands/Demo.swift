import ArgumentParser
import Foundation
import Logging
import MiroData
import MiroEngine
import MiroEval
import MiroImage
import MiroModels
import MiroPipeline
import MiroShapes
import MiroTraining

/// `miro demo`: the whole method on the built-in Shapes world within a time budget — generate,
/// annotate, bin, train the tiny model, then sample grids, ShapesEval and a reward-target sweep.
///
/// The budget is spent where it shows: the demo times its first training steps and the sampler, plans how
/// many steps fit once the evaluation is paid for (`StepBudget`), and trains exactly that many with the
/// learning-rate schedule for that count — so `--steps N` with the printed N trains the same weights.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run MIRO end to end on the built-in Shapes world (default budget: 10 minutes on a 2-core CPU).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Total time budget in minutes: training gets what the evaluation does not need.") var minutes = 10.0
    @Option(help: "Output directory.") var out = "runs/demo"
    @Option(help: "Training seed.") var seed: UInt64 = 3407
    @Option(help: "Training steps; given, they are all trained and the budget only sizes the evaluation (default: as many as fit).")
    var steps: Int?
    @Option(help: "Batch size.") var batchSize = 32
    @Option(help: "Evaluation size: \(DemoEvaluation.tierNames.joined(separator: ", ")) (default: the largest that fits the budget).")
    var evalSize: String?
    @OptionGroup var evaluation: EvalOptions

    /// Steps timed before planning; the planned count is never below `warmup` (see `run`).
    static let timedSteps = 75, warmup = 100

    func validate() throws {
        try FlagCheck.range(minutes, 2...10_080, "--minutes")  // at least 2: training needs time; at most a week
        try FlagCheck.range(steps, 1...TrainingOptions.maxSteps, "--steps")
        try FlagCheck.range(batchSize, 1...TrainingOptions.maxBatchSize, "--batch-size")
        if let evalSize, !DemoEvaluation.tierNames.contains(evalSize) {
            throw ValidationError("--eval-size must be one of \(DemoEvaluation.tierNames.joined(separator: ", ")) (got '\(evalSize)')")
        }
        try PathCheck.writable(out, "--out", as: .directory)
    }

    func run() throws {
        let logger = global.makeLogger("miro.demo")
        Engine.useDefaultThreads()
        let start = Date()
        let budget = minutes * 60
        func elapsed() -> Double { Date().timeIntervalSince(start) }
        // A fresh directory each time: an earlier demo's results are never overwritten.
        let outDir = try OutputFiles.freshDirectory(URL(fileURLWithPath: out))
        var config = RunConfig()
        // A planned run starts with a provisional target and is retargeted after the timed steps. Its warm-up is
        // fixed at `warmup` steps and the plan never goes below them, so no step runs at a rate that depends on
        // the target before retargeting: `--steps N` (warm-up min(100, N), as `train`) trains the same weights.
        config.train.steps = steps ?? TrainConfig.maximumSteps
        config.train.warmupSteps = min(Self.warmup, config.train.steps)
        config.train.batchSize = batchSize
        config.train.learningRate = 2e-3
        config.train.emaDecay = 0.995
        config.train.seed = seed
        config.train.sampleEvery = 0
        config.train.saveEvery = 500
        config.train.logEvery = 25
        config.network = try RunConfig.preset("tiny", rewardKeys: ShapesRewards.keys, labelDim: config.textEncoder.width)
        logger.info("demo: budget \(minutes) min, seed \(seed), output \(outDir.path) | \(Trainer.engineSummary())")

        // 1–3. data, annotation, bins
        let trainer = try TrainingSession.start(config: config, run: outDir, resume: false, logger: logger)
        let trainingSet = trainer.data as? ShapesTrainingSet
        let settings = evaluation.settings()
        let rewards = trainer.config.network.coherenceKeys.count
        let tiers = DemoEvaluation.tiers(perPrompt: evaluation.perPrompt).filter { evalSize == nil || $0.name == evalSize }
        var rates: DemoEvaluation.Rates? = nil
        func cost(_ tier: DemoEvaluation) -> Double {
            rates.map { tier.predictedSeconds($0, eulerSteps: settings.steps, rewards: rewards) } ?? 0
        }

        // 4. training: timed steps, the plan, the rest (or exactly --steps)
        var stepsChosenBy = "given with --steps"
        var tierIndex = 0
        var target = trainer.config.train.steps
        var stop = TrainingSession.Stop.finished
        if steps == nil {
            stop = try TrainingSession.loop(trainer, minutes: nil, pauseAt: 5, logger: logger, exitOnSignal: false)
            let t0 = Date()
            if stop == .paused { stop = try TrainingSession.loop(trainer, minutes: nil, pauseAt: Self.timedSteps, logger: logger, exitOnSignal: false) }
            if stop == .paused {
                // The first steps are slower (allocations): the rate comes from the ones after them.
                let perStep = Date().timeIntervalSince(t0) / Double(Self.timedSteps - 5)
                rates = try DemoEvaluation.measureRates(try ShapesPipeline(model: try trainer.emaModel(), config: trainer.config,
                                                                           step: trainer.step), settings: settings)
                let plan = try StepBudget(budget: budget, elapsed: elapsed(), stepsDone: trainer.step, secondsPerStep: perStep,
                                          tierSeconds: tiers.map(cost), minimumSteps: Self.warmup).plan()
                tierIndex = plan.tier
                target = plan.steps
                stepsChosenBy = String(format: "planned to fit the budget (%.3f s per step over steps 6-%d, evaluation '%@' "
                                       + "predicted %.0f s)", perStep, Self.timedSteps, tiers[tierIndex].name, cost(tiers[tierIndex]))
                let line = "plan: \(plan.steps) steps, evaluation '\(tiers[tierIndex].name)', predicted "
                    + "\(DemoReport.duration(plan.predictedSeconds)) of \(DemoReport.duration(budget)) (\(String(format: "%.3f", perStep)) s/step; "
                    + "evaluations: " + tiers.map { "\($0.name) \(Int(cost($0).rounded())) s" }.joined(separator: ", ") + ")"
                logger.info("\(line)")
                if plan.overBudget {
                    let warning = "the budget is too small for \(Self.warmup) steps and the smallest evaluation: "
                        + "expect about \(DemoReport.duration(plan.predictedSeconds)); give more --minutes"
                    logger.warning("\(warning)")
                }
                try trainer.retarget(steps: plan.steps)
                // The plan has a margin; this stop only guards against a CPU that gets much busier mid-run.
                let left = max(budget - elapsed() - cost(tiers[tierIndex]) - 5, 0) / 60
                stop = try TrainingSession.loop(trainer, minutes: plan.overBudget ? nil : left, logger: logger, exitOnSignal: false)
            }
        } else {
            stop = try TrainingSession.loop(trainer, minutes: nil, logger: logger, exitOnSignal: false)
        }

        // 5–8. grids, sheets, plots, ShapesEval, sweeps, probe; the tier still has to fit what is left
        let pipeline = try ShapesPipeline(model: try trainer.emaModel(), config: trainer.config, step: trainer.step)
        if evalSize == nil {
            if rates == nil { rates = try DemoEvaluation.measureRates(pipeline, settings: settings) }
            let left = budget - elapsed()
            let fitting = tiers.firstIndex { cost($0) <= left } ?? tiers.count - 1
            // A planned run only steps down (training ran slower than timed); a --steps run takes what fits.
            if fitting > tierIndex {
                logger.info("evaluation '\(tiers[fitting].name)' instead of '\(tiers[tierIndex].name)': \(DemoReport.duration(left)) left")
            }
            if fitting > tierIndex || steps != nil { tierIndex = fitting }
        }
        let tier = tiers[tierIndex]
        logger.info("evaluation '\(tier.name)': ShapesEval \(tier.perPrompt) per prompt, sweeps \(tier.sweepImages) images per target")
        let outputs = try DemoOutputs.write(pipeline, settings: settings, tier: tier, trainingSet: trainingSet, run: outDir,
                                            logger: logger)
        let report = DemoReport(
            steps: trainer.step, targetSteps: stop == .finished || trainer.step == target ? nil : target, seed: seed,
            batchSize: batchSize, seconds: elapsed(), budgetMinutes: minutes, stepsChosenBy: stepsChosenBy,
            evaluation: tier.name, directory: outDir.path, files: outputs.files, tables: outputs.tables(settings: settings))
        try PNG.writeAtomically(Data((report.text() + "\n").utf8), to: outDir.appendingPathComponent("summary.txt"))
        print(report.text())
    }
}
