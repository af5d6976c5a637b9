import Foundation
import Testing
import MiroEngine
import MiroModels
import MiroNN

@Suite struct ConfigTests {
    func json(_ value: some Encodable) throws -> [String: Any] {
        let data = try JSONEncoder().encode(value)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func presetsAreValidAndReleasedPresetIsExact() throws {
        for c in [MIROConfig.miro, .small, .tiny] { try c.validate() }
        let m = MIROConfig.miro
        #expect(m.coherenceKeys == ["clip_score", "aesthetic_score", "image_reward_score", "pick_a_score_score",
                                    "hpsv2_score", "vqa_score", "sciscore_score"])
        #expect(m.numDataTokens == 256 && m.patchDim == 16 && m.embedderChannels == 256)
        #expect(m.readWriteHeads == 16 && m.computeHeads == 32 && m.numTextRegisters == 16 && m.labelDim == 2048)
        #expect(m.useCondRINBlock && !m.concatCondTokenToLatents && m.useSelfConditioning && m.coherenceDropout == 0)
        #expect(m.conditioningLength(textLength: 77) == 1 + 7 + 16 + 77)
        let t = MIROConfig.tiny
        #expect(t.numInputChannels == 3 && t.numDataTokens == 64 && t.patchDim == 48 && t.labelDim == 64)
        #expect(t.coherenceKeys == MIROConfig.shapesRewardKeys)
        #expect(MIROConfig.tiny(rewardKeys: ["a", "b"]).numRewards == 2)
    }

    @Test func smallAndTinyParameterCounts() throws {
        let small = try MIRONetwork(config: .small).parameterCount
        let tiny = try MIRONetwork(config: .tiny).parameterCount
        print("parameters: small \(small), tiny \(tiny)")
        #expect((30_000_000...60_000_000).contains(small))
        #expect(tiny < 10_000_000)
    }

    @Test func encodesOfficialKeysAndRoundTrips() throws {
        let object = try json(MIROConfig.miro)
        let keys: Set<String> = [
            "data_size", "data_dim", "num_input_channels", "num_latents", "latents_dim", "label_dim", "num_cond_tokens",
            "num_processing_layers", "num_blocks", "patch_size", "read_write_heads", "compute_heads",
            "latent_mlp_multiplier", "data_mlp_multiplier", "compute_dropout", "rw_stochastic_depth",
            "compute_stochastic_depth", "num_text_registers", "coherence_keys", "coherence_dropout", "dropout_strategy",
            "use_cond_rin_block", "concat_cond_token_to_latents", "use_self_conditioning",
        ]
        #expect(Set(object.keys) == keys)  // exactly the CADRINTextCond kwargs the official converter keeps
        let back = try JSONDecoder().decode(MIROConfig.self, from: JSONEncoder().encode(MIROConfig.miro))
        #expect(back == .miro)

        let file = MIROPipelineConfig(network: .miro)
        let top = try json(file)
        #expect(Set(top.keys) == ["network", "preconditioning", "data_preprocessing", "postprocessing", "scheduler",
                                  "coherence_keys", "sampler_defaults", "data_resolution", "img_resolution",
                                  "max_text_len", "model_type", "vae_repo", "text_encoder_repo"])
        #expect((top["data_preprocessing"] as? [String: Any])?["input_key_mean"] as? String == "vae_embeddings_mean_256")
        #expect(try JSONDecoder().decode(MIROPipelineConfig.self, from: JSONEncoder().encode(file)) == file)
    }

    @Test func missingKeysTakeTheOfficialDefaults() throws {
        let text = """
        {"data_size": 32, "data_dim": 512, "num_input_channels": 4, "num_latents": 256, "latents_dim": 1024,
         "label_dim": 2048, "num_cond_tokens": 77, "num_processing_layers": 4, "num_blocks": 4, "patch_size": 2,
         "coherence_keys": ["aesthetic_score"]}
        """
        let c = try JSONDecoder().decode(MIROConfig.self, from: Data(text.utf8))
        #expect(c.readWriteHeads == 16 && c.computeHeads == 16 && c.numTextRegisters == 16)
        #expect(!c.useCondRINBlock && c.concatCondTokenToLatents && !c.useSelfConditioning)
        #expect(c.coherenceDropout == 0 && c.dropoutStrategy == .binomial)
        // the base CAD mode is not ported: a clear error instead of a silently different model
        #expect(throws: MIROModelError.self) { try MIRONetwork(config: c) }
        var bad = MIROConfig.tiny
        bad.coherenceKeys = []
        #expect(throws: MIROModelError.self) { try bad.validate() }
        bad = .tiny
        bad.latentsDim = 200  // not divisible by the text transformer's 16 heads
        #expect(throws: MIROModelError.self) { try bad.validate() }
    }

    @Test(arguments: [("true", true), ("false", false), ("\"noise_driven\"", true), ("\"none\"", false)])
    func preconditioningNormalisationFlag(value: String, expected: Bool) throws {
        let text = "{\"num_latents\": 8, \"latents_dim\": 16, \"do_normalization\": \(value)}"
        let c = try JSONDecoder().decode(FlowPrecondConfig.self, from: Data(text.utf8))
        #expect(c.doNormalization == expected && c.sigmaData == 0.5 && c.logvarChannels == 128 && c.doGradnormReweighting)
    }

    @Test func schedulerDecodesConfigSectionAndMapsTime() throws {
        let s = try JSONDecoder().decode(LinearScheduler.self, from: Data(#"{"start": 1, "end": 0, "clip_min": 1e-9}"#.utf8))
        #expect(s == LinearScheduler())
        let t = try Tensor([0.0, 0.25, 1.0])
        #expect(try s(t).doubles() == [1.0, 0.75, 1e-9])
        #expect(try s.samplingGrid(steps: 4) == [1e-9, 0.25, 0.5, 0.75, 1.0])
        let shifted = LinearScheduler(shift: 3)
        #expect(abs(try shifted(Tensor([0.5])).item() - 3 * 0.5 / (1 + 2 * 0.5)) < 1e-15)
    }

    @Test func rewardTargetsFollowThePipeline() throws {
        let keys = MIROConfig.releasedRewardKeys
        let pos = try MIROConditioning.rewards(["aesthetic_score": 0.625], keys: keys, default: 1, batchSize: 2)
        #expect(pos.shape == [2, 7])
        #expect(try pos.floats().prefix(7) == [1, 0.625, 1, 1, 1, 1, 1])
        #expect(throws: MIROModelError.unknownRewardKeys(["aesthetics"], valid: keys)) {
            try MIROConditioning.rewards(["aesthetics": 1], keys: keys, default: 1, batchSize: 1)
        }
    }
}
