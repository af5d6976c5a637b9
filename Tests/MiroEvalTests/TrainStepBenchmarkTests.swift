import Testing
import MiroTestSupport
import MiroEngine
import MiroEval
import MiroModels
import MiroTraining

/// `TrainStepBenchmark` (behind `miro bench train`): the synthetic batch, the step, and the FLOP count.
/// Nothing here is timed.
@Suite(.serialized) struct TrainStepBenchmarkTests {
    /// The analytic count equals the count of the official modules (forward hooks on every nn.Linear
    /// plus the attention products, scripts/bench_official_train_step.py): 556.435382272 GFLOP for a
    /// `small` step at batch 8, i.e. 4 forwards of 17,388,605,696 FLOPs per sample.
    @Test func flopCountMatchesTheOfficialModules() {
        #expect(TrainStepBenchmark.forwardFlopsPerSample(MIROConfig.small, textTokens: 256) == 17_388_605_696)
    }

    @Test func stepsRunOnTheRealGeometry() throws {
        let network = MIROConfig(
            dataSize: 32, dataDim: 16, numInputChannels: 4, numLatents: 8, latentsDim: 32, labelDim: 48,
            numCondTokens: 16, numProcessingLayers: 1, numBlocks: 1, patchSize: 8, readWriteHeads: 2, computeHeads: 2,
            latentMLPMultiplier: 2, dataMLPMultiplier: 2, numTextRegisters: 2,
            coherenceKeys: MIROConfig.releasedRewardKeys, useCondRINBlock: true, concatCondTokenToLatents: false,
            useSelfConditioning: true)
        let geometry = TrainStepBenchmark.Geometry(batchSize: 3, textTokens: 96)
        let bench = try TrainStepBenchmark(network: network, geometry: geometry, logger: quietLogger)
        #expect(bench.x0.shape == [3, 4, 32, 32])
        #expect(bench.conditioning.text.shape == [3, 96, 48])
        #expect(bench.conditioning.rewards.shape == [3, 7])
        // real tokens 30, 59, 37: the mask counts them, the text is zero past them
        let counts = try bench.conditioning.textMask.to(.float32).sum([1])
        #expect(try counts.toArray(Float.self) == [30, 59, 37])
        #expect(try bench.conditioning.text.select(0, 0).slice(0, 30, 96).abs().sum().item() == 0)

        let before = try bench.model.network.latents.detached().clone()
        for _ in 0..<2 {
            let t = try bench.runStep()
            #expect(t.loss.isFinite)
            #expect(t.total > 0)
        }
        #expect(bench.step == 2)
        #expect(bench.trainStep.ema.updates == 2)
        #expect(try (bench.model.network.latents - before).abs().amax().item() > 0)
        #expect(bench.trainFlopsPerStep
                == 4 * 3 * TrainStepBenchmark.forwardFlopsPerSample(network, textTokens: 96))
    }
}
