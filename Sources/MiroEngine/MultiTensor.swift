import CTorch

/// Updates over whole lists of tensors that the shim runs in one call (Sources/CTorch/multi.cpp): the same ATen
/// operations, in the same order, as a Swift loop over the tensors would issue, so the results are bit-identical —
/// without a Swift → C crossing and a Swift tensor object per tensor and operation, which is what a training step of
/// a few hundred parameter tensors otherwise spends in its optimizer, clipping and EMA phases.
public enum MultiTensor {
    /// The NaN guard and `clip_grad_norm_` over the gradients of `parameters` (those without one are skipped): when the
    /// global 2-norm is not finite, non-finite entries are zeroed and the norm recomputed; then every gradient is
    /// scaled by min(1, maxNorm / (norm + 1e-6)). Returns the norm before clipping.
    public static func guardAndClipGradients(_ parameters: [Tensor], maxNorm: Double) throws
        -> (norm: Double, hadNonFinite: Bool)
    {
        guard let count = Int32(exactly: parameters.count) else { throw ArgumentError("guard_and_clip_grads", "too many tensors: \(parameters.count)") }
        var norm = 0.0, bad = false
        try check(parameters.withHandle { hs in mt_guard_and_clip_grads(hs, count, maxNorm, &norm, &bad) },
                  "guard_and_clip_grads")
        return (norm, bad)
    }

    /// One LAMB step over parallel lists of parameters, first and second moments, and step counts (this step
    /// included); see `Lamb`. Parameters without a gradient are skipped.
    public static func lambStep(parameters: [Tensor], expAvg: [Tensor], expAvgSq: [Tensor], steps: [Int],
                                learningRate: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double,
                                adapt: Bool, decouple: Bool) throws {
        let n = parameters.count
        guard expAvg.count == n, expAvgSq.count == n, steps.count == n, let count = Int32(exactly: n) else {
            throw ArgumentError("lamb_step", "\(n) parameters, \(expAvg.count) / \(expAvgSq.count) moments, \(steps.count) steps")
        }
        let counts = steps.map(Int64.init)
        try check(withHandles(parameters, expAvg, expAvgSq) { p, m, v in
            mt_lamb_step(p, m, v, counts, count, learningRate, beta1, beta2, eps, weightDecay, adapt, decouple)
        }, "lamb_step")
    }

    /// shadow[i] ← decay · shadow[i] + (1 − decay) · parameters[i], in place.
    public static func emaUpdate(shadow: [Tensor], parameters: [Tensor], decay: Double) throws {
        guard shadow.count == parameters.count, let count = Int32(exactly: shadow.count) else {
            throw ArgumentError("ema_update", "\(shadow.count) shadows for \(parameters.count) parameters")
        }
        try check(withHandles(shadow, parameters) { s, p in mt_ema_update(s, p, count, decay) }, "ema_update")
    }
}
