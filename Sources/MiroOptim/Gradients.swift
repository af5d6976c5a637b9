import MiroEngine
import MiroNN

/// Gradient utilities of the training loop.
public enum Gradients {
    /// The training step's NaN guard (`zeroNonFinite`, run only when the global norm is not finite — a finite norm
    /// means every entry is) followed by `clipNorm`, in one shim call; returns the norm before clipping.
    @discardableResult
    public static func guardAndClip(_ parameters: [Tensor], maxNorm: Double) throws -> Double {
        try MultiTensor.guardAndClipGradients(parameters, maxNorm: maxNorm).norm
    }

    /// `torch.nn.utils.clip_grad_norm_`: rescales all gradients so their global 2-norm is at most
    /// `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clipNorm(_ parameters: [Tensor], maxNorm: Double) throws -> Double {
        try withoutGrad {
            let grads = parameters.compactMap(\.grad)
            guard !grads.isEmpty else { return 0 }
            let total = try Tensor.stack(grads.map { try $0.norm() }).norm()
            let coefficient = try (total + 1e-6).reciprocal() * maxNorm
            let clamped = try coefficient.clamp(max: 1)
            for g in grads { try g.mul_(clamped.to(g.dtype, device: g.device)) }
            return try total.item()
        }
    }

    /// True when any gradient holds a NaN or ±∞.
    public static func hasNonFinite(_ parameters: [Tensor]) throws -> Bool {
        try withoutGrad {
            for g in parameters.compactMap(\.grad) where try g.isFinite().all().item() == 0 { return true }
            return false
        }
    }

    /// Zeroes non-finite gradient entries in place (the NaN guard of method §6.2).
    public static func zeroNonFinite(_ parameters: [Tensor]) throws {
        try withoutGrad {
            for g in parameters.compactMap(\.grad) {
                let bad = try g.isFinite().logicalNot()
                if try bad.any().item() != 0 { try g.copy_(g.maskedFill(bad, 0)) }
            }
        }
    }
}
