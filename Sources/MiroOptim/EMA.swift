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

    public init(_ model: Module, decay: Double = 0.9999, warmup: Bool = false) throws {
        guard (0...1).contains(decay) else { throw EngineError("EMA", "decay must be in [0, 1], got \(decay)") }
        self.decay = decay
        self.warmup = warmup
        shadow = try withoutGrad { try model.trainableParameters().map { ($0.0, try $0.1.detached().clone()) } }
    }

    /// The decay the next update uses.
    public var currentDecay: Double {
        warmup ? min(decay, Double(1 + updates) / Double(10 + updates)) : decay
    }

    /// shadow ← d·shadow + (1 − d)·param, with d = `currentDecay`
    public func update(_ model: Module) throws {
        let params = Dictionary(uniqueKeysWithValues: model.trainableParameters().map { ($0.0, $0.1) })
        let d = currentDecay
        try withoutGrad {
            for (name, s) in shadow {
                guard let p = params[name] else { throw EngineError("EMA", "model has no trainable parameter '\(name)'") }
                try s.mul_(d)
                try s.add_(p, alpha: 1 - d)
            }
        }
        updates += 1
    }

    /// Copies the averaged weights into `model` (e.g. a second instance used for sampling).
    public func copy(into model: Module) throws {
        try EMA.apply(Dictionary(uniqueKeysWithValues: shadow.map { ($0.name, $0.tensor) }), to: model)
    }

    /// Loads EMA weights (keyed like `model`'s trainable parameters, e.g. from a checkpoint) into
    /// `model`. Every trainable parameter must be covered, and nothing is copied when one is not.
    public static func apply(_ weights: [String: Tensor], to model: Module, source: String = "EMA") throws {
        let missing = Set(model.trainableParameters().map(\.0)).subtracting(weights.keys)
        guard missing.isEmpty else {
            throw EngineError(source, "EMA weights missing for \(missing.sorted().prefix(5).joined(separator: ", "))")
        }
        let report = try model.load(weights, strict: false, source: source)
        guard report.mismatched.isEmpty, report.unexpected.isEmpty else { throw StateDictError(source: source, report: report) }
    }

    /// Restores shadow weights and the update count from a checkpoint.
    public func load(_ tensors: [String: Tensor], updates: Int) throws {
        try withoutGrad {
            for (name, s) in shadow {
                guard let t = tensors[name] else { throw EngineError("EMA", "checkpoint lacks EMA weight '\(name)'") }
                guard t.shape == s.shape else {
                    throw EngineError("EMA", "EMA weight '\(name)' has shape \(t.shape), model has \(s.shape)")
                }
                try s.copy_(t.to(s.dtype, device: s.device))
            }
        }
        self.updates = updates
    }
}
