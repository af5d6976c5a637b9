import MiroEngine

/// Base class of every layer and model, in the style of mlx-swift's `Module`.
///
/// A module declares its state with property wrappers that carry the PyTorch state-dict key:
///
///     final class Linear: Module {
///         @Param(key: "weight") var weight: Tensor
///         @Param(key: "bias") var bias: Tensor?
///     }
///     final class Block: Module {
///         @Child(key: "sa") var attention: AttentionOp
///         @Child(key: "processer_sa") var layers: [SelfAttentionBlock]
///     }
///
/// Reflection over those declarations gives the parameter tree; dotted paths
/// (`processer_sa.0.sa.qkv.weight`) equal `state_dict()` keys of the official model, so a
/// released `model.safetensors` loads without any renaming. Subclasses call `super.init()` first,
/// then assign their declared properties.
open class Module {
    /// Training mode (`nn.Module.training`); toggled for the whole tree by `train(_:)`.
    public private(set) var training = true

    public init() {}

    // MARK: Reflection

    /// The declared state of this module itself (not its children's), in declaration order.
    func ownSlots() -> [(key: String, slot: any ModuleSlot)] {
        var result: [(String, any ModuleSlot)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        var chain: [Mirror] = []
        while let m = mirror { chain.append(m); mirror = m.superclassMirror }
        // Superclass state first, as PyTorch registers a base class's attributes first.
        for m in chain.reversed() {
            for child in m.children {
                guard let slot = child.value as? any ModuleSlot else { continue }
                let name = child.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 } ?? "?"
                result.append((slot.key ?? name, slot))
            }
        }
        return result
    }

    /// Direct sub-modules with their keys (`"ffn"`, `"processer_sa.0"`, ...).
    public func namedChildren() -> [(String, Module)] {
        ownSlots().flatMap { key, slot in
            slot.modules().map { index, module in (index.map { "\(key).\($0)" } ?? key, module) }
        }
    }

    /// Every module of the tree including `self` (key ""), depth first.
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (key, child) in namedChildren() {
            out += child.namedModules(prefix: prefix.isEmpty ? key : "\(prefix).\(key)")
        }
        return out
    }

    /// Trainable and frozen parameters with their full dotted keys.
    public func namedParameters() -> [(String, Tensor)] { collect(parameters: true) }

    /// Persistent non-trainable state (Fourier features, bool masks) with dotted keys.
    public func namedBuffers() -> [(String, Tensor)] { collect(parameters: false) }

    /// Parameters and buffers: exactly the keys of the official `state_dict()`.
    public func stateDict() -> [(String, Tensor)] { namedParameters() + namedBuffers() }

    public func parameters() -> [Tensor] { namedParameters().map(\.1) }

    /// Parameters that currently receive gradients.
    public func trainableParameters() -> [(String, Tensor)] { namedParameters().filter { $0.1.requiresGrad } }

    /// Number of scalar parameters (trainable and frozen; buffers excluded).
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.count } }

    private func collect(parameters: Bool) -> [(String, Tensor)] {
        namedTensorSlots().compactMap { key, slot in
            slot.isParameter == parameters ? slot.tensor.map { (key, $0) } : nil
        }
    }

    /// Every parameter/buffer slot with its full key, for loaders that replace tensors.
    func namedTensorSlots() -> [(String, TensorSlot)] {
        var out: [(String, TensorSlot)] = []
        for (prefix, module) in namedModules() {
            for (key, slot) in module.ownSlots() {
                guard let ts = slot as? TensorSlot, ts.tensor != nil else { continue }
                out.append((prefix.isEmpty ? key : "\(prefix).\(key)", ts))
            }
        }
        return out
    }

    // MARK: Modes

    /// Sets training mode on the whole tree (`model.train()` / `model.eval()`).
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.training = on }
    }

    public func eval() { train(false) }

    /// Stops gradients for every parameter (`requires_grad_(False)`).
    public func freeze() throws { for p in parameters() where p.dtype.isFloatingPoint { try p.requiringGrad(false) } }

    public func unfreeze() throws { for p in parameters() where p.dtype.isFloatingPoint { try p.requiringGrad(true) } }

    /// Drops every parameter's gradient (`zero_grad(set_to_none=True)`).
    public func zeroGrad() throws { for p in parameters() { try p.setGrad(nil) } }

    /// Moves/converts every parameter and buffer. Parameters stay trainable leaves.
    ///
    /// A tensor that changes dtype or device is a new tensor object in its slot (libtorch's
    /// `param.data = …` is not available through the shim); one that needs no change keeps its
    /// identity. An optimizer or EMA bound to the module (`bind(to:)`) follows the swap by
    /// parameter name; an unbound one holding the old objects detects them (`wasReplaced`).
    public func to(_ dtype: DType? = nil, device: Device? = nil) throws {
        try validateParameters()
        for (_, slot) in namedTensorSlots() {
            guard let t = slot.tensor else { continue }
            let targetDType = t.dtype.isFloatingPoint ? dtype ?? t.dtype : t.dtype
            guard targetDType != t.dtype || (device.map { $0 != t.device } ?? false) else { continue }
            let wantsGrad = t.requiresGrad
            let moved = try withoutGrad { try t.to(targetDType, device: device).detached() }
            if wantsGrad { try moved.requiringGrad() }
            slot.tensor = moved
        }
    }

    /// Throws the first parameter assignment that failed in a (non-throwing) `@Param` setter,
    /// with its full dotted key. Optimizers, EMA and `Module.to` call it, so such a failure
    /// surfaces before training instead of leaving a parameter silently untrained.
    public func validateParameters() throws {
        for (prefix, module) in namedModules() {
            for (key, slot) in module.ownSlots() {
                guard let p = slot as? any ValidatedParameter, let failure = p.assignmentError else { continue }
                throw ModuleError.invalidParameter(key: prefix.isEmpty ? key : "\(prefix).\(key)", reason: failure)
            }
        }
    }
}

// MARK: - Declarations

/// Something a module declares: a parameter, a buffer or child modules.
public protocol ModuleSlot: AnyObject {
    var key: String? { get }
    /// Child modules held by this slot, with their list index when the slot holds an array.
    func modules() -> [(Int?, Module)]
}

extension ModuleSlot {
    public func modules() -> [(Int?, Module)] { [] }
}

/// A slot holding one tensor (parameter or buffer).
public protocol TensorSlot: ModuleSlot {
    var tensor: Tensor? { get set }
    /// Parameters are trained; buffers are only saved and loaded.
    var isParameter: Bool { get }
}

/// A slot whose assignments are checked: a parameter must be a leaf that can require grad.
protocol ValidatedParameter {
    /// Why the last assignment through the plain setter could not become a trainable leaf.
    var assignmentError: String? { get }
}

/// Makes `t` a trainable leaf (floating point only: PyTorch's bool "mask" parameters are declared
/// as `Buffer`); returns why it cannot be one.
private func trainableLeafFailure(_ t: Tensor) -> String? {
    guard t.dtype.isFloatingPoint else { return nil }
    // A non-leaf never receives `.grad`, so an optimizer would skip it forever.
    guard t.isLeaf else {
        return "it is the result of a recorded operation (not a leaf); detach it or build it inside withoutGrad"
    }
    guard !t.requiresGrad else { return nil }
    do { try t.requiringGrad() } catch { return "requires_grad could not be set: \(error)" }
    return nil
}

/// A trainable parameter (`nn.Parameter`). Assigning a tensor marks it as requiring grad
/// unless it is not floating point (PyTorch's bool "mask" parameters are declared as `Buffer`).
///
/// The plain setter cannot throw: a tensor that cannot become a trainable leaf is still stored,
/// and the failure is kept for `Module.validateParameters()` (called by `Module.to`, optimizers
/// and EMA). `try $weight.assign(t)` throws it at once instead.
@propertyWrapper
public final class Param: TensorSlot, ValidatedParameter {
    public let key: String?
    public var isParameter: Bool { true }
    public var tensor: Tensor? {
        didSet { ReplacedParameters.record(replaced: oldValue, by: tensor) }
    }
    public private(set) var assignmentError: String?

    public init(key: String? = nil) { self.key = key }

    public var wrappedValue: Tensor {
        get {
            guard let tensor else { preconditionFailure("parameter '\(key ?? "?")' read before it was assigned") }
            return tensor
        }
        set {
            assignmentError = trainableLeafFailure(newValue)
            tensor = newValue
        }
    }

    /// `$weight`: the slot itself, for the throwing `assign(_:)`.
    public var projectedValue: Param { self }

    /// Assigns `newValue`, throwing `ModuleError.invalidParameter` (and assigning nothing) when it
    /// cannot become a trainable leaf.
    public func assign(_ newValue: Tensor) throws {
        if let failure = trainableLeafFailure(newValue) {
            throw ModuleError.invalidParameter(key: key ?? "?", reason: failure)
        }
        assignmentError = nil
        tensor = newValue
    }
}

/// An optional parameter (`bias=False` leaves it nil and out of the state dict); assignments are
/// checked as `Param`'s are.
@propertyWrapper
public final class OptionalParam: TensorSlot, ValidatedParameter {
    public let key: String?
    public var isParameter: Bool { true }
    public var tensor: Tensor? {
        didSet { ReplacedParameters.record(replaced: oldValue, by: tensor) }
    }
    public private(set) var assignmentError: String?

    public init(key: String? = nil) { self.key = key }

    public var wrappedValue: Tensor? {
        get { tensor }
        set {
            assignmentError = newValue.flatMap(trainableLeafFailure)
            tensor = newValue
        }
    }

    /// `$bias`: the slot itself, for the throwing `assign(_:)`.
    public var projectedValue: OptionalParam { self }

    /// Assigns `newValue` (nil removes the parameter), throwing `ModuleError.invalidParameter`
    /// (and assigning nothing) when it cannot become a trainable leaf.
    public func assign(_ newValue: Tensor?) throws {
        if let t = newValue, let failure = trainableLeafFailure(t) {
            throw ModuleError.invalidParameter(key: key ?? "?", reason: failure)
        }
        assignmentError = nil
        tensor = newValue
    }
}

/// Persistent state that is saved and loaded but not trained: random Fourier features, masks.
@propertyWrapper
public final class Buffer: TensorSlot {
    public let key: String?
    public var isParameter: Bool { false }
    public var tensor: Tensor?

    public init(key: String? = nil) { self.key = key }

    public var wrappedValue: Tensor {
        get {
            guard let tensor else { preconditionFailure("buffer '\(key ?? "?")' read before it was assigned") }
            return tensor
        }
        set { tensor = newValue }
    }
}

/// Child module(s): a module, an optional module, or an array (keys `name.0`, `name.1`, ...).
@propertyWrapper
public final class Child<M>: ModuleSlot {
    public let key: String?
    var value: M?

    public init(key: String? = nil) { self.key = key }

    public var wrappedValue: M {
        get {
            if let value { return value }
            // An optional child (`Linear?`) that was never assigned reads as nil.
            if let optional = M.self as? any ExpressibleByNilLiteral.Type, let none = optional.init(nilLiteral: ()) as? M {
                return none
            }
            preconditionFailure("child module '\(key ?? "?")' read before it was assigned")
        }
        set {
            value = newValue
            // Cached parameter lookups (`ParameterIndex`) re-walk the tree after this.
            ModuleTree.structureChanged()
        }
    }

    public func modules() -> [(Int?, Module)] {
        guard let value else { return [] }
        if let list = value as? [Module] { return list.enumerated().map { ($0.offset, $0.element) } }
        if let module = value as? Module { return [(nil, module)] }
        return []
    }
}
