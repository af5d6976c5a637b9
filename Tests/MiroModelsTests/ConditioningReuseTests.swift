import MiroEngine
import MiroModels
import MiroNN
import Testing

/// The two shortcuts the trainer and the sampler take on the conditioning — cutting text padding, and computing the
/// condition tokens once per sampling run — must not change what the network computes.
@Suite struct ConditioningReuseTests {
    /// Text of 9 tokens whose rows use 5, 2, 0 and 3 of them (the last 4 columns are padding everywhere).
    func paddedConditioning(_ c: MIROConfig) throws -> MIROConditioning {
        let g = try Generator(seed: 21)
        let lengths = [5, 2, 0, 3]
        let mask = try Tensor(lengths.flatMap { n in (0..<9).map { $0 < n } }, shape: [4, 9])
        // padding holds garbage on purpose: only the mask may decide what is read
        return try MIROConditioning(text: Tensor.randn([4, 9, c.labelDim], generator: g),
                                    textMask: mask, rewards: Tensor.rand([4, c.numRewards], generator: g))
    }

    func model() throws -> MIROModel {
        let m = try MIROModel(network: testConfig(), generator: Generator(seed: 22))
        try m.to(.float64)
        try withoutGrad { try m.network.lnPrevious2!.weight!.fill_(0.5) }
        return m
    }

    @Test func trimmingCutsAfterTheLastColumnAnyRowUses() throws {
        let c = try paddedConditioning(testConfig())
        let t = try c.trimmingPadding()
        #expect(t.text.shape == [4, 5, 12] && t.textMask.shape == [4, 5])
        #expect(try t.text.doubles() == c.text.slice(1, 0, 5).doubles())
        // a hole inside the text is kept; an all-padding batch keeps one token
        var holes = c
        holes.textMask = try Tensor((0..<4).flatMap { _ in (0..<9).map { $0 == 1 || $0 == 6 } }, shape: [4, 9])
        #expect(try holes.trimmingPadding().text.size(1) == 7)
        var empty = c
        empty.textMask = try Tensor.zeros([4, 9], dtype: .bool)
        #expect(try empty.trimmingPadding().text.size(1) == 1)
    }

    @Test func trimmedTextGivesTheSameOutputs() throws {
        let m = try model()
        let c = try paddedConditioning(m.config)
        let x = try Tensor.randn([4, 3, 8, 8], generator: Generator(seed: 23)).to(.float64)
        let gamma = try Tensor([0.2, 0.5, 0.7, 0.9], shape: [4])
        for training in [false, true] {
            training ? m.train() : m.eval()
            // reward dropout draws the same mask from the same seed: its shape does not depend on the text length
            let full = try m(x, gamma: gamma, conditioning: c, dropoutGenerator: Generator(seed: 5))
            let cut = try m(x, gamma: gamma, conditioning: c.trimmingPadding(), dropoutGenerator: Generator(seed: 5))
            let diff = try (full.prediction - cut.prediction).abs().amax().item()
            let latentDiff = try (full.latents - cut.latents).abs().amax().item()
            #expect(diff <= 1e-12 && latentDiff <= 1e-12, "training \(training): \(diff), \(latentDiff)")
        }
    }

    @Test func encodedConditioningGivesTheSameOutputs() throws {
        let m = try model()
        m.eval()
        let c = try paddedConditioning(m.config)
        let x = try Tensor.randn([4, 3, 8, 8], generator: Generator(seed: 24)).to(.float64)
        let gamma = try Tensor.full([4], 0.4)
        let plain = try m(x, gamma: gamma, conditioning: c)
        let encoded = try m.network.encoding(c)
        #expect(encoded.encoded != nil)
        let reused = try m(x, gamma: gamma, conditioning: encoded)
        #expect(try plain.prediction.doubles() == reused.prediction.doubles())
        // stacking keeps the encoding; the other transforms drop it
        #expect(try MIROConditioning.stacked(encoded, encoded).encoded?.size(0) == 8)
        #expect(try encoded.trimmingPadding().encoded == nil)
        // in training mode reward dropout draws anew at every call: reuse is refused
        m.train()
        #expect(throws: MIROModelError.self) { try m.network.encoding(c) }
        #expect(throws: MIROModelError.self) { try m(x, gamma: gamma, conditioning: encoded) }
    }

    /// The sampler prepares its batches once; its result equals stepping the network by hand on the full conditioning.
    @Test func samplerMatchesUnpreparedSteps() throws {
        let m = try model()
        m.eval()
        let c = try paddedConditioning(m.config)
        let noise = try Tensor.randn([4, 3, 8, 8], generator: Generator(seed: 25)).to(.float64)
        var negative = c
        negative.rewards = try Tensor.zeros([4, m.config.numRewards])
        let sampler = try EulerSampler(model: m, noise: noise, positive: c, negative: negative, steps: 3, guidanceScale: 2)
        let fast = try sampler.run()
        var x = noise
        var latents: Tensor? = nil
        let grid = try LinearScheduler().samplingGrid(steps: 3)
        for i in 0..<3 {
            let out = try withoutGrad {
                try m(Tensor.cat([x, x]), gamma: Tensor.full([8], Double(grid[i])),
                      conditioning: .stacked(c, negative), previousLatents: latents)
            }
            let v = try out.prediction.chunked(2)
            latents = out.latents
            x = try x - (v[0] * 3 - v[1] * 2) * Double(grid[i + 1] - grid[i])
        }
        #expect(try (fast - x).abs().amax().item() <= 1e-12)
    }
}
