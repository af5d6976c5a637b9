import Foundation
import Testing
import MiroEngine
import MiroModels
import MiroNN

@Suite(.serialized)
struct SamplerAndTrainingTests {
    func makeSampler(_ model: MIROModel, steps: Int = 4, guidance: Double = 3, type: EulerSampler.GuidanceType = .constant,
                     start: Int = 0, end: Int? = nil) throws -> EulerSampler {
        let c = model.config
        let cond = try testConditioning(batch: 2, config: c)
        let negative = try MIROConditioning(
            text: Tensor.zeros([1, 1, c.labelDim]), textMask: Tensor.ones([1, 1], dtype: .bool),
            rewards: MIROConditioning.rewards([:], keys: c.coherenceKeys, default: 0, batchSize: 1))
        let noise = try Tensor.randn([2, 3, 8, 8], generator: Generator(seed: 11))
        return try EulerSampler(model: model, noise: noise, positive: cond, negative: negative, steps: steps,
                                guidanceScale: guidance, guidanceType: type, guidanceStartStep: start, guidanceEndStep: end)
    }

    func model() throws -> MIROModel {
        let m = try MIROModel(network: testConfig(), generator: Generator(seed: 12))
        // give the zero-initialised self-conditioning path an effect, so latents matter
        try withoutGrad { try m.network.lnPrevious2!.weight!.fill_(0.5) }
        m.eval()
        return m
    }

    @Test func guidanceScheduleAndWindow() throws {
        let m = try model()
        let constant = try makeSampler(m, steps: 5, guidance: 7)
        #expect((0..<5).map(constant.guidance(at:)) == [7, 7, 7, 7, 7])
        let linear = try makeSampler(m, steps: 5, guidance: 7, type: .linear)
        // 2·w·(i/N): 0 (unguided), 2.8, 5.6, 8.4, 11.2
        let expected: [Double?] = [nil] + (1..<5).map { (i: Int) -> Double? in 2 * 7 * (Double(i) / 5) }
        let weights: [Double?] = (0..<5).map { linear.guidance(at: $0) }
        #expect(weights == expected)
        #expect(abs(linear.guidance(at: 4)! - 11.2) < 1e-12)
        let window = try makeSampler(m, steps: 5, guidance: 7, start: 1, end: 3)
        #expect((0..<5).map(window.guidance(at:)) == [nil, 7, 7, 7, nil])
        #expect(try makeSampler(m, guidance: 0).guidance(at: 0) == nil)
    }

    /// Unguided steps before the window are the conditional-only sampler's steps; an end at the
    /// last step is the same as no end.
    @Test func windowedSamplingComposes() throws {
        let m = try model()
        let unguided = try Array(makeSampler(m, guidance: 0)).map { try $0.get() }
        let late = try Array(makeSampler(m, start: 2)).map { try $0.get() }
        #expect(late.map { $0.guidance != nil } == [false, false, true, true])
        #expect(try late[1].x.floats() == unguided[1].x.floats())
        #expect(try late[3].x.floats() != unguided[3].x.floats())
        let full = try makeSampler(m).run()
        #expect(try makeSampler(m, end: 3).run().floats() == full.floats())
        let early = try Array(makeSampler(m, end: 1)).map { try $0.get() }  // guided → unguided works here
        #expect(early.map { $0.guidance != nil } == [true, true, false, false])
        #expect(try early.last!.x.isFinite().all().item() == 1)
        let linear = try makeSampler(m, type: .linear).run()
        #expect(try linear.isFinite().all().item() == 1)
    }

    @Test func samplerValidatesAndReportsProgress() throws {
        let m = try model()
        #expect(throws: MIROModelError.self) { try makeSampler(m, steps: 0) }
        var seen: [(Int, Double, Double)] = []
        _ = try makeSampler(m, steps: 3).run { seen.append(($0.index, $0.gamma, $0.gammaNext)) }
        #expect(seen.map(\.0) == [0, 1, 2])
        #expect(abs(seen[0].1 - 1e-9) < 1e-15 && seen.last!.2 == 1)
        // a wrong conditioning width fails with a message instead of a crash
        let c = m.config
        let bad = try MIROConditioning(text: Tensor.zeros([2, 4, c.labelDim + 1]), textMask: Tensor.ones([2, 4], dtype: .bool),
                                       rewards: Tensor.zeros([2, c.numRewards]))
        // (found when the sampler prepares its condition tokens, before the first step)
        let error = #expect(throws: MIROModelError.self) {
            try EulerSampler(model: m, noise: Tensor.randn([2, 3, 8, 8]), positive: bad, negative: bad, steps: 2)
        }
        #expect("\(String(describing: error))".contains("text must be"))
        // in training mode nothing is precomputed: the first step fails with the same message and ends the sequence
        m.train()
        defer { m.eval() }
        var iterator = try EulerSampler(model: m, noise: Tensor.randn([2, 3, 8, 8]), positive: bad, negative: bad,
                                        steps: 2).makeIterator()
        guard case .failure(let stepError)? = iterator.next() else { Issue.record("expected a failure"); return }
        #expect("\(stepError)".contains("text must be"))
        #expect(iterator.next().map { _ in true } == nil)
    }

    /// A few SGD steps on one batch with fixed draws lower the loss (smoke test of the training path).
    @Test func lossDecreasesOnAFixedBatch() throws {
        let c = testConfig()
        let model = try MIROModel(network: c, generator: Generator(seed: 13))
        model.train()
        let g = try Generator(seed: 14)
        let x0 = try Tensor.randn([4, 3, 8, 8], generator: g) * 0.5
        let cond = try testConditioning(batch: 4, config: c)
        let loss = FlowMatchingLoss()
        let draws = try loss.draws(for: x0, generator: g)
        var values: [Double] = []
        for _ in 0..<8 {
            try model.zeroGrad()
            let out = try loss(model, x0: x0, conditioning: cond, draws: draws)
            values.append(try out.loss.item())
            try out.loss.backward()
            try withoutGrad {
                for p in model.parameters() where p.requiresGrad {
                    if let grad = p.grad { try p.add_(grad, alpha: -0.02) }
                }
            }
        }
        print("smoke-test losses: \(values.map { String(format: "%.4f", $0) }.joined(separator: " "))")
        #expect(values.allSatisfy { $0.isFinite })
        #expect(values.last! < values.first! * 0.9)
    }
}
