import MiroEngine
import MiroNN

/// A set of parameters sharing hyper-parameters (`optimizer.param_groups[i]`).
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
    let expAvg: Tensor
    let expAvgSq: Tensor

    init(like p: Tensor) throws {
        expAvg = try Tensor.zeros(p.shape, dtype: p.dtype, device: p.device)
        expAvgSq = try Tensor.zeros(p.shape, dtype: p.dtype, device: p.device)
    }
}

/// What every optimizer offers the training loop.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get set }
    /// Applies one update from the parameters' current gradients (parameters without one are skipped).
    func step() throws
    /// The optimizer state as flat tensors (`<param>.exp_avg`, `<param>.exp_avg_sq`, `<param>.step`),
    /// for checkpoints.
    func stateTensors() throws -> [String: Tensor]
    func loadStateTensors(_ state: [String: Tensor]) throws
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
public class AdamFamily {
    public var groups: [ParameterGroup]
    var state: [ObjectIdentifier: AdamState] = [:]

    init(groups: [ParameterGroup]) throws {
        var seen = Set<String>()
        for g in groups {
            for p in g.parameters {
                guard seen.insert(p.name).inserted else {
                    throw EngineError("optimizer", "parameter '\(p.name)' appears in more than one group")
                }
            }
        }
        self.groups = groups
    }

    func state(for p: Tensor) throws -> AdamState {
        if let s = state[ObjectIdentifier(p)] { return s }
        let s = try AdamState(like: p)
        state[ObjectIdentifier(p)] = s
        return s
    }

    public func stateTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for g in groups {
            for p in g.parameters {
                guard let s = state[ObjectIdentifier(p.tensor)] else { continue }
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
                guard let m = saved["\(p.name).exp_avg"], let v = saved["\(p.name).exp_avg_sq"],
                      let st = saved["\(p.name).step"] else {
                    if saved.keys.contains(where: { $0.hasPrefix("\(p.name).") }) {
                        throw EngineError("optimizer state", "incomplete state for parameter '\(p.name)'")
                    }
                    continue
                }
                guard m.shape == p.tensor.shape, v.shape == p.tensor.shape else {
                    throw EngineError("optimizer state", "'\(p.name)' moments have shape \(m.shape), parameter has \(p.tensor.shape)")
                }
                let s = try AdamState(like: p.tensor)
                try withoutGrad {
                    try s.expAvg.copy_(m.to(p.tensor.dtype, device: p.tensor.device))
                    try s.expAvgSq.copy_(v.to(p.tensor.dtype, device: p.tensor.device))
                }
                s.step = Int(try st.item())
                state[ObjectIdentifier(p.tensor)] = s
            }
        }
    }
}
