import Foundation
import Testing
import MiroTestSupport
import MiroData
import MiroEngine
import MiroEval
import MiroModels
import MiroPipeline
import MiroTraining

@Suite struct DiagnosticsTests {
    /// At γ = 1 the input is x₀ itself and x̂₀ = y − 0·v̂ whatever the model says: the probe's
    /// arithmetic (noising, reconstruction, MSE) must give exactly 0 there, and a positive error
    /// for an untrained model at lower γ.
    @Test func denoiseProbeIsExactAtTheCleanEndAndSeesAnUntrainedModel() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)
        let probe = try DenoiseProbe.run(pipeline, gammas: [0.2, 1], images: 3, logger: quietLogger)
        #expect(probe.levels.map(\.gamma) == [0.2, 1])
        #expect(probe.levels[1].mse == 0)
        #expect(probe.levels[0].mse > 0.01, "\(probe.levels)")
        #expect(probe.sheet.count == 3 * (1 + 2 * 2) && probe.columns == 3)
        #expect(probe.table().contains("0.20"))
        #expect(throws: InputError.self) { try DenoiseProbe.run(pipeline, gammas: [0], images: 3, logger: quietLogger) }
        #expect(throws: InputError.self) { try DenoiseProbe.run(pipeline, images: 0, logger: quietLogger) }
    }

    @Test func patchCouplingProfileHasOneValuePerDistance() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)   // patch 8: 4×4 patches, distances 1…3
        let coupling = try PatchCoupling.measure(pipeline, images: 2, logger: quietLogger)
        #expect(coupling.influenceByDistance.count == 3)
        // Random attention mixes every patch into every other: influence is positive and finite.
        #expect(coupling.influenceByDistance.allSatisfy { $0 > 0 && $0.isFinite }, "\(coupling.influenceByDistance)")
        #expect(throws: InputError.self) { try PatchCoupling.measure(pipeline, gamma: 1, logger: quietLogger) }
    }

    /// Without data position embeddings the network is equivariant to shuffling the patches, so the
    /// probe must read (numerically) 0; a unit-scale random table makes every token's place count.
    @Test func positionUseIsZeroForAPositionBlindNetworkOnly() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)
        let table = pipeline.model.network.dataPosEmbedding
        try withoutGrad { try table.zero_() }
        let blind = try PositionUse.measure(pipeline, images: 2, logger: quietLogger)
        try withoutGrad { try table.normal_(mean: 0, std: 1, generator: try Generator(seed: 5)) }
        let placed = try PositionUse.measure(pipeline, images: 2, logger: quietLogger)
        #expect(blind.relativeChange < 1e-5, "\(blind.relativeChange)")
        #expect(placed.relativeChange > 0.05, "\(placed.relativeChange)")
        #expect(placed.summary.contains("position use"))
        #expect(throws: InputError.self) { try PositionUse.measure(pipeline, gamma: 0, logger: quietLogger) }
    }

    /// A reward whose embedder outputs a constant is not read, so swapping its values between images must
    /// change nothing; the caption and the other rewards do reach an untrained network. The baseline's
    /// rewards are one constant for every image, so no reward can show use there.
    @Test func conditioningUseIsZeroExactlyForInputsTheNetworkCannotRead() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)
        let silenced = "quality_score"
        let embedder = try #require(pipeline.model.network.coherenceEmbedder["\(silenced)_coherence"])
        try withoutGrad {
            try embedder.mapTimeOutput.weight.zero_()
            try embedder.mapTimeOutput.bias?.zero_()
        }
        let use = try ConditioningUse.measure(pipeline, gammas: [0.5], images: 6, logger: quietLogger)
        #expect(use.rows.map(\.input) == ["caption"] + pipeline.rewardKeys)
        for row in use.rows {
            if row.input == silenced {
                #expect(row.increase == 0 && row.standardError == 0, "\(row)")
            } else {
                #expect(abs(row.increase) > 1e-9 && row.standardError > 0, "\(row)")
            }
        }
        #expect(use.table().contains(silenced))

        var baselineConfig = pipeline.config
        baselineConfig.train.unconditional = true
        let baseline = try ShapesPipeline(model: pipeline.model, config: baselineConfig, step: 0)
        let constant = try ConditioningUse.measure(baseline, gammas: [0.5], images: 6, logger: quietLogger)
        #expect(constant.rows.dropFirst().allSatisfy { $0.increase == 0 }, "\(constant.rows)")
        #expect(throws: InputError.self) { try ConditioningUse.measure(pipeline, images: 1, logger: quietLogger) }
        #expect(throws: InputError.self) { try ConditioningUse.measure(pipeline, gammas: [1], logger: quietLogger) }
    }

    @Test func networkOverridesUseTheOfficialKeysAndNameTheirProblems() throws {
        let tiny = MIROConfig.tiny
        let wider = try tiny.overriding(json: #"{"data_dim": 128, "num_blocks": 3}"#, source: "--network")
        #expect(wider.dataDim == 128 && wider.numBlocks == 3)
        var expected = tiny
        expected.dataDim = 128
        expected.numBlocks = 3
        #expect(wider == expected)

        func message(_ json: String) -> String {
            do { _ = try tiny.overriding(json: json, source: "net.json"); return "" } catch { return "\(error)" }
        }
        #expect(message(#"{"data_dims": 128}"#).contains("data_dims"))
        #expect(message(#"{"data_dim": "wide"}"#).contains("net.json"))
        #expect(message(#"{"latents_dim": 100}"#).contains("latents_dim"))  // not divisible by the 16 text heads
        #expect(message("[1, 2]").contains("JSON object"))
    }
}
