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
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run MIRO end to end on the built-in Shapes world (default budget: 10 minutes on a 2-core CPU).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Total time budget in minutes (training gets what evaluation does not need).") var minutes = 10.0
    @Option(help: "Output directory.") var out = "runs/demo"
    @Option(help: "Training seed.") var seed: UInt64 = 3407
    @Option(help: "Training steps (the cosine schedule spans them; the time budget may stop training earlier).") var steps = 1000
    @Option(help: "Batch size.") var batchSize = 32
    @OptionGroup var evaluation: EvalOptions

    func validate() throws {
        try FlagCheck.range(minutes, 2...10_080, "--minutes")  // at least 2: training needs time; at most a week
        try FlagCheck.range(steps, 1...TrainingOptions.maxSteps, "--steps")
        try FlagCheck.range(batchSize, 1...TrainingOptions.maxBatchSize, "--batch-size")
        try PathCheck.writable(out, "--out", as: .directory)
    }

    func run() throws {
        let logger = global.makeLogger("miro.demo")
        Engine.useDefaultThreads()
        let start = Date()
        // A fresh directory each time: an earlier demo's results are never overwritten.
        let outDir = try OutputFiles.freshDirectory(URL(fileURLWithPath: out))
        var config = RunConfig()
        config.train.steps = steps
        config.train.batchSize = batchSize
        config.train.learningRate = 2e-3
        config.train.warmupSteps = min(100, steps)  // as `train`'s default
        config.train.emaDecay = 0.995
        config.train.seed = seed
        config.train.sampleEvery = 0
        config.train.saveEvery = 500
        config.train.logEvery = 50
        config.network = try RunConfig.preset("tiny", rewardKeys: ShapesRewards.keys, labelDim: config.textEncoder.width)
        logger.info("demo: budget \(minutes) min, seed \(seed), output \(outDir.path)")

        // 1–3. data, annotation, bins; 4. training within the budget
        let trainer = try TrainingSession.start(config: config, run: outDir, resume: false, logger: logger)
        let reserve = min(3.0, minutes * 0.3)   // minutes kept for sampling and evaluation
        let trainMinutes = max(0.5, minutes - reserve - Date().timeIntervalSince(start) / 60)
        // Ctrl-C ends training early; the demo still samples and evaluates what it has.
        try TrainingSession.loop(trainer, minutes: trainMinutes, logger: logger, exitOnSignal: false)

        // 5. sample grid: all-high, all-low, each reward isolated
        let pipeline = try ShapesPipeline(model: try trainer.emaModel(), config: trainer.config, step: trainer.step)
        var settings = evaluation.settings()
        let gridURL = outDir.appendingPathComponent("samples/final.png")
        try SampleGrid.write(pipeline, settings: settings, to: gridURL)
        logger.info("sample grid \(gridURL.path)")

        // 6. ShapesEval with every reward at its maximum
        let (eval, evalImages) = try ShapesEvaluation.run(pipeline, settings: settings, perPrompt: evaluation.perPrompt)
        try Data(try eval.json().utf8).write(to: outDir.appendingPathComponent("eval.json"), options: .atomic)
        try PNG.write(try ImageGrid.tile(Array(evalImages.prefix(96)), columns: 16, margin: 1, scale: 2),
                      to: outDir.appendingPathComponent("samples/shapeseval.png"))

        // 7. one reward's target at 0, 0.5, 1 with the others at 1: its measured mean should follow (one image per
        //    held-out prompt, half of `miro eval --sweep`, to stay inside the time budget)
        let sweep = try RewardSweep.run(pipeline, settings: settings, targets: [0, 0.5, 1], images: ShapesEval.prompts().count)
        try Data(try sweep.json().utf8).write(to: outDir.appendingPathComponent("reward_sweep.json"), options: .atomic)
        //    and the same with per-reward isolation (negative: the others at 1 too), the paper's way to see one reward alone
        let isolated = try RewardSweep.run(pipeline, settings: settings, targets: [0, 0.5, 1], images: ShapesEval.prompts().count,
                                           isolated: true)
        try Data(try isolated.json().utf8).write(to: outDir.appendingPathComponent("reward_sweep_isolated.json"), options: .atomic)

        // 8. which conditioning inputs the network reads at all (a reward it ignores cannot follow its target)
        var quiet = logger
        quiet.logLevel = .warning
        let use = try ConditioningUse.measure(pipeline, logger: quiet)

        settings.rewardTargets = [:]
        let summary = [
            "MIRO demo on the Shapes world — \(trainer.step) steps × batch \(batchSize), seed \(seed), "
                + "\(formatDuration(Date().timeIntervalSince(start))) in total",
            eval.table(title: "ShapesEval and rewards (all rewards at 1, guidance \(settings.guidance), \(settings.steps) steps)"),
            sweep.table(),
            isolated.table(),
            use.table(),
            "files: \(gridURL.path), \(outDir.appendingPathComponent("eval.json").path), "
                + "\(outDir.appendingPathComponent("reward_sweep.json").path), "
                + "\(outDir.appendingPathComponent("reward_sweep_isolated.json").path), \(outDir.appendingPathComponent("metrics.jsonl").path)",
        ].joined(separator: "\n\n")
        try Data((summary + "\n").utf8).write(to: outDir.appendingPathComponent("summary.txt"), options: .atomic)
        print(summary)
    }
}
