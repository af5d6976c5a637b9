import Foundation
import Logging
import MiroModels
import MiroPipeline
import MiroShapes
import MiroTraining

// Helpers shared by the test targets (a library target, since test targets cannot depend on one another).

/// A very small run configuration so that a few steps take well under a second.
public func microConfig(steps: Int, seed: UInt64 = 11) -> RunConfig {
    var c = RunConfig()
    c.network = MIROConfig(
        dataSize: 32, dataDim: 16, numInputChannels: 3, numLatents: 8, latentsDim: 32, labelDim: 64, numCondTokens: 16,
        numProcessingLayers: 1, numBlocks: 1, patchSize: 8, readWriteHeads: 2, computeHeads: 2, latentMLPMultiplier: 2,
        dataMLPMultiplier: 2, numTextRegisters: 2, coherenceKeys: ShapesRewards.keys, useCondRINBlock: true,
        concatCondTokenToLatents: false, useSelfConditioning: true)
    c.dataset.count = 64
    c.train.steps = steps
    c.train.batchSize = 8
    c.train.warmupSteps = 2
    c.train.seed = seed
    c.train.sampleEvery = 0
    c.train.saveEvery = 1000
    c.train.logEvery = 1000
    c.train.keepLast = 5
    return c
}

public func tempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("miro-train-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// A pipeline over a freshly initialised micro model (not trained).
public func untrainedPipeline(in dir: URL) throws -> ShapesPipeline {
    let data = try ShapesTrainingSet(count: 16, seed: 1, encoder: ShapesTextEncoder(), logger: quietLogger)
    let t = try Trainer(runDirectory: dir, config: microConfig(steps: 1), data: data, resume: false, logger: quietLogger)
    return try ShapesPipeline(model: try t.emaModel(), config: t.config, step: 0)
}

public let quietLogger: Logger = {
    var l = Logger(label: "test")
    l.logLevel = .error
    return l
}()
