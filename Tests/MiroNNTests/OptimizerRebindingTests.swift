import Foundation
import MiroEngine
import MiroNN
import MiroOptim
import Testing

/// Optimizer and EMA state belongs to parameter *names*: `Module.to` swaps the tensor objects, and
/// training must go on as if the model had never moved (or fail loudly when it cannot).
@Suite(.serialized)
struct OptimizerRebindingTests {
    enum Kind: String, CaseIterable, Sendable { case adamW, lamb }

    func makeOptimizer(_ kind: Kind, _ m: Module) throws -> any Optimizer {
        let groups = ParameterGroup.miro(m, learningRate: 1e-2, weightDecay: 0.01)
        switch kind {
        case .adamW: return try AdamW(groups: groups)
        case .lamb: return try Lamb(groups: groups)
        }
    }

    func batch(_ k: Int, dtype: DType) throws -> (Tensor, Tensor) {
        let g = try Generator(seed: UInt64(500 + k))
        return (try Tensor.randn([3, 5, 8], generator: g).to(dtype), try Tensor.randn([3, 5, 8], generator: g).to(dtype))
    }

    func trainStep(_ m: SelfAttentionBlock, _ opt: any Optimizer, _ ema: EMA?, _ k: Int, dtype: DType) throws {
        let (x, y) = try batch(k, dtype: dtype)
        try opt.zeroGrad()
        try (m(x) - y).square().mean().backward()
        try opt.step()
        try ema?.update(m)
    }

    /// Two blocks with the same initial weights (not drawn from the shared generator: suites run in parallel).
    func pair() throws -> (SelfAttentionBlock, SelfAttentionBlock) {
        let a = try SelfAttentionBlock(dim: 8, heads: 2), b = try SelfAttentionBlock(dim: 8, heads: 2)
        try b.load(a.stateDictionary().mapValues { try $0.clone() })
        return (a, b)
    }

    @Test(arguments: Kind.allCases)
    func optimizerAndEMAStateSurviveModuleTo(kind: Kind) throws {
        let (moved, reference) = try pair()
        let opt = try makeOptimizer(kind, moved), refOpt = try makeOptimizer(kind, reference)
        try opt.bind(to: moved)
        let ema = try EMA(moved, decay: 0.9), refEMA = try EMA(reference, decay: 0.9)
        for k in 0..<3 {
            try trainStep(moved, opt, ema, k, dtype: .float32)
            try trainStep(reference, refOpt, refEMA, k, dtype: .float32)
        }
        let namesBefore = Set(try opt.stateTensors().keys)
        let oldWeight = try #require(moved.trainableParameters().first?.1)

        // What moving should amount to: checkpoint now, reload into a float64 model and fresh objects.
        let reloaded = try SelfAttentionBlock(dim: 8, heads: 2)
        try reloaded.to(.float64)
        try reloaded.load(moved.stateDictionary().mapValues { try $0.clone() })
        let reloadedOpt = try makeOptimizer(kind, reloaded)
        try reloadedOpt.loadStateTensors(opt.stateTensors().mapValues { try $0.clone() })
        let reloadedEMA = try EMA(reloaded, decay: 0.9)
        try reloadedEMA.load(Dictionary(uniqueKeysWithValues: ema.shadow.map { ($0.name, try $0.tensor.clone()) }),
                             updates: ema.updates)

        try moved.to(.float64)   // swaps every parameter tensor
        #expect(!oldWeight.isSame(as: try #require(moved.trainableParameters().first?.1)))
        #expect(opt.groups.allSatisfy { $0.parameters.allSatisfy { $0.tensor.dtype == .float64 } })
        for k in 3..<6 {
            try trainStep(moved, opt, ema, k, dtype: .float64)
            try trainStep(reloaded, reloadedOpt, reloadedEMA, k, dtype: .float64)
            try trainStep(reference, refOpt, refEMA, k, dtype: .float32)
        }

        // Bit for bit what the checkpoint round trip gives (moments and EMA moved, steps counted on).
        for ((name, p), (_, q)) in zip(moved.trainableParameters(), reloaded.trainableParameters()) {
            #expect(p.dtype == .float64)
            #expect(try p.bytes() == q.bytes(), "\(kind) \(name)")
        }
        let state = try opt.stateTensors(), reloadedState = try reloadedOpt.stateTensors()
        #expect(Set(state.keys) == namesBefore && Set(state.keys) == Set(reloadedState.keys))
        for (key, value) in state {
            #expect(try value.bytes() == #require(reloadedState[key]).bytes(), "\(key)")
            if key.hasSuffix(".step") {
                #expect(try value.item() == 6, "\(key): step count continues")
            } else {
                #expect(value.dtype == .float64, "\(key) moved with its parameter")
            }
        }
        for (s, r) in zip(ema.shadow, reloadedEMA.shadow) {
            #expect(s.tensor.dtype == .float64)
            #expect(try s.tensor.bytes() == r.tensor.bytes(), "EMA \(s.name)")
        }

        // And the trajectory of the block that never moved, to float32 precision (had the moments
        // been dropped or stale tensors updated, steps 3–5 would differ by ~lr). Skipped: parameters
        // whose gradient is rounding noise (k_norm's bias shifts every key alike, which softmax
        // ignores), where Adam's normalised step turns float32 vs float64 noise into ±lr.
        for ((name, p), (_, r)) in zip(moved.trainableParameters(), reference.trainableParameters())
        where try (r.grad?.norm().item() ?? 0) > 1e-6 {
            #expect(try maxAbsError(p, r) < 1e-5, "\(kind) \(name)")
        }
        for (s, r) in zip(ema.shadow, refEMA.shadow) where !s.name.hasPrefix("sa.k_norm.bias") {
            #expect(try maxAbsError(s.tensor, r.tensor) < 1e-5, "EMA \(s.name)")
        }
    }

    @Test func unboundOptimizerDetectsAMovedParameterAndBindRecovers() throws {
        let m = try SelfAttentionBlock(dim: 8, heads: 2)
        let opt = try AdamW(m.trainableParameters().map { (name: $0.0, tensor: $0.1) }, lr: 1e-2)
        try trainStep(m, opt, nil, 0, dtype: .float32)
        try m.to(.float64)
        let (x, y) = try batch(1, dtype: .float64)
        try (m(x) - y).square().mean().backward()
        let error = #expect(throws: OptimizerError.self) { try opt.step() }
        guard case .staleParameter(let name) = error else { Issue.record("expected staleParameter, got \(String(describing: error))"); return }
        #expect(error?.description.contains("bind(to: module)") == true && m.trainableParameters().contains { $0.0 == name })

        try opt.bind(to: m)
        try opt.step()
        let state = try opt.stateTensors()
        #expect(try #require(state["\(name).step"]).item() == 2)
        #expect(try #require(state["\(name).exp_avg"]).dtype == .float64)
    }

    @Test func bindChecksNamesAndShapes() throws {
        let block = try SelfAttentionBlock(dim: 8, heads: 2)
        // Names prefixed as for a parent model do not resolve in the block itself.
        var groups = ParameterGroup.miro(block, learningRate: 1e-3, weightDecay: 0)
        groups[0].parameters = groups[0].parameters.map { (name: "network.\($0.name)", tensor: $0.tensor) }
        let opt = try AdamW(groups: groups)
        let unknown = #expect(throws: OptimizerError.self) { try opt.bind(to: block) }
        #expect(unknown == .unknownParameter(try #require(groups[0].parameters.first?.name)))

        let other = try SelfAttentionBlock(dim: 16, heads: 2)
        let mismatched = try AdamW(groups: ParameterGroup.miro(block, learningRate: 1e-3, weightDecay: 0))
        let e = #expect(throws: OptimizerError.self) { try mismatched.bind(to: other) }
        guard case .parameterShapeMismatch = e else { Issue.record("expected parameterShapeMismatch, got \(String(describing: e))"); return }
        #expect(mismatched.module == nil)
        try mismatched.bind(to: block)
        #expect(mismatched.module === block)
    }

    @Test func misuseThrowsTypedOptimizerErrors() throws {
        let p = try Tensor([1.0, 2.0]).requiringGrad()
        let duplicate = #expect(throws: OptimizerError.self) { try AdamW([("w", p), ("w", p)]) }
        #expect(duplicate == .duplicateParameter("w"))
        #expect(duplicate?.description.contains("more than once") == true)
        let lamb = try Lamb(groups: [ParameterGroup(name: "g", parameters: [("w", p)], learningRate: 1e-2, weightDecay: 0)])
        lamb.groups.append(ParameterGroup(name: "h", parameters: [("w", p)], learningRate: 1e-2, weightDecay: 0))
        #expect(throws: OptimizerError.duplicateParameter("w")) { try lamb.step() }
        #expect(throws: OptimizerError.self) {
            try Lamb(groups: [ParameterGroup(name: "g", parameters: [("w", p)], learningRate: -1, weightDecay: 0)])
        }
        #expect(throws: OptimizerError.self) { try EMA(Linear(2, 2), decay: 2) }
        let opt = try AdamW([("w", p)])
        let shape = #expect(throws: OptimizerError.self) {
            try opt.loadStateTensors(["w.exp_avg": try Tensor.zeros([3]), "w.exp_avg_sq": try Tensor.zeros([3]),
                                      "w.step": try Tensor([Int64(1)])])
        }
        #expect(shape == .stateShapeMismatch(parameter: "w", state: [3], parameterShape: [2]))
    }

    @Test func moduleToKeepsTensorsThatNeedNoConversionAndMarksReplacedOnes() throws {
        let lin = try Linear(3, 2)
        let w = lin.weight
        try lin.to(.float32)
        #expect(lin.weight === w && !Module.wasReplaced(w))
        try lin.to(.float64)
        #expect(lin.weight !== w && lin.weight.requiresGrad && lin.weight.isLeaf)
        #expect(Module.wasReplaced(w) && !Module.wasReplaced(lin.weight))
        #expect(Module.firstReplaced(in: [lin.weight, w]) == 1)
        // Assigned back, the old tensor is a live parameter again.
        lin.weight = w
        #expect(!Module.wasReplaced(w))
    }
}

@Suite struct ParameterAssignmentTests {
    final class Holder: Module {
        @Param(key: "w") var w: Tensor
        @OptionalParam(key: "b") var b: Tensor?
        init(_ w: Tensor) {
            super.init()
            self.w = w
        }
    }

    final class Outer: Module {
        @Child(key: "inner") var inner: Holder
        init(_ inner: Holder) {
            super.init()
            self.inner = inner
        }
    }

    @Test func failedAssignmentSurfacesWithItsFullKey() throws {
        let base = try Tensor([1.0, 2.0]).requiringGrad()
        let nonLeaf = try base * 2   // recorded by autograd: would never receive .grad
        let outer = Outer(try Holder(Tensor([0.0, 0.0])))
        try outer.validateParameters()
        outer.inner.w = nonLeaf
        let error = #expect(throws: ModuleError.self) { try outer.validateParameters() }
        guard case .invalidParameter(let key, let reason) = error else { Issue.record("expected invalidParameter"); return }
        #expect(key == "inner.w" && reason.contains("not a leaf"))
        #expect(throws: ModuleError.self) { try EMA(outer) }
        #expect(throws: ModuleError.self) { try outer.to(.float64) }
        #expect(throws: ModuleError.self) { try AdamW([("inner.w", base)]).bind(to: outer) }

        // A valid assignment clears it; `assign` throws at once and leaves the slot unchanged.
        outer.inner.w = try Tensor([3.0, 4.0])
        try outer.validateParameters()
        #expect(outer.inner.w.requiresGrad)
        #expect(throws: ModuleError.self) { try outer.inner.$w.assign(nonLeaf) }
        #expect(try outer.inner.w.doubles() == [3, 4])
        #expect(throws: ModuleError.self) { try outer.inner.$b.assign(nonLeaf) }
        #expect(outer.inner.b == nil)
        try outer.inner.$b.assign(try Tensor([5.0]))
        #expect(try #require(outer.inner.b).requiresGrad)
        // Integer tensors are stored as non-trainable parameters, as before.
        try outer.inner.$w.assign(try Tensor([Int64(1)]))
        #expect(!outer.inner.w.requiresGrad)
    }

    @Test func parameterIndexFollowsSwapsAndReassignedChildren() throws {
        let outer = Outer(try Holder(Tensor([1.0])))
        let index = ParameterIndex(outer)
        #expect(index.keys == ["inner.w", "inner.b"] && index.tensor("inner.b") == nil && index.contains("inner.b"))
        try outer.to(.float32)
        #expect(index.tensor("inner.w") === outer.inner.w)
        outer.inner = try Holder(Tensor([2.0]))   // a new child: the index walks the tree again
        #expect(try #require(index.tensor("inner.w")).doubles() == [2])
        #expect(index.tensor("inner.missing") == nil && !index.contains("inner.missing"))
    }
}
