import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroIO
import MiroModels
import MiroNN
import MiroOptim
import MiroPipeline
import MiroRewards

/// MIRO training (method §6), laid out like nanoGPT's loop: set up, then per step
/// batch → loss (with the self-conditioning pass) → backward → NaN guard → clip → LAMB → EMA,
/// with fixed-shape log lines, a JSONL metrics file, sample grids and checkpoints.
///
/// Everything random comes from generators whose states go into checkpoints (noise/time/keep
/// draws, reward dropout) or from the seeded data cursor, so "train N, save, resume M" equals
/// "train N+M" bit for bit on the CPU.
public final class Trainer {
    public let runDirectory: URL
    public private(set) var config: RunConfig
    public let data: any TrainingData
    public let model: MIROModel
    public let ema: EMA
    public let optimizer: any Optimizer
    /// The learning-rate schedule over `config.train.steps`; `retarget(steps:)` replaces it.
    public private(set) var schedule: WarmupCosineDecay
    /// The optimizer step, shared with `miro bench train`.
    public let trainingStep: TrainStep
    public private(set) var step = 0
    /// The run's position in the data; its cursor goes into every checkpoint.
    public private(set) var stream: any BatchStream

    let dataGenerator: Generator       // draws of the data path (VAE posterior samples)
    let logger: Logger
    /// The run directory's lock, held while this trainer lives.
    let lock: RunLock
    let metrics: MetricsLog
    private var nonFiniteStreak = 0

    /// How many parts of each batch a training step runs at once (`TrainStep.batchSplits`): one per intra-op thread,
    /// which keeps every core busy where a small model's operations are too small to split (docs/benchmarks.md,
    /// "Batch splits"); 1 where matrix products run on OpenBLAS's own thread pool (Debian's libtorch 1.13), which
    /// would otherwise start its threads inside each part's thread.
    public static var defaultBatchSplits: Int { Engine.blasHasOwnPool ? 1 : max(1, Engine.threads) }

    /// The engine line `miro train` and `miro demo` log: libtorch, threads, kernels, and the batch's parts.
    public static func engineSummary(batchSplits: Int = defaultBatchSplits) -> String {
        "\(Engine.summary), each batch in \(batchSplits) part(s) at once"
    }

    /// The run directory's layout (checkpoints, samples, run.json, metrics).
    public var files: RunDirectory { RunDirectory(runDirectory) }
    public var checkpointDirectory: URL { files.checkpoints }

    /// The configuration a resumed run continues with: the one stored in its newest checkpoint with
    /// `overrides` applied (nil when `runDirectory` has no checkpoint).
    public static func resumedConfig(runDirectory: URL, overrides: ResumeOverrides) throws -> (config: RunConfig, checkpoint: URL)? {
        guard let latest = Checkpoint.latest(in: RunDirectory(runDirectory).checkpoints) else { return nil }
        let stored = try RunConfig.decode(try Checkpoint.configJSON(latest), source: latest.path)
        return (overrides.applied(to: stored), latest)
    }

    /// Sets up a run in `runDirectory`, holding its lock (`lock`, or one taken here) while the trainer lives.
    /// With `resume`, continues from the newest checkpoint with its stored configuration (`config` is then
    /// only the fallback for a run that has none yet) and `overrides`. A new run refuses a directory that
    /// holds another run unless `overwrite`.
    public init(runDirectory: URL, config: RunConfig, data: any TrainingData, resume: Bool,
                overrides: ResumeOverrides = ResumeOverrides(), overwrite: Bool = false, lock: RunLock? = nil,
                logger: Logger) throws {
        self.runDirectory = runDirectory
        self.data = data
        self.logger = logger
        let directory = RunDirectory(runDirectory)
        self.lock = try lock ?? directory.lock()
        let stale = try directory.removeStaleTemporaries()
        if stale > 0 { logger.info("removed \(stale) temporary file(s) an interrupted write left in \(runDirectory.path)") }
        var config = config
        var checkpoint: Checkpoint? = nil
        if resume, let (stored, latest) = try Self.resumedConfig(runDirectory: runDirectory, overrides: overrides) {
            let c = try Checkpoint.read(latest)
            checkpoint = c
            config = stored
            logger.info("resuming from \(latest.lastPathComponent) (step \(c.step))")
            guard c.step <= config.train.steps else {
                throw TrainingError.badConfig("--steps \(config.train.steps) is below the step of \(latest.path) "
                    + "(\(c.step)); give a larger target or omit --steps to keep the run's own")
            }
            // Lines logged after this checkpoint belong to steps that will be trained again.
            let dropped = try directory.truncateMetrics(after: c.step)
            if dropped > 0 { logger.info("metrics.jsonl: dropped \(dropped) line(s) past step \(c.step), which will be trained again") }
        } else {
            if resume { logger.info("no checkpoint in \(runDirectory.path); starting a new run") }
            // Resuming a run that never reached its first checkpoint restarts it over its own files.
            try directory.prepareForNewRun(overwrite: overwrite || resume, logger: logger)
        }
        config.normalization = config.normalization ?? data.normalization
        config.network.coherenceDropout = config.train.rewardDropout
        config.network.dropoutStrategy = config.train.rewardDropoutStrategy
        guard config.train.textDropout == 0 else {
            throw TrainingError.badConfig("text dropout is not supported yet (the official release trains with 0)")
        }
        self.config = config

        // 1. model, initialised from the seed (or loaded below)
        model = try MIROModel(network: config.network, generator: Generator(seed: config.train.seed))
        model.train()
        // 2. optimizer: LAMB with MIRO's parameter groups (the preconditioner's log-variance head joins
        //    the weight-decay group, as in the official code)
        let groups = ParameterGroup.miroTraining(model, learningRate: config.train.learningRate,
                                                 weightDecay: config.train.weightDecay)
        switch config.train.optimizer {
        case .lamb: optimizer = try Lamb(groups: groups, decoupleWeightDecay: false)
        case .adamw: optimizer = try AdamW(groups: groups)
        }
        // State by parameter name, read from the model: it survives `model.to(...)`.
        try optimizer.bind(to: model)
        schedule = WarmupCosineDecay(warmupSteps: config.train.warmupSteps, totalSteps: config.train.totalScheduleSteps,
                                     rate: config.train.cosineRate)
        // 3. EMA initialised as a copy
        ema = try EMA(model, decay: config.train.emaDecay, warmup: config.train.emaWarmup)
        trainingStep = TrainStep(model: model, optimizer: optimizer, ema: ema,
                                 loss: FlowMatchingLoss(selfConditioningRate: config.train.selfConditioningRate),
                                 gradientClip: config.train.gradientClip,
                                 drawGenerator: try Generator(seed: config.train.seed &+ 1),
                                 dropoutGenerator: try Generator(seed: config.train.seed &+ 2))
        if config.train.effectivePrecision == .bf16Mixed { trainingStep.autocast = .bfloat16 }
        trainingStep.batchSplits = Self.defaultBatchSplits
        dataGenerator = try Generator(seed: config.train.seed &+ 4)
        stream = try data.stream(seed: config.train.seed &+ 3)

        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        metrics = try MetricsLog(url: directory.metrics)
        if let checkpoint { try restore(checkpoint) }
        try Data(try config.json().utf8).write(to: directory.runJSON, options: .atomic)
    }

    // MARK: One step

    public struct StepStats: Sendable {
        public var step: Int
        public var loss: Double
        public var rawLoss: Double
        public var logvar: Double
        public var learningRate: Double
        public var gradNorm: Double
        public var skipped: Bool
    }

    /// One optimizer step on the next batch; five non-finite losses in a row stop the run.
    public func trainStep() throws -> StepStats {
        let lr = schedule.learningRate(base: config.train.learningRate, optimizerStep: step)
        let (x0, conditioning) = try stream.next(batchSize: config.train.batchSize, unconditional: config.train.unconditional,
                                                 generator: dataGenerator)
        let outcome = try trainingStep(x0: x0, conditioning: conditioning, learningRate: lr)
        if outcome.skipped {
            nonFiniteStreak += 1
            if nonFiniteStreak >= 5 {
                throw TrainingError.diverged(step: step, count: nonFiniteStreak,
                                             lastCheckpoint: Checkpoint.latest(in: checkpointDirectory)?.path)
            }
        } else {
            nonFiniteStreak = 0
        }
        step += 1
        return StepStats(step: step, loss: outcome.loss, rawLoss: outcome.rawLoss, logvar: outcome.logvar, learningRate: lr,
                         gradNorm: outcome.gradNorm, skipped: outcome.skipped)
    }

    // MARK: The loop

    /// Trains until `config.train.steps` (or `shouldStop()` turns true, e.g. on Ctrl-C), logging,
    /// sampling and checkpointing on the configured cadence. Always leaves a checkpoint of the
    /// last completed step — except when it stops at `pauseAt` (below the target): the run is then
    /// only paused, to be continued by another `train` call (after `retarget(steps:)`, say), and a
    /// checkpoint there would be one that an uninterrupted run does not write.
    public func train(pauseAt: Int? = nil, shouldStop: () -> Bool = { false }, onSample: ((Int) throws -> Void)? = nil,
                      onLog: ((StepStats, Double) -> Void)? = nil) throws {
        let t = config.train
        let end = min(t.steps, pauseAt ?? t.steps)
        var windowStart = Date(), windowSteps = 0
        while step < end && !shouldStop() {
            if let p = opProfile, step == p.start { try OpProfiler.start(recordShapes: p.recordShapes) }
            let stats = try trainStep()
            if let p = opProfile, step == p.start + p.steps { try finishOpProfile(p) }
            windowSteps += 1
            if step % t.logEvery == 0 || step == t.steps {
                let elapsed = Date().timeIntervalSince(windowStart)
                let itPerSec = Double(windowSteps) / max(elapsed, 1e-9)
                logger.info("\(Self.logLine(stats, itPerSec: itPerSec, batch: t.batchSize))")
                var record: [String: Any] = [
                    "step": step, "loss": stats.loss, "raw_loss": stats.rawLoss, "logvar": stats.logvar,
                    "lr": stats.learningRate, "grad_norm": stats.gradNorm, "it_per_s": itPerSec,
                    "samples_per_s": itPerSec * Double(t.batchSize), "epoch": stream.epoch, "skipped": stats.skipped,
                ]
                for (name, count) in stream.counters { record["data_\(name)"] = count }
                try metrics.append(record)
                onLog?(stats, itPerSec)
                windowStart = Date()
                windowSteps = 0
            }
            if t.sampleEvery > 0 && step % t.sampleEvery == 0 { try onSample?(step) }
            if t.saveEvery > 0 && step % t.saveEvery == 0 && step < t.steps { try saveCheckpointIfSound() }
        }
        if step == end && end < t.steps && !shouldStop() { return }
        try saveCheckpointIfSound()
    }

    /// An operator profile of some training steps (`miro train --profile-ops`).
    public struct OpProfileRequest: Sendable {
        /// The step count at which profiling starts, and how many steps it covers.
        public var start: Int
        public var steps: Int
        /// Where `ops.txt` (the table) and `trace.json` (a Chrome trace) go.
        public var directory: URL
        /// One row per operator and input sizes, instead of per operator.
        public var recordShapes: Bool

        public init(start: Int, steps: Int, directory: URL, recordShapes: Bool) {
            self.start = start
            self.steps = steps
            self.directory = directory
            self.recordShapes = recordShapes
        }
    }

    /// Profiles the steps `opProfile` names, if the loop reaches them: the calling thread's operators, so with batch
    /// splits the first part's share of the forward and backward passes.
    public var opProfile: OpProfileRequest?

    private func finishOpProfile(_ p: OpProfileRequest) throws {
        try FileManager.default.createDirectory(at: p.directory, withIntermediateDirectories: true)
        let trace = p.directory.appendingPathComponent("trace.json")
        let rows = try OpProfiler.stop(tracePath: trace.path)
        let header = "operators of steps \(p.start + 1)–\(p.start + p.steps) (\(Self.engineSummary(batchSplits: trainingStep.batchSplits)))"
        let text = header + "\n" + OpProfiler.table(rows, steps: p.steps, limit: 200) + "\n"
        let table = p.directory.appendingPathComponent("ops.txt")
        try AtomicFile.write(Data(text.utf8), to: table)
        logger.info("\(header):\n\(OpProfiler.table(rows, steps: p.steps, limit: 15))\nfull table: \(table.path); trace: \(trace.path)")
    }

    /// Changes the run's step target to `steps` (≥ the current step), with the learning-rate schedule for it.
    ///
    /// The cosine's shape depends on the target, so this is refused once a step has run at a rate the new
    /// schedule would give differently: only then does "retarget to N mid-run" train exactly the weights of
    /// a run started with N (the demo retargets during warm-up, whose rates do not depend on the target).
    public func retarget(steps: Int) throws {
        guard (step...TrainConfig.maximumSteps).contains(steps) else {
            throw TrainingError.badConfig("cannot retarget to \(steps) steps: the run is at step \(step) "
                + "(the target must be in \(step)…\(TrainConfig.maximumSteps))")
        }
        var train = config.train
        train.steps = steps
        let next = WarmupCosineDecay(warmupSteps: train.warmupSteps, totalSteps: train.totalScheduleSteps, rate: train.cosineRate)
        let base = train.learningRate
        if let k = (0..<step).first(where: { next.learningRate(base: base, optimizerStep: $0) != schedule.learningRate(base: base, optimizerStep: $0) }) {
            throw TrainingError.badConfig("cannot retarget to \(steps) steps at step \(step): step \(k) already ran at a "
                + "learning rate the new schedule changes (retarget before the cosine decay starts, step \(train.warmupSteps))")
        }
        config.train = train
        schedule = next
        try Data(try config.json().utf8).write(to: files.runJSON, options: .atomic)
    }

    /// `step   100 | loss 0.1234 | raw 0.2345 | lr 1.00e-03 | grad 0.812 | 3.41 it/s | 109.1 samples/s`
    static func logLine(_ s: StepStats, itPerSec: Double, batch: Int) -> String {
        String(format: "step %6d | loss %.4f | raw %.4f | lr %.2e | grad %.3f | %5.2f it/s | %6.1f samples/s%@",
               s.step, s.loss, s.rawLoss, s.learningRate, s.gradNorm, itPerSec, itPerSec * Double(batch),
               s.skipped ? " | skipped (non-finite loss)" : "")
    }

    // MARK: Checkpoints

    /// Why the current state must not become a checkpoint, nil when it may: while the latest steps were
    /// skipped for non-finite losses, or with non-finite weights, a save would prune the last good checkpoints
    /// in favour of a broken one.
    public func unsoundStateReason() throws -> String? {
        if nonFiniteStreak > 0 { return "the last \(nonFiniteStreak) step(s) had non-finite losses" }
        let broken = try withoutGrad {
            try model.trainableParameters().first { try $0.1.isFinite().all().item() == 0 }?.0
        }
        return broken.map { "weight \($0) is not finite" }
    }

    /// `saveCheckpoint()` unless the state is unsound (`unsoundStateReason`): then nothing is written or pruned,
    /// and the log names the last checkpoint that is still there.
    @discardableResult
    public func saveCheckpointIfSound() throws -> URL? {
        guard let reason = try unsoundStateReason() else { return try saveCheckpoint() }
        let last = Checkpoint.latest(in: checkpointDirectory).map { "the last sound checkpoint is \($0.path)" }
            ?? "there is no earlier checkpoint"
        logger.warning("not saving step \(step): \(reason); nothing pruned, \(last)")
        return nil
    }

    /// Writes a checkpoint of the current step and prunes old ones (`keepLast`).
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        let cursorJSON = try stream.cursorJSON()
        let checkpoint = Checkpoint(
            step: step, model: try model.stateDictionary(),
            ema: Dictionary(uniqueKeysWithValues: ema.shadow.map { ($0.name, $0.tensor) }), emaUpdates: ema.updates,
            optimizer: try optimizer.stateTensors(),
            rng: ["draws": try trainingStep.drawGenerator.state(), "dropout": try trainingStep.dropoutGenerator.state(),
                  "data": try dataGenerator.state()],
            configJSON: try config.json(), dataCursorJSON: cursorJSON,
            extra: ["miro.reward_keys": config.network.coherenceKeys.joined(separator: ","),
                    "miro.seed": String(config.train.seed)])
        let url = try checkpoint.write(to: checkpointDirectory)
        let removed = try Checkpoint.prune(in: checkpointDirectory, keepLast: config.train.keepLast)
        logger.info("saved \(url.lastPathComponent)\(removed.isEmpty ? "" : " (pruned \(removed.count) older)")")
        return url
    }

    private func restore(_ c: Checkpoint) throws {
        try model.load(c.model, source: "checkpoint model")
        try ema.load(c.ema, updates: c.emaUpdates)
        try optimizer.loadStateTensors(c.optimizer)
        guard let draws = c.rng["draws"], let dropout = c.rng["dropout"] else {
            throw TrainingError.missingCheckpoint("checkpoint lacks generator states")
        }
        try trainingStep.drawGenerator.setState(draws)
        try trainingStep.dropoutGenerator.setState(dropout)
        if let state = c.rng["data"] { try dataGenerator.setState(state) }  // absent before data-path draws existed
        try stream.restore(cursorJSON: c.dataCursorJSON)
        step = c.step
    }

    /// A second model carrying the EMA weights, in eval mode, for sampling.
    public func emaModel() throws -> MIROModel {
        let copy = try MIROModel(network: config.network, generator: Generator(seed: 0))
        try copy.load(try model.stateDictionary(), source: "model")   // buffers (Fourier features, masks)
        try ema.copy(into: copy)
        copy.eval()
        return copy
    }
}

extension ParameterGroup {
    /// LAMB groups of a whole `MIROModel` (the trainer's and the train-step benchmark's):
    /// `ParameterGroup.miro` over the network (keys prefixed `network.`), and the preconditioner's
    /// log-variance head in the weight-decay group (prefixed `preconditioning.`), as in the official
    /// `configure_optimizers`.
    public static func miroTraining(_ model: MIROModel, learningRate: Double, weightDecay: Double) -> [ParameterGroup] {
        let pre = model.preconditioning.trainableParameters().map { (name: "preconditioning.\($0.0)", tensor: $0.1) }
        var groups = ParameterGroup.miro(model.network, learningRate: learningRate, weightDecay: weightDecay).map {
            var g = $0
            g.parameters = g.parameters.map { (name: "network.\($0.name)", tensor: $0.tensor) }
            return g
        }
        groups[0].parameters += pre
        return groups
    }
}
