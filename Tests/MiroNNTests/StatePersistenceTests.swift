import Foundation
import Testing
import MiroEngine
import MiroFormats
import MiroIO
import MiroNN
import MiroOptim

/// Optimizer and EMA state survive a trip through a safetensors file, and a run resumed from it
/// continues bit for bit like the uninterrupted run.
@Suite(.serialized)
struct StatePersistenceTests {
    func batch(_ k: Int) throws -> (Tensor, Tensor) {
        let g = try Generator(seed: UInt64(100 + k))
        return (try Tensor.randn([4, 6, 8], generator: g), try Tensor.randn([4, 6, 8], generator: g))
    }

    func trainStep(_ m: SelfAttentionBlock, _ opt: Lamb, _ ema: EMA, _ k: Int) throws {
        let (x, y) = try batch(k)
        try opt.zeroGrad()
        try (m(x) - y).square().mean().backward()
        try opt.step()
        try ema.update(m)
    }

    /// A fresh block, optionally loaded with `initial` weights. (Not seeded through the process-wide
    /// generator: tests running in parallel draw from it too.)
    func make(_ initial: [String: Tensor]? = nil) throws -> (SelfAttentionBlock, Lamb, EMA) {
        let m = try SelfAttentionBlock(dim: 8, heads: 2)
        if let initial { try m.load(initial) }
        let opt = try Lamb(groups: ParameterGroup.miro(m, learningRate: 1e-2, weightDecay: 0.01))
        return (m, opt, try EMA(m, decay: 0.9))
    }

    @Test func trainSaveResumeEqualsUninterrupted() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("miro-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // Uninterrupted: 5 steps.
        let (a, optA, emaA) = try make()
        let initial = try a.stateDict().reduce(into: [String: Tensor]()) { $0[$1.0] = try $1.1.detached().clone() }
        for k in 0..<5 { try trainStep(a, optA, emaA, k) }

        // Interrupted: 2 steps, save everything, restore into fresh objects, 3 more steps.
        let (b, optB, emaB) = try make(initial)
        for k in 0..<2 { try trainStep(b, optB, emaB, k) }
        let file = dir.appendingPathComponent("state.safetensors")
        var tensors: [(String, Tensor)] = b.stateDict().map { ("model.\($0.0)", $0.1) }
        tensors += try optB.stateTensors().map { ("optimizer.\($0.key)", $0.value) }
        tensors += emaB.shadow.map { ("ema.\($0.name)", $0.tensor) }
        try TensorFiles.saveSafeTensors(tensors, metadata: ["ema_updates": "\(emaB.updates)"], to: file)

        let (c, optC, emaC) = try make()   // its own random init: everything must come from the file
        let (loaded, meta) = try TensorFiles.loadSafeTensors(file)
        func section(_ p: String) -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: loaded.compactMap { $0.key.hasPrefix(p) ? (String($0.key.dropFirst(p.count)), $0.value) : nil })
        }
        try c.load(section("model."))
        try optC.loadStateTensors(section("optimizer."))
        try emaC.load(section("ema."), updates: Int(try #require(meta["ema_updates"])) ?? -1)
        #expect(emaC.updates == 2)
        for k in 2..<5 { try trainStep(c, optC, emaC, k) }

        for ((name, x), (_, y)) in zip(a.stateDict(), c.stateDict()) {
            #expect(try x.bytes() == y.bytes(), "parameter \(name) differs after resume")
        }
        for (s, t) in zip(emaA.shadow, emaC.shadow) {
            #expect(try s.tensor.bytes() == t.tensor.bytes(), "EMA \(s.name) differs after resume")
        }
    }

    @Test func incompleteOptimizerStateIsAnError() throws {
        let (m, opt, _) = try make()
        let name = try #require(m.trainableParameters().first?.0)
        let error = #expect(throws: OptimizerError.self) {
            try opt.loadStateTensors(["\(name).exp_avg": try Tensor.zeros([1])])
        }
        #expect(error == .incompleteState(parameter: name, missing: ["\(name).exp_avg_sq", "\(name).step"]))
    }
}
