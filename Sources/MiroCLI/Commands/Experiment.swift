import ArgumentParser
import Foundation
import Logging
import MiroData
import MiroEngine
import MiroEval
import MiroImage
import MiroModels
import MiroOptim
import MiroPipeline
import MiroShapes
import MiroTraining

/// `miro experiment convergence`: the paper's training-speed comparison on the Shapes world.
struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reproduce the paper's experiments on the Shapes world.", subcommands: [Convergence.self])
}

/// Baseline (no reward information) vs MIRO on the same data, model and budget, evaluated with
/// EMA weights every `--eval-every` steps; the speed-up is computed as the paper does: the final
/// step divided by the step at which MIRO's curve first reaches the baseline's final value
/// (linear interpolation between evaluations). Last, the reward-target sweep on MIRO's final EMA
/// weights (each reward's target at 0 / 0.5 / 1, the others at 1; negative all 0, then per-reward isolation)
/// shows whether each target steers its reward.
///
/// Each model trains in `--out/<variant>` as a normal run (checkpoints, metrics, grids) and records its
/// evaluations in `evaluations.json` there, so Ctrl-C stops both with a checkpoint and `--resume` continues.
/// With `--jobs 2` (the default on ≥ 2 cores) the two models train at once, each in a child process of this
/// command started with the hidden `--variant` option.
struct Convergence: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Baseline vs MIRO convergence: per-reward and ShapesEval curves, speed-ups, CSV + PNG plot.")

    static let variants = ConvergenceExperiment.variants

    @OptionGroup var global: GlobalOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup var evaluation: EvalOptions
    @Option(help: "Evaluate every N steps.") var evalEvery = 250
    @Option(help: "Output directory.") var out = "runs/convergence"
    @Option(help: "Images per target in the final reward-target sweeps of the MIRO model (0: no sweeps).")
    var sweepImages = RewardSweep.defaultImages
    @Option(help: "Models trained at once, each in its own process (default: 2 on two or more cores).")
    var jobs: Int?
    @Option(help: ArgumentHelp("libtorch threads per model, 1…\(ThreadOptions.maximum) (default: half of each model's share "
                               + "of the cores, as `train` picks them).", valueName: "n"))
    var threads: Int?
    @Flag(help: "Continue both models from their newest checkpoints in --out.") var resume = false
    @Option(help: .hidden) var variant: String?

    func validate() throws {
        try FlagCheck.range(evalEvery, 1...max(1, training.steps), "--eval-every", unit: " (at most --steps)")
        try FlagCheck.range(sweepImages, 0...RewardSweep.maxImages, "--sweep-images")
        guard !training.unconditional else { throw ValidationError("the experiment trains both models; drop --unconditional") }
        if let jobs, !(1...2).contains(jobs) { throw ValidationError("--jobs must be 1 or 2") }
        try ThreadOptions.check(threads)
        try PathCheck.writable(out, "--out", as: .directory)
        if let variant, !Self.variants.contains(variant) {
            throw ValidationError("--variant must be one of \(Self.variants.joined(separator: ", "))")
        }
    }

    var outDir: URL { URL(fileURLWithPath: out) }
    var experiment: ConvergenceExperiment { ConvergenceExperiment(out: outDir) }
    var seed: UInt64 { training.seed ?? 3407 }

    func run() throws {
        let logger = global.makeLogger("miro.experiment")
        Interrupt.install()
        if let variant {  // a child started by the parent below
            try train(variant, logger: logger)
            return
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let jobs = self.jobs ?? (cores >= 2 ? 2 : 1)
        if jobs == 1 {
            ThreadOptions.apply(threads)
            for variant in Self.variants where !Interrupt.requested { try train(variant, logger: logger) }
        } else {
            // Each child gets its share of the cores, split as `Engine.useDefaultThreads` splits a whole machine.
            let share = max(1, cores / jobs)
            try trainConcurrently(threads: threads ?? max(1, share / 2), blasThreads: share, logger: logger)
        }
        guard !Interrupt.requested else {
            logger.info("stopped by Ctrl-C; continue with the same command and --resume")
            return
        }
        try report()
    }

    /// Starts this command once per variant as a child process and forwards their output.
    func trainConcurrently(threads: Int, blasThreads: Int, logger: Logger) throws {
        guard let executable = Bundle.main.executableURL else { throw ExperimentError("cannot locate the miro executable") }
        // ArgumentParser keeps the last value of a repeated option, so these override the user's.
        let arguments = Array(CommandLine.arguments.dropFirst())
        // OpenBLAS starts a thread per core in every process; on two cores, children with one each trained
        // 1.2–1.7× faster than with two each (docs/benchmarks.md, "Two models at once").
        var environment: [String: String] = [:]
        if ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil {
            environment["OPENBLAS_NUM_THREADS"] = String(blasThreads)
        }
        let jobs = Self.variants.map { v in
            ChildProcesses.Job(name: v, arguments: arguments + ["--variant", v, "--threads", String(threads), "--jobs", "1"],
                               log: experiment.runDirectory(v).appendingPathComponent("experiment.log"),
                               environment: environment)
        }
        logger.info("training \(Self.variants.joined(separator: " and ")) at once: one process each, \(threads) libtorch thread(s) each")
        let output = NSLock()
        try ChildProcesses.run(executable: executable, jobs: jobs, started: Interrupt.forward) { line in
            output.withLock { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
    }

    /// Trains (or resumes) one variant, evaluating every `--eval-every` steps; MIRO ends with the sweep.
    func train(_ variant: String, logger: Logger) throws {
        if let threads { Engine.threads = threads }
        var config = try training.runConfig(seed: seed)
        config.train.unconditional = variant == "baseline"
        config.train.sampleEvery = evalEvery
        config.train.saveEvery = evalEvery
        config.train.logEvery = 50
        config.train.keepLast = 2
        logger.info("training \(variant): \(training.steps) steps, seed \(seed)")
        // The experiment's --steps is its target, also on --resume (which may raise it).
        let trainer = try TrainingSession.start(config: config, run: experiment.runDirectory(variant), resume: resume,
                                                overrides: ResumeOverrides(steps: training.steps), logger: logger)
        var points = resume ? try experiment.evaluations(variant, resumingAt: trainer.step) : []
        func evaluate(_ step: Int) throws {
            let e = try ConvergenceExperiment.evaluate(trainer, settings: evaluation.settings(), perPrompt: evaluation.perPrompt)
            points.append(e)
            try experiment.save(points, variant: variant)
            let rewards = e.rewards.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: " ")
            logger.info("\(variant) step \(step): ShapesEval \(String(format: "%.3f", e.overall)) \(rewards)")
        }
        // A run stopped between its checkpoint and the evaluation of that step.
        if trainer.step > 0, trainer.step % evalEvery == 0, points.last?.step != trainer.step { try evaluate(trainer.step) }
        try trainer.train(shouldStop: { Interrupt.requested }, onSample: evaluate)
        guard trainer.step == trainer.config.train.steps else {
            logger.info("\(variant) stopped at step \(trainer.step) with a checkpoint")
            return
        }
        if points.last?.step != trainer.step { try evaluate(trainer.step) }
        if variant == "miro" && sweepImages > 0 {
            logger.info("reward-target sweep on MIRO's final EMA weights: \(sweepImages) images per target")
            try experiment.writeSweeps(trainer, settings: evaluation.settings(), images: sweepImages)
        }
    }

    /// The speed-up table, CSV and plot from both variants' evaluations, and the sweep table.
    func report() throws {
        print(try experiment.report(steps: training.steps, includeSweeps: sweepImages > 0))
    }
}
