import MiroEngine
import MiroNN

/// A set of parameters sharing hyper-parameters (`optimizer.param_groups[i]`).
///
/// Parameter names key the optimizer state and the checkpoint entries (`<name>.exp_avg`, …), so
/// they must be unique across groups; for `bind(to:)` they must be the module's dotted keys.
public struct ParameterGroup {
    public var name: String
    public var parameters: [(name: String, tensor: Tensor)]
    public var learningRate: Double
    public var weightDecay: Double
    /// LAMB's per-group trust-ratio switch; nil means "on when weight decay > 0", the official default.
    public var layerAdaptation: Bool?

    public init(name: String, parameters: [(name: String, tensor: Tensor)], learningRate: Double,
                weightDecay: Double, layerAdaptation: Bool? = nil) {
        self.name = name
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.layerAdaptation = layerAdaptation
    }
}

/// Per-parameter moment estimates of Adam-family optimizers.
final class AdamState {
    var step = 0
    private(set) var expAvg: Tensor
    private(set) var expAvgSq: Tensor

    init(like p: Tensor) throws {
        expAvg = try Tensor.zeros(p.shape, dtype: p.dtype, device: p.device)
        expAvgSq = try Tensor.zeros(p.shape, dtype: p.dtype, device: p.device)
    }

    /// Keeps the moments in the parameter's dtype and on its device (they move with it after
    /// `Module.to`; a no-op otherwise, so training numerics are untouched).
    func follow(_ p: Tensor, name: String) throws {
        guard expAvg.shape == p.shape else {
            throw OptimizerError.stateShapeMismatch(parameter: name, state: expAvg.shape, parameterShape: p.shape)
        }
        guard expAvg.dtype != p.dtype || expAvg.device != p.device else { return }
        try withoutGrad {
            expAvg = try expAvg.to(p.dtype, device: p.device)
            expAvgSq = try expAvgSq.to(p.dtype, device: p.device)
        }
    }
}

/// What every optimizer offers the training loop.
public protocol Optimizer: AnyObject {
    /// The parameter groups; for a bound optimizer their tensors are the module's current ones.
    var groups: [ParameterGroup] { get set }
    /// Applies one update from the parameters' current gradients (parameters without one are skipped).
    func step() throws
    /// The optimizer state as flat tensors (`<param>.exp_avg`, `<param>.exp_avg_sq`, `<param>.step`),
    /// for checkpoints.
    func stateTensors() throws -> [String: Tensor]
    func loadStateTensors(_ state: [String: Tensor]) throws
    /// Reads every group's parameters from `module` by name from now on (group names must be the
    /// module's dotted keys), so that `Module.to`, which swaps parameter tensors, is followed: the
    /// state is kept by name and moved to the new dtype/device. Also the way to re-attach an
    /// unbound optimizer after such a move.
    func bind(to module: Module) throws
}

extension Optimizer {
    /// Sets the learning rate of every group (schedules scale one base rate).
    public func setLearningRate(_ lr: Double) {
        for i in groups.indices { groups[i].learningRate = lr }
    }

    /// Drops all gradients (`zero_grad(set_to_none=True)`).
    public func zeroGrad() throws {
        for g in groups { for p in g.parameters { try p.tensor.setGrad(nil) } }
    }
}

/// Shared state bookkeeping for Adam-style optimizers.
///
/// State is keyed by parameter name, like mlx-swift's parameter-shaped state tree: a tensor object
/// is only where the parameter lives *now*. Bound to a module (`bind(to:)`), the optimizer re-reads
/// each tensor through the module's slots, so a swapped tensor cannot go stale; unbound, a tensor
/// that its module has replaced is detected at the next step (`OptimizerError.staleParameter`).
public class AdamFamily {
    /// The groups as last set; their tensors are refreshed from the bound module when read.
    private var storedGroups: [ParameterGroup]
    private var index: ParameterIndex?
    var state: [String: AdamState] = [:]

    init(groups: [ParameterGroup]) throws {
        try Self.checkUnique(groups)
        storedGroups = groups
    }

    public var groups: [ParameterGroup] {
        get {
            refreshTensors()
            return storedGroups
        }
        set { storedGroups = newValue }
    }

    /// The module the optimizer reads its parameters from, if bound (held weakly).
    public var module: Module? { index?.module }

    public func bind(to module: Module) throws {
        try module.validateParameters()
        let index = ParameterIndex(module)
        for g in storedGroups {
            for p in g.parameters {
                guard let t = index.tensor(p.name) else { throw OptimizerError.unknownParameter(p.name) }
                guard t.shape == p.tensor.shape else {
                    throw OptimizerError.parameterShapeMismatch(p.name, group: p.tensor.shape, module: t.shape)
                }
            }
        }
        self.index = index
        refreshTensors()
    }

    private static func checkUnique(_ groups: [ParameterGroup]) throws {
        var seen = Set<String>()
        for g in groups {
            for p in g.parameters where !seen.insert(p.name).inserted { throw OptimizerError.duplicateParameter(p.name) }
        }
    }

    /// Replaces each group tensor by the bound module's current tensor of the same name.
    private func refreshTensors() {
        guard let index else { return }
        for i in storedGroups.indices {
            for j in storedGroups[i].parameters.indices {
                let entry = storedGroups[i].parameters[j]
                if let t = index.tensor(entry.name), t !== entry.tensor { storedGroups[i].parameters[j].tensor = t }
            }
        }
    }

    /// The groups one `step()` updates: names unique, and every tensor the parameter's live one
    /// (bound: present in the module; unbound: not replaced in its module since).
    func groupsForStep() throws -> [ParameterGroup] {
        let groups = self.groups
        try Self.checkUnique(groups)
        if let index {
            for g in groups {
                for p in g.parameters where !index.contains(p.name) { throw OptimizerError.unknownParameter(p.name) }
            }
        } else {
            let all = groups.flatMap(\.parameters)
            if let k = Module.firstReplaced(in: all.map(\.tensor)) { throw OptimizerError.staleParameter(all[k].name) }
        }
        return groups
    }

    /// The moments of parameter `name`, created at its first update, kept in `p`'s dtype and device.
    func state(for name: String, _ p: Tensor) throws -> AdamState {
        if let s = state[name] {
            try s.follow(p, name: name)
            return s
        }
        let s = try AdamState(like: p)
        state[name] = s
        return s
    }

    public func stateTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for g in groups {
            for p in g.parameters {
                guard let s = state[p.name] else { continue }
                out["\(p.name).exp_avg"] = s.expAvg
                out["\(p.name).exp_avg_sq"] = s.expAvgSq
                out["\(p.name).step"] = try Tensor([Int64(s.step)])
            }
        }
        return out
    }

    public func loadStateTensors(_ saved: [String: Tensor]) throws {
        for g in groups {
            for p in g.parameters {
                let keys = ["exp_avg", "exp_avg_sq", "step"].map { "\(p.name).\($0)" }
                guard let m = saved[keys[0]], let v = saved[keys[1]], let st = saved[keys[2]] else {
                    let missing = keys.filter { saved[$0] == nil }
                    if saved.keys.contains(where: { $0.hasPrefix("\(p.name).") }) {
                        throw OptimizerError.incompleteState(parameter: p.name, missing: missing)
                    }
                    continue
                }
                for moment in [m, v] where moment.shape != p.tensor.shape {
                    throw OptimizerError.stateShapeMismatch(parameter: p.name, state: moment.shape, parameterShape: p.tensor.shape)
                }
                let s = try AdamState(like: p.tensor)
                try withoutGrad {
                    try s.expAvg.copy_(m.to(p.tensor.dtype, device: p.tensor.device))
                    try s.expAvgSq.copy_(v.to(p.tensor.dtype, device: p.tensor.device))
                }
                let stepValue = try st.item()
                guard stepValue.isFinite, stepValue >= 0, let step = Int(exactly: stepValue) else {
                    throw OptimizerError.incompleteState(parameter: p.name, missing: ["a valid step (got \(stepValue))"])
                }
                s.step = step
                state[p.name] = s
            }
        }
    }
}
