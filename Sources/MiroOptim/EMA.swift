import MiroEngine
import MiroNN

/// Exponential moving average of a model's trainable parameters, initialised as a copy
/// (method §6.2: decay 0.9999, updated after every optimizer step). Sampling and release use
/// these weights.
public final class EMA {
    public let decay: Double
    /// With warm-up the decay used at update n is min(decay, (1 + n) / (10 + n)), so that the
    /// average does not drag the random initialisation along in short runs. The official MIRO run
    /// uses a fixed 0.9999 (no warm-up) over 500k steps.
    public let warmup: Bool
    /// Updates applied so far (saved in checkpoints so a resumed run continues identically).
    public private(set) var updates = 0
    /// Shadow tensors by parameter key.
    public private(set) var shadow: [(name: String, tensor: Tensor)]
    /// The model's parameters by key, so `update` does not walk the tree by reflection every step
    /// and follows a `Module.to` that swapped tensors (the shadow then moves along with them).
    private var index: ParameterIndex

    public init(_ model: Module, decay: Double = 0.9999, warmup: Bool = false) throws {
        guard (0...1).contains(decay) else {
            throw OptimizerError.invalidHyperparameters(optimizer: "EMA", reason: "decay must be in [0, 1], got \(decay)")
        }
        try model.validateParameters()
        self.decay = decay
        self.warmup = warmup
        index = ParameterIndex(model)
        shadow = try withoutGrad { try model.trainableParameters().map { ($0.0, try $0.1.detached().clone()) } }
    }

    /// The decay the next update uses.
    public var currentDecay: Double {
        warmup ? min(decay, Double(1 + updates) / Double(10 + updates)) : decay
    }

    /// shadow ← d·shadow + (1 − d)·param, with d = `currentDecay`. Parameters are found by key;
    /// a shadow whose parameter changed dtype or device (`Module.to`) is converted first.
    public func update(_ model: Module) throws {
        if index.module !== model { index = ParameterIndex(model) }
        let d = currentDecay
        var shadows: [Tensor] = [], params: [Tensor] = []
        shadows.reserveCapacity(shadow.count)
        params.reserveCapacity(shadow.count)
        try withoutGrad {
            for i in shadow.indices {
                let name = shadow[i].name
                guard let p = index.tensor(name), p.requiresGrad else { throw OptimizerError.emaParameterMissing(name) }
                var s = shadow[i].tensor
                if s.dtype != p.dtype || s.device != p.device {
                    s = try s.to(p.dtype, device: p.device)
                    shadow[i].tensor = s
                }
                shadows.append(s)
                params.append(p)
            }
            try MultiTensor.emaUpdate(shadow: shadows, parameters: params, decay: d)
        }
        updates += 1
    }

    /// Copies the averaged weights into `model` (e.g. a second instance used for sampling).
    public func copy(into model: Module) throws {
        try model.loadTrainableWeights(Dictionary(uniqueKeysWithValues: shadow.map { ($0.name, $0.tensor) }), source: "EMA")
    }

    /// Restores shadow weights and the update count from a checkpoint.
    public func load(_ tensors: [String: Tensor], updates: Int) throws {
        try withoutGrad {
            for (name, s) in shadow {
                guard let t = tensors[name] else { throw OptimizerError.emaWeightsMissing(source: "checkpoint", keys: [name]) }
                guard t.shape == s.shape else {
                    throw OptimizerError.emaShapeMismatch(name, saved: t.shape, model: s.shape)
                }
                try s.copy_(t.to(s.dtype, device: s.device))
            }
        }
        self.updates = updates
    }
}
