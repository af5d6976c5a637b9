import CTorch

/// Reverse-mode differentiation through libtorch's autograd engine.
extension Tensor {
    public var requiresGrad: Bool { requiresGradFact }

    /// Marks a leaf tensor as a variable to differentiate with respect to.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) throws -> Tensor {
        try check(withHandle { mt_set_requires_grad($0, flag) }, "requires_grad")
        return self
    }

    public var isLeaf: Bool { isLeafFact }

    /// The accumulated gradient, or nil before any backward pass reached this tensor.
    /// (`gradient()` is the throwing form; reading a gradient only fails on a broken engine.)
    public var grad: Tensor? {
        do { return try gradient() } catch { preconditionFailure("\(error)") }
    }

    /// The accumulated gradient, nil when there is none; a failure to read it throws.
    public func gradient() throws -> Tensor? {
        var g: OpaquePointer?
        try check(withHandle { mt_grad($0, &g) }, "grad")
        return g.map(Tensor.init(owning:))
    }

    /// Replaces the gradient (used by gradient clipping and all-reduce).
    public func setGrad(_ g: Tensor?) throws {
        if let g {
            try check(withHandles(self, g) { mt_set_grad($0, $1) }, "set_grad")
        } else {
            try check(withHandle { mt_zero_grad($0) }, "zero_grad")
        }
    }

    /// Back-propagates from this tensor; a non-scalar needs `gradient` (d loss / d self).
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        try check(withHandles(self, gradient) { mt_backward($0, $1, retainGraph) }, "backward")
    }

    /// The same values, cut from the autograd graph (shares storage).
    public func detached() throws -> Tensor { try Tensor.wrap("detach", withHandle { mt_detach($0) }) }
}

/// Switches gradient recording for the current thread.
public enum GradMode {
    public static var isEnabled: Bool { mt_grad_enabled() }

    /// Runs `body` without recording operations for autograd (`torch.no_grad()`).
    public static func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
        let previous = mt_grad_enabled()
        mt_set_grad_enabled(false)
        defer { mt_set_grad_enabled(previous) }
        return try body()
    }

    /// Runs `body` with recording on, even inside a `withoutGrad` scope.
    public static func withGrad<R>(_ body: () throws -> R) rethrows -> R {
        let previous = mt_grad_enabled()
        mt_set_grad_enabled(true)
        defer { mt_set_grad_enabled(previous) }
        return try body()
    }
}

/// `withoutGrad { ... }` reads like PyTorch's `with torch.no_grad():`.
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R { try GradMode.withoutGrad(body) }

/// In-place updates. They keep the tensor's identity, which optimizers and EMA rely on (modules
/// and optimizer state hold the same objects). Call them on leaves under `withoutGrad`.
extension Tensor {
    public func copy_(_ source: Tensor) throws {
        try check(withHandles(self, source) { mt_copy_($0, $1) }, "copy_")
    }
    public func zero_() throws { try check(withHandle { mt_zero_($0) }, "zero_") }
    public func fill_(_ value: Double) throws { try check(withHandle { mt_fill_($0, value) }, "fill_") }
    /// self += alpha · other
    public func add_(_ other: Tensor, alpha: Double = 1) throws {
        try check(withHandles(self, other) { mt_add_($0, $1, alpha) }, "add_")
    }
    public func add_(_ s: Double) throws { try check(withHandle { mt_add_scalar_($0, s) }, "add_") }
    public func mul_(_ other: Tensor) throws {
        try check(withHandles(self, other) { mt_mul_($0, $1) }, "mul_")
    }
    public func mul_(_ s: Double) throws { try check(withHandle { mt_mul_scalar_($0, s) }, "mul_") }
    public func div_(_ other: Tensor) throws {
        try check(withHandles(self, other) { mt_div_($0, $1) }, "div_")
    }
    /// self += value · a · b
    public func addcmul_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try check(withHandles(self, a, b) { mt_addcmul_($0, $1, $2, value) }, "addcmul_")
    }
    /// self += value · a / b
    public func addcdiv_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try check(withHandles(self, a, b) { mt_addcdiv_($0, $1, $2, value) }, "addcdiv_")
    }
    /// self += weight · (end − self)
    public func lerp_(_ end: Tensor, _ weight: Double) throws {
        try check(withHandles(self, end) { mt_lerp_($0, $1, weight) }, "lerp_")
    }
    public func clamp_(min lo: Double, max hi: Double) throws {
        try check(withHandle { mt_clamp_($0, lo, hi) }, "clamp_")
    }
}

/// Automatic mixed precision for the current thread, as `torch.autocast`: inside `run`, the operations on ATen's
/// lower-precision list (matrix products, linear, attention) compute in `dtype` and those on its float32 list in
/// float32 — the lists Python's autocast uses, so a layer gets the casts the official module gets under
/// Lightning's "bf16-mixed". Parameters and their gradients stay float32; run the backward outside.
public enum Autocast {
    public static func run<R>(on device: Device = .cpu, dtype: DType = .bfloat16, _ body: () throws -> R) throws -> R {
        var wasEnabled = false
        var previous: Int32 = 0
        try check(mt_autocast_enter(device.code, dtype.code, &wasEnabled, &previous), "autocast")
        defer { _ = mt_autocast_exit(device.code, wasEnabled, previous) }
        return try body()
    }
}
