import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroNN
import MiroOptim

/// Step-by-step parity with the official optimizers on a toy problem. Fixtures come from
/// scripts/make_optim_fixtures.py (miro-t2i 0.1.4 `Lamb` / `WarmupCosineDecayLR`, torch 1.13.1
/// `AdamW`): each stores the initial parameters, the gradient fed at every step, the lr in force
/// and the parameters after every step, all float64.
@Suite(.serialized)
struct OptimizerParityTests {
    /// Replays a fixture through `makeOptimizer`, checking every parameter after every step.
    func replay(_ file: String, steps: Int, lr: (Int) -> Double,
                makeOptimizer: ([String: Tensor]) throws -> any Optimizer) throws {
        let (t, _) = try Fixtures.safetensors("optim/\(file)")
        let names = ["w1", "b1", "norm", "w2", "zero"]
        var params: [String: Tensor] = [:]
        for n in names { params[n] = try #require(t["init.\(n)"]).clone().requiringGrad() }
        let optimizer = try makeOptimizer(params)
        for k in 0..<steps {
            let expectedLR = try #require(t["lr.\(k)"]).item()
            #expect(abs(lr(k) - expectedLR) <= 1e-12 * max(1, abs(expectedLR)), "lr at step \(k)")
            optimizer.setLearningRate(lr(k))
            for n in names { try params[n]!.setGrad(try #require(t["grad.\(k).\(n)"])) }
            try optimizer.step()
            for n in names {
                let err = try maxRelativeError(params[n]!, #require(t["param.\(k).\(n)"]))
                #expect(err <= 1e-6, "\(file): \(n) after step \(k): relative error \(err)")
            }
        }
        let state = try optimizer.stateTensors()
        for n in names {
            let m = try #require(state["\(n).exp_avg"]), v = try #require(state["\(n).exp_avg_sq"])
            #expect(try maxRelativeError(m, #require(t["exp_avg.\(steps - 1).\(n)"])) <= 1e-6)
            #expect(try maxRelativeError(v, #require(t["exp_avg_sq.\(steps - 1).\(n)"])) <= 1e-6)
        }
    }

    @Test func lambWithMIROGroupsAndSchedule() throws {
        let schedule = WarmupCosineDecay(warmupSteps: 3, totalSteps: 20, rate: 0.8)
        try replay("lamb_miro.safetensors", steps: 12, lr: { schedule.learningRate(base: 1e-2, optimizerStep: $0) }) { p in
            try Lamb(groups: [
                ParameterGroup(name: "decay", parameters: [("w1", p["w1"]!), ("w2", p["w2"]!), ("zero", p["zero"]!)],
                               learningRate: 1e-2, weightDecay: 0.01, layerAdaptation: true),
                ParameterGroup(name: "no_decay", parameters: [("b1", p["b1"]!), ("norm", p["norm"]!)],
                               learningRate: 1e-2, weightDecay: 0, layerAdaptation: false),
            ], decoupleWeightDecay: false)
        }
    }

    @Test func lambDecoupledDefaultAdaptation() throws {
        try replay("lamb_decoupled.safetensors", steps: 6, lr: { _ in 5e-3 }) { p in
            try Lamb(groups: [ParameterGroup(name: "all", parameters: ["w1", "b1", "norm", "w2", "zero"].map { ($0, p[$0]!) },
                                             learningRate: 5e-3, weightDecay: 0.05, layerAdaptation: nil)],
                     decoupleWeightDecay: true)
        }
    }

    @Test func adamW() throws {
        try replay("adamw.safetensors", steps: 6, lr: { _ in 1e-2 }) { p in
            try AdamW(["w1", "b1", "norm", "w2", "zero"].map { ($0, p[$0]!) }, lr: 1e-2, weightDecay: 0.01)
        }
    }

    @Test func adamWWithNoDecayGroup() throws {
        let (t, meta) = try Fixtures.safetensors("optim/adamw_groups.safetensors")
        let config = try #require(meta["config"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        let groups = try #require(json["groups"] as? [[String: Any]])
        _ = t
        try replay("adamw_groups.safetensors", steps: 6, lr: { _ in 1e-2 }) { p in
            try AdamW(groups: groups.enumerated().map { i, g in
                let names = g["params"] as? [String] ?? []
                return ParameterGroup(name: "g\(i)", parameters: names.map { ($0, p[$0]!) }, learningRate: 1e-2,
                                      weightDecay: g["weight_decay"] as? Double ?? 0)
            })
        }
    }

    @Test func warmupCosineScheduleMatchesOfficial() throws {
        let (t, _) = try Fixtures.safetensors("optim/lr_schedule.safetensors")
        let expected = try #require(t["lr"]).doubles()
        let s = WarmupCosineDecay(warmupSteps: 5, totalSteps: 40, rate: 0.8)
        #expect(expected.count == 41)
        for (step, e) in expected.enumerated() {
            #expect(abs(s.learningRate(base: 1, step: step) - e) <= 1e-12, "step \(step)")
        }
        let flat = try #require(t["lr_nowarmup"]).doubles()
        let s2 = WarmupCosineDecay(warmupSteps: 0, totalSteps: 10, rate: 1)
        for (step, e) in flat.enumerated() { #expect(abs(s2.learningRate(base: 1, step: step) - e) <= 1e-12) }
        // MIRO's release schedule ends at ½(1 + cos 0.8π) ≈ 0.0955 of the peak.
        let miro = WarmupCosineDecay(warmupSteps: 5000, totalSteps: 500_000, rate: 0.8)
        #expect(abs(miro.learningRate(base: 1e-3, step: 500_000) - 9.549150281252633e-05) < 1e-15)
    }

    @Test func optimizerStateRoundTripContinuesIdentically() throws {
        let (t, _) = try Fixtures.safetensors("optim/lamb_miro.safetensors")
        func make(_ p: Tensor) throws -> Lamb {
            try Lamb(groups: [ParameterGroup(name: "a", parameters: [("w1", p)], learningRate: 1e-2, weightDecay: 0.01,
                                             layerAdaptation: true)])
        }
        let a = try #require(t["init.w1"]).clone().requiringGrad()
        let b = try #require(t["init.w1"]).clone().requiringGrad()
        let optA = try make(a)
        for k in 0..<3 { try a.setGrad(t["grad.\(k).w1"]); try optA.step() }
        // b: restore a's parameters and state into a fresh optimizer, then both take the same steps.
        try withoutGrad { try b.copy_(a) }
        let optB = try make(b)
        try optB.loadStateTensors(optA.stateTensors())
        for k in 3..<6 {
            try a.setGrad(t["grad.\(k).w1"]); try optA.step()
            try b.setGrad(t["grad.\(k).w1"]); try optB.step()
        }
        #expect(try a.doubles() == b.doubles())
    }

    @Test func clipGradNormMatchesDefinition() throws {
        let p1 = try Tensor([3.0, 4.0]).requiringGrad(), p2 = try Tensor([12.0]).requiringGrad()
        try p1.setGrad(Tensor([3.0, 4.0])); try p2.setGrad(Tensor([12.0]))
        let norm = try Gradients.clipNorm([p1, p2], maxNorm: 6.5)
        #expect(abs(norm - 13) < 1e-12)
        let g = try #require(p1.grad).doubles() + #require(p2.grad).doubles()
        let c = 6.5 / (13 + 1e-6)
        #expect(zip(g, [3 * c, 4 * c, 12 * c]).allSatisfy { abs($0 - $1) < 1e-12 })
        // Below the threshold gradients stay untouched.
        #expect(abs(try Gradients.clipNorm([p1, p2], maxNorm: 100) - 6.5) < 1e-5)
        #expect(abs(try #require(p2.grad).item() - 12 * c) < 1e-12)
    }

    @Test func nanGuardZeroesNonFiniteEntries() throws {
        let p = try Tensor([1.0, 2.0, 3.0]).requiringGrad()
        try p.setGrad(Tensor([1.0, .nan, .infinity]))
        #expect(try Gradients.hasNonFinite([p]))
        try Gradients.zeroNonFinite([p])
        #expect(try #require(p.grad).doubles() == [1, 0, 0])
        #expect(try !Gradients.hasNonFinite([p]))
    }
}
