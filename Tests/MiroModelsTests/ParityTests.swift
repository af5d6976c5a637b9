import Foundation
import Testing
import MiroEngine
import MiroModels
import MiroNN

/// Parity with the official miro-t2i 0.1.4 network, preconditioning, loss and sampler on a small
/// random-weight float64 configuration (fixture: scripts/make_model_fixtures.py). Errors are the
/// max absolute difference divided by the largest reference magnitude.
@Suite(.serialized)
struct ParityTests {
    let fx: SmallModelFixture

    init() throws { fx = try SmallModelFixture.shared.get() }

    @Test func fixtureConfigDecodes() throws {
        let c = fx.config
        #expect(c.network.coherenceKeys == ["clip_score", "aesthetic_score", "hpsv2_score"])
        #expect(c.network.useCondRINBlock && c.network.useSelfConditioning && !c.network.concatCondTokenToLatents)
        #expect(c.preconditioning.logvarChannels == 128 && c.preconditioning.doNormalization)
        #expect(c.scheduler == LinearScheduler())
        #expect(c.rewardKeys == c.network.coherenceKeys)
    }

    @Test func stateDictMatchesOfficialKeys() throws {
        let model = try fx.model()
        let ours = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.0, $0.1.shape) })
        var theirs: [String: [Int]] = [:]
        for (k, v) in fx.tensors where k.hasPrefix("param.") { theirs[String(k.dropFirst(6))] = v.shape }
        #expect(ours == theirs)
    }

    @Test func networkForward() throws {
        let model = try fx.model()
        let net = model.network
        let p = "forward.input."
        let cond = try fx.conditioning(p)
        let x = try fx.tensor(p + "x"), gamma = try fx.tensor(p + "gamma"), prev = try fx.tensor(p + "previous_latents")
        try withoutGrad {
            let (out, z) = try net(x, gamma: gamma, conditioning: cond, previousLatents: prev)
            try expectClose(out, fx.tensor("forward.eval.out"), "forward eval out")
            try expectClose(z, fx.tensor("forward.eval.latents"), "forward eval latents")
            // the official RMSNorm's float32 round trip stays within the 1e-4 acceptance
            try expectClose(out, fx.tensor("forward.eval.out_official_rmsnorm"), "forward vs official float32 RMSNorm",
                            tolerance: 1e-4)
            let (out0, z0) = try net(x, gamma: gamma, conditioning: cond, previousLatents: nil)
            try expectClose(out0, fx.tensor("forward.eval_no_previous.out"), "forward no previous out")
            try expectClose(z0, fx.tensor("forward.eval_no_previous.latents"), "forward no previous latents")
            net.train()
            defer { net.eval() }
            let (outT, zT) = try net(x, gamma: gamma, conditioning: cond, previousLatents: prev)
            try expectClose(outT, fx.tensor("forward.train.out"), "forward train out (NaN reward -> 0)")
            try expectClose(zT, fx.tensor("forward.train.latents"), "forward train latents")
        }
    }

    @Test func preconditionedForward() throws {
        let model = try fx.model()
        let p = "forward.input."
        let cond = try fx.conditioning(p)
        let y = try fx.tensor(p + "x"), gamma = try fx.tensor(p + "gamma")
        try withoutGrad {
            let a = try model(y, gamma: gamma, conditioning: cond, previousLatents: fx.tensor(p + "previous_latents"),
                              returnLogvar: true)
            try expectClose(a.prediction, fx.tensor("precond.out"), "precond out")
            try expectClose(a.latents, fx.tensor("precond.latents"), "precond latents")
            try expectClose(#require(a.logvar), fx.tensor("precond.logvar"), "precond logvar")
            #expect(a.logvar?.shape == [2, 1, 1, 1])
            let b = try model(y, gamma: gamma, conditioning: cond, returnLogvar: true)
            try expectClose(b.prediction, fx.tensor("precond.no_previous.out"), "precond (zero previous) out")
            try expectClose(b.latents, fx.tensor("precond.no_previous.latents"), "precond (zero previous) latents")
            try expectClose(#require(b.logvar), fx.tensor("precond.no_previous.logvar"), "precond (zero previous) logvar")
        }
    }

    @Test func lossAndGradients() throws {
        let model = try fx.model()
        model.train()
        let p = "loss.input."
        let draws = FlowMatchingLoss.Draws(t: try fx.tensor(p + "t"), noise: try fx.tensor(p + "noise"),
                                           selfConditioningKeep: try fx.tensor(p + "keep"))
        #expect(try draws.selfConditioningKeep!.to(.float64).sum().item() == 2)  // one sample dropped
        let out = try FlowMatchingLoss()(model, x0: fx.tensor(p + "x0"), conditioning: fx.conditioning(p), draws: draws)
        try expectClose(out.loss, fx.tensor("loss.loss"), "loss")
        try expectClose(out.rawLoss, fx.tensor("loss.raw_loss"), "raw loss")
        try expectClose(#require(out.logvar), fx.tensor("loss.logvar"), "mean logvar")
        try out.loss.backward()
        let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
        for (key, want) in fx.tensors where key.hasPrefix("loss.grad.") {
            let name = String(key.dropFirst("loss.grad.".count))
            let grad = try #require(params[name]?.grad, "no gradient for \(name)")
            try expectClose(grad, want, "grad \(name)", tolerance: 1e-9)
        }
    }

    /// `draws(for:generator:)` reproduces the official loss's draws from the same generator seed:
    /// t = sigmoid(normal), noise = randn, then u = rand(B, 1, 1) with keep = u > 1 − 0.9.
    @Test func lossDrawsFollowTheOfficialStream() throws {
        let cases = try #require(fx.metadata["cases"]).data(using: .utf8)!
        let loss = try #require(try JSONSerialization.jsonObject(with: cases) as? [String: Any])["loss"] as? [String: Any]
        let seed = try #require(loss?["seed"] as? Int)
        // the fixture script runs with torch.set_default_dtype(torch.float64)
        let draws = try FlowMatchingLoss().draws(for: fx.tensor("loss.input.x0"), generator: Generator(seed: UInt64(seed)),
                                                 defaultDType: .float64)
        try expectClose(draws.t, fx.tensor("loss.input.t"), "t stream", tolerance: 0)
        try expectClose(draws.noise, fx.tensor("loss.input.noise"), "noise stream", tolerance: 0)
        #expect(try #require(draws.selfConditioningKeep).eq(fx.tensor("loss.input.keep")).all().item() == 1)
    }

    @Test(arguments: ["binomial_0.5", "binomial_0.9", "uniform_0.5"])
    func rewardDropoutMasks(name: String) throws {
        let parts = name.split(separator: "_")
        var c = fx.config.network
        c.dropoutStrategy = try #require(RewardDropoutStrategy(rawValue: String(parts[0])))
        c.coherenceDropout = try #require(Double(parts[1]))
        let net = try MIRONetwork(config: c)
        let seeds = ["binomial_0.5": 2036, "binomial_0.9": 2037, "uniform_0.5": 2038]
        let mask = try net.rewardDropoutMask(batchSize: 8, generator: Generator(seed: UInt64(seeds[name]!)))
        try expectClose(mask.to(.float64), fx.tensor("dropout.\(name)"), "dropout mask \(name)", tolerance: 0)
    }

    @Test func samplerGrid() throws {
        let grid = try LinearScheduler().samplingGrid(steps: 4)
        try expectClose(Tensor(grid.map(Double.init)), fx.tensor("sampler.gammas"), "gamma grid", tolerance: 0)
    }

    func sampler(_ name: String, guidance: Double) throws -> EulerSampler {
        let p = "sampler.\(name)."
        let noise = try fx.tensor(p + "noise")
        let b = noise.size(0)
        let keys = fx.config.rewardKeys
        let pos = try MIROConditioning(
            text: fx.tensor(p + "text"), textMask: fx.tensor(p + "text_mask"),
            rewards: MIROConditioning.rewards(["aesthetic_score": 0.625], keys: keys, default: 1, batchSize: b, dtype: .float64))
        let neg = try MIROConditioning(
            text: fx.tensor(p + "negative_text"), textMask: fx.tensor(p + "negative_text_mask"),
            rewards: MIROConditioning.rewards(["hpsv2_score": 0.25], keys: keys, default: 0, batchSize: b, dtype: .float64))
        return try EulerSampler(model: fx.model(), noise: noise, positive: pos, negative: neg, steps: 4,
                                guidanceScale: guidance)
    }

    @Test func guidedSampling() throws {
        let sampler = try sampler("cfg", guidance: 7)
        var steps: [EulerStep] = []
        let x = try sampler.run { steps.append($0) }
        #expect(steps.map(\.index) == [0, 1, 2, 3] && steps.allSatisfy { $0.guidance == 7 })
        try expectClose(steps[0].velocity, fx.tensor("sampler.cfg.v_step0"), "CFG velocity, step 0")
        try expectClose(steps[0].x, fx.tensor("sampler.cfg.x_step0"), "x after one CFG step")
        try expectClose(x, fx.tensor("sampler.cfg.x_final"), "x after 4 CFG steps")
    }

    @Test func guidedSamplingWithLongerNegativeText() throws {
        let x = try sampler("cfg_long_negative", guidance: 2).run()
        try expectClose(x, fx.tensor("sampler.cfg_long_negative.x_final"), "x after 4 CFG steps (long negative)")
    }

    @Test func unguidedSampling() throws {
        let sampler = try sampler("unguided", guidance: 0)
        let x = try sampler.run { #expect($0.guidance == nil) }
        try expectClose(x, fx.tensor("sampler.unguided.x_final"), "x after 4 unguided steps")
    }

    @Test func officialNoiseStream() throws {
        // torch.randn((B, 4, 8, 8), generator=torch.Generator().manual_seed(SEED + 100), dtype=float32)
        let noise = try Tensor.randn([2, 4, 8, 8], generator: Generator(seed: 2126))
        try expectClose(noise.to(.float64), fx.tensor("sampler.cfg.noise"), "initial noise", tolerance: 0)
    }
}
