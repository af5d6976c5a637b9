import CTorch

/// Rows of one batch run at once on libtorch's intra-op threads, and the autograd calls that combine their
/// gradients (Sources/CTorch/parallel.cpp).
///
/// A small model's operations are mostly too small for libtorch to split across threads, so with intra-op threading
/// alone one core idles while the other runs them, and each split it does make costs an OpenMP fork and join. Giving
/// each thread its own rows keeps every core busy through the whole forward and backward pass. Each thread's
/// libtorch work runs single-threaded, so a part's result does not depend on timing, and gradients are summed in
/// part order: the same inputs give the same bits.
public enum DataParallel {
    /// Runs `body(i)` for i in 0..<count on libtorch's intra-op threads, one index per thread where there are enough
    /// (in turn on one thread otherwise), and returns when all have finished. Every libtorch operation inside runs on
    /// the calling thread. Thread-local engine state — grad mode, autocast — is each thread's own, so `body` sets
    /// what it needs. Rethrows the error of the lowest index that failed.
    public static func forEach(_ count: Int, _ body: (Int) throws -> Void) throws {
        guard count > 0 else { return }
        guard let n = Int32(exactly: count) else { throw ArgumentError("parallel_for_each", "count \(count)") }
        try withoutActuallyEscaping(body) { body in
            let context = Context(body: body, count: count)
            try check(withExtendedLifetime(context) {
                mt_parallel_for_each(n, { raw, index in
                    guard let raw else { return }
                    Unmanaged<Context>.fromOpaque(raw).takeUnretainedValue().run(Int(index))
                }, Unmanaged.passUnretained(context).toOpaque())
            }, "parallel_for_each")
            if let error = context.errors.lazy.compactMap({ $0 }).first { throw error }
        }
    }

    /// The closure and one error slot per index; each thread writes only its own slot.
    private final class Context {
        let body: (Int) throws -> Void
        let errors: UnsafeMutableBufferPointer<(any Error)?>

        init(body: @escaping (Int) throws -> Void, count: Int) {
            self.body = body
            errors = .allocate(capacity: count)
            errors.initialize(repeating: nil)
        }

        deinit {
            errors.deinitialize()
            errors.deallocate()
        }

        func run(_ index: Int) {
            do { try body(index) } catch { errors[index] = error }
        }
    }

    /// `torch.autograd.grad(output, inputs, allow_unused=True)`: d output / d inputs[i], nil where `output` does not
    /// depend on it, without touching any `.grad` — so threads can differentiate their own graphs over shared
    /// parameters at once.
    public static func gradients(of output: Tensor, withRespectTo inputs: [Tensor]) throws -> [Tensor?] {
        guard let n = Int32(exactly: inputs.count) else { throw ArgumentError("autograd_grad", "\(inputs.count) inputs") }
        var outs = [OpaquePointer?](repeating: nil, count: inputs.count)
        try check(withHandles(output, inputs) { o, xs in mt_autograd_grad(o, xs, n, &outs) }, "autograd_grad")
        return outs.map { $0.map(Tensor.init(owning:)) }
    }

    /// parameters[i].grad += parts[k][i] for each part k in order (set when it has none), skipping nils: the parts'
    /// gradients summed in part order, the parameters shared out between the threads.
    public static func accumulate(_ parts: [[Tensor?]], into parameters: [Tensor]) throws {
        guard parts.allSatisfy({ $0.count == parameters.count }), let n = Int32(exactly: parameters.count),
              let count = Int32(exactly: parts.count) else {
            throw ArgumentError("accumulate_grads", "\(parts.map(\.count)) gradients per part for \(parameters.count) parameters")
        }
        try withExtendedLifetime(parts) {
            let gs = parts.flatMap { $0.map { $0?.withHandle { $0 } } }
            try check(parameters.withHandle { ps in mt_accumulate_grads(ps, gs, n, count) }, "accumulate_grads")
        }
    }
}
