import MiroEngine
import MiroModels
import Testing

/// The self-conditioning pass on its kept rows alone (when its reward-dropout mask is drawn ahead, or the model is in
/// eval mode) gives the latents the official whole-batch pass gives after multiplying by the keep mask.
@Suite struct SelfConditioningRowsTests {
    let model: MIROModel
    let x0: Tensor
    let conditioning: MIROConditioning
    let loss = FlowMatchingLoss()

    init() throws {
        var c = MIROConfig.tiny(rewardKeys: ["a", "b", "c"], inputChannels: 3, labelDim: 8)
        c.coherenceDropout = 0.5
        let model = try MIROModel(network: c, generator: Generator(seed: 1))
        // LN₂ of the self-conditioning path starts at zero, which hides the latents from the output: open it
        let gate = try #require(model.network.lnPrevious2?.weight)
        try withoutGrad { try gate.fill_(0.7) }
        self.model = model
        x0 = try Tensor.randn([6, 3, 32, 32], generator: Generator(seed: 2))
        conditioning = try MIROConditioning(text: Tensor.randn([6, 5, 8], generator: Generator(seed: 3)),
                                            textMask: Tensor.ones([6, 5], dtype: .bool),
                                            rewards: Tensor.rand([6, 3], generator: Generator(seed: 4)))
    }

    func draws(keep: [Bool]) throws -> FlowMatchingLoss.Draws {
        let d = try loss.draws(for: x0, generator: Generator(seed: 8))
        return FlowMatchingLoss.Draws(t: d.t, noise: d.noise, selfConditioningKeep: try Tensor(keep))
    }

    @Test(arguments: [[true, false, true, true, false, true], [false, false, false, false, false, true],
                      [true, true, true, true, true, true], [false, false, false, false, false, false]])
    func keptRowsGiveTheWholeBatchPassLoss(keep: [Bool]) throws {
        model.train()
        let whole = try loss(model, x0: x0, conditioning: conditioning, draws: draws(keep: keep),
                             dropoutGenerator: Generator(seed: 9))
        let ahead = try draws(keep: keep).drawingRewardDropout(for: model, generator: Generator(seed: 9))
        let rows = try loss(model, x0: x0, conditioning: conditioning, draws: ahead, dropoutGenerator: nil)
        #expect(abs(try whole.loss.item() - rows.loss.item()) <= 1e-5 * abs(try whole.loss.item()))
        #expect(abs(try whole.rawLoss.item() - rows.rawLoss.item()) <= 1e-5 * abs(try whole.rawLoss.item()))
    }

    @Test func theLatentsReachTheLoss() throws {
        // the check above would pass if the pass's latents were ignored: they are not
        model.eval()
        let some = try loss(model, x0: x0, conditioning: conditioning, draws: draws(keep: [true, false, true, true, false, true]))
        let none = try loss(model, x0: x0, conditioning: conditioning, draws: draws(keep: Array(repeating: false, count: 6)))
        #expect(abs(try some.rawLoss.item() - none.rawLoss.item()) > 1e-4)
    }

    @Test func evalModeRunsTheKeptRowsAsTheOfficialPassMasked() throws {
        model.eval()
        let keep = [true, false, false, true, true, false]
        let d = try draws(keep: keep)
        let out = try loss(model, x0: x0, conditioning: conditioning, draws: d)
        // the official pass: every row, then latents * keep
        let gamma = try loss.scheduler(d.t).reshaped([6])
        let g = try gamma.reshaped([6, 1, 1, 1])
        let y = try g * x0 + (1 - g) * d.noise
        let latents = try withoutGrad { try model.latents(y, gamma: gamma, conditioning: conditioning) }
        let previous = try latents * Tensor(keep).reshaped([6, 1, 1]).to(.float32)
        let prediction = try model(y, gamma: gamma, conditioning: conditioning, previousLatents: previous).prediction
        let raw = try (prediction - (d.noise - x0)).pow(2).mean().item()
        #expect(abs(try out.rawLoss.item() - raw) <= 1e-5 * raw)
    }
}
