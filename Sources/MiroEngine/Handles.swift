import CTorch

/// Something that owns shim handles (a tensor, a generator, an optional or an array of tensors).
///
/// This is the one lifetime helper of the module: `Tensor` and `Generator` keep their handles
/// private, and every C call receives them from `withHandle` / `withHandles`, which keep the owners
/// alive until the call has returned. A handle passed as `someTemporary().handle` could otherwise
/// be freed before the C function read it (docs/engine.md, interop rule 1).
protocol HandleOwner {
    associatedtype Handle
    /// Runs `body` with the handle(s) while `self` is alive; `body` must not let them escape.
    func withHandle<R>(_ body: (Handle) throws -> R) rethrows -> R
}

extension Tensor: HandleOwner {}
extension Generator: HandleOwner {}

/// `nil` becomes a NULL handle (the shim's "absent" for optional arguments).
extension Optional: HandleOwner where Wrapped: HandleOwner, Wrapped.Handle == OpaquePointer {
    func withHandle<R>(_ body: (OpaquePointer?) throws -> R) rethrows -> R {
        switch self {
        case .some(let owner): try owner.withHandle { try body($0) }
        case .none: try body(nil)
        }
    }
}

/// The handles of all elements, as the C array the shim's list functions take.
extension Array: HandleOwner where Element == Tensor {
    func withHandle<R>(_ body: ([OpaquePointer?]) throws -> R) rethrows -> R {
        // Each handle leaves its own `withHandle` here, which is safe only because the whole array
        // (and so every element) stays alive until `body` returns.
        try withExtendedLifetime(self) { try body(map { $0.withHandle { $0 } }) }
    }
}

/// Runs `body` with the handles of several owners, all kept alive until it returns.
@inline(__always)
func withHandles<A: HandleOwner, B: HandleOwner, R>(
    _ a: A, _ b: B, _ body: (A.Handle, B.Handle) throws -> R
) rethrows -> R {
    try a.withHandle { ha in try b.withHandle { hb in try body(ha, hb) } }
}

@inline(__always)
func withHandles<A: HandleOwner, B: HandleOwner, C: HandleOwner, R>(
    _ a: A, _ b: B, _ c: C, _ body: (A.Handle, B.Handle, C.Handle) throws -> R
) rethrows -> R {
    try a.withHandle { ha in try b.withHandle { hb in try c.withHandle { hc in try body(ha, hb, hc) } } }
}

@inline(__always)
func withHandles<A: HandleOwner, B: HandleOwner, C: HandleOwner, D: HandleOwner, R>(
    _ a: A, _ b: B, _ c: C, _ d: D, _ body: (A.Handle, B.Handle, C.Handle, D.Handle) throws -> R
) rethrows -> R {
    try withHandles(a, b) { ha, hb in try withHandles(c, d) { hc, hd in try body(ha, hb, hc, hd) } }
}
