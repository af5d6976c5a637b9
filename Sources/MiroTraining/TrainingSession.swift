import Foundation
import Logging
import MiroModels
import MiroPipeline
import MiroShapes

/// What `miro train`, the demo and the convergence experiment share: choosing the data source for a run
/// configuration, resolving presets against the data, and the loop with its stop conditions and sample grids.
public enum TrainingSession {
    /// Sets up the run in `run`: its data (the Shapes world, or enriched shards with the preset's latent geometry
    /// and the data's text width) and its trainer, holding the run's lock from the first read. With `resume` and
    /// a checkpoint in `run`, the stored configuration with `overrides` (`Trainer.resumedConfig`) decides the
    /// data, so a run always continues on its own. A new run refuses a directory holding another unless
    /// `overwrite`.
    public static func start(config: RunConfig, run: URL, resume: Bool, overrides: ResumeOverrides = ResumeOverrides(),
                             overwrite: Bool = false, logger: Logger) throws -> Trainer {
        let lock = try RunDirectory(run).lock()
        var config = config
        var resuming = false
        if resume, let (stored, _) = try Trainer.resumedConfig(runDirectory: run, overrides: overrides) {
            resuming = true
            config = stored
        }
        let data: any TrainingData
        switch config.dataset.name {
        case .shards:
            guard let settings = config.dataset.shards else {
                throw TrainingError.badConfig("the run configuration names shards as its dataset but lists none")
            }
            let shards = try ShardTrainingData(settings: settings, rewardKeys: config.network.coherenceKeys,
                                               batchSize: config.train.batchSize, logger: logger)
            let samples = shards.shards.reduce(0) { $0 + $1.nsamples }
            logger.info("data: \(shards.shards.count) shards, \(samples) samples, text width \(shards.textDim), bins \(settings.binsCache)")
            if !resuming {
                config.network = try config.train.network(from: RunConfig.latentPreset(
                    config.train.preset, rewardKeys: config.network.coherenceKeys, labelDim: shards.textDim))
            }
            config.textEncoder.width = shards.textDim
            config.textEncoder.maxTokens = settings.maxTextTokens
            if config.train.sampleEvery > 0 {
                logger.info("sample grids are off for latent data: decoding SDXL latents needs the VAE, which miro-swift does not have yet")
                config.train.sampleEvery = 0
            }
            data = shards
        case .shapes:
            let n = config.network
            guard n.dataSize == 32, n.numInputChannels == 3, n.labelDim == config.textEncoder.width else {
                throw TrainingError.badConfig("the Shapes world is 32×32 RGB with \(config.textEncoder.width)-wide text tokens; "
                    + "the network has data_size \(n.dataSize), num_input_channels \(n.numInputChannels), label_dim \(n.labelDim)")
            }
            let encoder = ShapesTextEncoder(width: config.textEncoder.width, maxTokens: config.textEncoder.maxTokens)
            data = try ShapesTrainingSet(count: config.dataset.count, seed: config.dataset.seed, encoder: encoder,
                                         rewardKeys: n.coherenceKeys, logger: logger)
        }
        let trainer = try Trainer(runDirectory: run, config: config, data: data, resume: resume, overrides: overrides,
                                  overwrite: overwrite, lock: lock, logger: logger)
        let baseline = trainer.config.train.unconditional ? " (baseline: constant reward inputs)" : ""
        logger.info("model: \(trainer.model.parameterCount) parameters, rewards \(trainer.config.network.coherenceKeys.joined(separator: ", "))\(baseline)")
        return trainer
    }

    /// Why `loop` returned.
    public enum Stop: Sendable, Equatable {
        /// The run reached its step target.
        case finished
        /// `interrupted()` turned true (Ctrl-C).
        case interrupted
        /// The time budget ran out.
        case timeBudget
        /// The run reached `pauseAt` (below its target); no checkpoint was written, training continues later.
        case paused
    }

    /// Trains until the step target, `interrupted()` or `minutes` (a checkpoint is left in each of these cases)
    /// or `pauseAt` (none is: see `Trainer.train`), writing a sample grid at each sample step.
    public static func loop(_ trainer: Trainer, minutes: Double?, pauseAt: Int? = nil, interrupted: @escaping () -> Bool,
                            logger: Logger) throws -> Stop {
        let deadline = minutes.map { Date().addingTimeInterval($0 * 60) }
        let outOfTime = { deadline.map { Date() >= $0 } ?? false }
        try trainer.train(pauseAt: pauseAt, shouldStop: { interrupted() || outOfTime() }, onSample: { step in
            try writeGrid(trainer, step: step, logger: logger)
        })
        if interrupted() { return .interrupted }
        if let pauseAt, trainer.step == pauseAt, pauseAt < trainer.config.train.steps { return .paused }
        return trainer.step < trainer.config.train.steps ? .timeBudget : .finished
    }

    /// The sample grid of the trainer's EMA weights at `step`: `samples/step-NNNNNNN.png` in the run.
    public static func writeGrid(_ trainer: Trainer, step: Int, logger: Logger) throws {
        let pipeline = try ShapesPipeline(model: try trainer.emaModel(), config: trainer.config, step: step)
        var settings = ShapesPipeline.Settings()
        settings.steps = trainer.config.train.sampleSteps
        settings.guidance = trainer.config.train.guidance
        settings.seed = 1234
        let url = trainer.files.samples.appendingPathComponent(String(format: "step-%07d.png", step))
        let rows = try SampleGrid.write(pipeline, settings: settings, to: url)
        logger.info("sample grid \(url.path) (rows: \(rows.joined(separator: ", ")))")
    }
}
