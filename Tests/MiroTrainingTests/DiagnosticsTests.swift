import Foundation
import MiroData
import MiroEngine
import MiroModels
import MiroTraining
import Testing

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
        #expect(throws: TrainingError.self) { try DenoiseProbe.run(pipeline, gammas: [0], images: 3, logger: quietLogger) }
        #expect(throws: TrainingError.self) { try DenoiseProbe.run(pipeline, images: 0, logger: quietLogger) }
    }

    @Test func patchCouplingProfileHasOneValuePerDistance() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try untrainedPipeline(in: dir)   // patch 8: 4×4 patches, distances 1…3
        let coupling = try PatchCoupling.measure(pipeline, images: 2, logger: quietLogger)
        #expect(coupling.influenceByDistance.count == 3)
        // Random attention mixes every patch into every other: influence is positive and finite.
        #expect(coupling.influenceByDistance.allSatisfy { $0 > 0 && $0.isFinite }, "\(coupling.influenceByDistance)")
        #expect(throws: TrainingError.self) { try PatchCoupling.measure(pipeline, gamma: 1, logger: quietLogger) }
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
