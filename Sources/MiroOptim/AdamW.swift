import Foundation
import MiroEngine

/// `torch.optim.AdamW` (single-tensor path of PyTorch 1.13), step for step:
///
///     p ← p·(1 − lr·wd)
///     m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
///     p ← p − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)
public final class AdamW: AdamFamily, Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Double

    public init(groups: [ParameterGroup], betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8) throws {
        beta1 = betas.0
        beta2 = betas.1
        self.eps = eps
        try super.init(groups: groups)
    }

    /// One group over all `parameters`.
    public convenience init(_ parameters: [(name: String, tensor: Tensor)], lr: Double = 1e-3, weightDecay: Double = 0.01,
                            betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8) throws {
        try self.init(groups: [ParameterGroup(name: "all", parameters: parameters, learningRate: lr, weightDecay: weightDecay)],
                      betas: betas, eps: eps)
    }

    public func step() throws {
        try withoutGrad {
            for group in try groupsForStep() {
                let lr = group.learningRate
                for (name, p) in group.parameters {
                    guard let g = p.grad else { continue }
                    let s = try state(for: name, p)
                    s.step += 1
                    if group.weightDecay != 0 { try p.mul_(1 - lr * group.weightDecay) }
                    try s.expAvg.mul_(beta1)
                    try s.expAvg.add_(g, alpha: 1 - beta1)
                    try s.expAvgSq.mul_(beta2)
                    try s.expAvgSq.addcmul_(g, g, value: 1 - beta2)
                    let bc1 = 1 - pow(beta1, Double(s.step))
                    let bc2 = 1 - pow(beta2, Double(s.step))
                    let denom = try s.expAvgSq.sqrt() / bc2.squareRoot() + eps
                    try p.addcdiv_(s.expAvg, denom, value: -lr / bc1)
                }
            }
        }
    }
}
