import CTorch

/// Reverse-mode differentiation through libtorch's autograd engine.
extension Tensor {
    public var requiresGrad: Bool {
        get { mt_requires_grad(handle) }
    }

    /// Marks a leaf tensor as a variable to differentiate with respect to.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) throws -> Tensor {
        try check(mt_set_requires_grad(handle, flag), "requires_grad")
        return self
    }

    public var isLeaf: Bool { mt_is_leaf(handle) }

    /// The accumulated gradient, or nil before any backward pass reached this tensor.
    public var grad: Tensor? {
        guard let h = mt_grad(handle) else { return nil }
        return Tensor(owning: h)
    }

    /// Replaces the gradient (used by gradient clipping and all-reduce).
    public func setGrad(_ g: Tensor?) throws {
        if let g {
            try withExtendedLifetime(g) { try check(mt_set_grad(handle, g.handle), "set_grad") }
        } else {
            try check(mt_zero_grad(handle), "zero_grad")
        }
    }

    /// Back-propagates from this tensor; a non-scalar needs `gradient` (d loss / d self).
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        try withExtendedLifetime(gradient) {
            try check(mt_backward(handle, gradient?.handle, retainGraph), "backward")
        }
    }

    /// The same values, cut from the autograd graph (shares storage).
    public func detached() throws -> Tensor { try Tensor.wrap("detach", mt_detach(handle)) }
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
        try withExtendedLifetime(source) { try check(mt_copy_(handle, source.handle), "copy_") }
    }
    public func zero_() throws { try check(mt_zero_(handle), "zero_") }
    public func fill_(_ value: Double) throws { try check(mt_fill_(handle, value), "fill_") }
    /// self += alpha · other
    public func add_(_ other: Tensor, alpha: Double = 1) throws {
        try withExtendedLifetime(other) { try check(mt_add_(handle, other.handle, alpha), "add_") }
    }
    public func add_(_ s: Double) throws { try check(mt_add_scalar_(handle, s), "add_") }
    public func mul_(_ other: Tensor) throws {
        try withExtendedLifetime(other) { try check(mt_mul_(handle, other.handle), "mul_") }
    }
    public func mul_(_ s: Double) throws { try check(mt_mul_scalar_(handle, s), "mul_") }
    public func div_(_ other: Tensor) throws {
        try withExtendedLifetime(other) { try check(mt_div_(handle, other.handle), "div_") }
    }
    /// self += value · a · b
    public func addcmul_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try withExtendedLifetime((a, b)) { try check(mt_addcmul_(handle, a.handle, b.handle, value), "addcmul_") }
    }
    /// self += value · a / b
    public func addcdiv_(_ a: Tensor, _ b: Tensor, value: Double = 1) throws {
        try withExtendedLifetime((a, b)) { try check(mt_addcdiv_(handle, a.handle, b.handle, value), "addcdiv_") }
    }
    /// self += weight · (end − self)
    public func lerp_(_ end: Tensor, _ weight: Double) throws {
        try withExtendedLifetime(end) { try check(mt_lerp_(handle, end.handle, weight), "lerp_") }
    }
    public func clamp_(min lo: Double, max hi: Double) throws { try check(mt_clamp_(handle, lo, hi), "clamp_") }
}
