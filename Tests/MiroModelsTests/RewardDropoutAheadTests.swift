import MiroEngine
import MiroModels
import Testing

/// Reward-dropout masks drawn ahead (`Draws.drawingRewardDropout`, `MIROConditioning.rewardKeep`), for a batch whose
/// rows run on several threads: they are the masks the passes would draw themselves, and the network uses them.
@Suite struct RewardDropoutAheadTests {
    let model: MIROModel
    let x0: Tensor
    let conditioning: MIROConditioning

    init() throws {
        var c = MIROConfig.tiny(rewardKeys: ["a", "b", "c"], inputChannels: 3, labelDim: 8)
        c.coherenceDropout = 0.5
        model = try MIROModel(network: c, generator: Generator(seed: 1))
        model.train()
        x0 = try Tensor.randn([4, 3, 32, 32], generator: Generator(seed: 2))
        conditioning = try MIROConditioning(text: Tensor.randn([4, 5, 8], generator: Generator(seed: 3)),
                                            textMask: Tensor.ones([4, 5], dtype: .bool),
                                            rewards: Tensor.rand([4, 3], generator: Generator(seed: 4)))
    }

    func tokens(keep: Tensor? = nil, generator: Generator? = nil) throws -> Tensor {
        try model.network.conditionTokens(text: conditioning.text, textMask: conditioning.textMask,
                                          rewards: conditioning.rewards, generator: generator, rewardKeep: keep)
    }

    @Test func aGivenMaskIsUsedInsteadOfADraw() throws {
        let drawn = try tokens(generator: Generator(seed: 7))
        let given = try tokens(keep: model.network.rewardDropoutMask(batchSize: 4, generator: Generator(seed: 7)))
        #expect(try drawn.eq(given).all().item() == 1)
        let none = try tokens(keep: Tensor.zeros([4, 3])), all = try tokens(keep: Tensor.ones([4, 3]))
        #expect(try (none - all).abs().amax().item() > 1e-3, "the mask does not reach the condition tokens")
        #expect(throws: (any Error).self) { try tokens(keep: Tensor.ones([4, 2])) }
    }

    @Test func masksDrawnAheadGiveTheLossThePassesDrawingTheirOwnGive() throws {
        let loss = FlowMatchingLoss()
        let draws = try loss.draws(for: x0, generator: Generator(seed: 8))
        let own = try loss(model, x0: x0, conditioning: conditioning, draws: draws, dropoutGenerator: Generator(seed: 9))
        let ahead = try draws.drawingRewardDropout(for: model, generator: Generator(seed: 9))
        // the self-conditioning pass draws first, then the main pass
        let g = try Generator(seed: 9)
        let first = try model.network.rewardDropoutMask(batchSize: 4, generator: g)
        let second = try model.network.rewardDropoutMask(batchSize: 4, generator: g)
        #expect(try #require(ahead.selfConditioningRewardKeep).eq(first).all().item() == 1)
        #expect(try #require(ahead.rewardKeep).eq(second).all().item() == 1)
        // no generator: a pass that drew its own mask would draw from the global one, and the loss would differ
        let given = try loss(model, x0: x0, conditioning: conditioning, draws: ahead, dropoutGenerator: nil)
        #expect(try own.loss.item() == given.loss.item())

        let rows = try ahead.rows(1..<3)
        #expect(rows.t.shape == [2] && rows.noise.shape == [2, 3, 32, 32] && rows.rewardKeep?.shape == [2, 3])
        #expect(try #require(rows.rewardKeep).eq(second.slice(0, 1, 3)).all().item() == 1)
        #expect(try conditioning.rows(1..<3).text.eq(conditioning.text.slice(0, 1, 3)).all().item() == 1)
    }
}
