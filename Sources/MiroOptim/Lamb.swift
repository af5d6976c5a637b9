import Foundation
import MiroEngine

/// Port of `Lamb` in miro/utils/optimizers.py (miro-t2i 0.1.4), the optimizer MIRO trains with
/// (method §6.2): Adam moments with bias correction, then a per-tensor trust ratio ‖w‖/‖update‖.
///
///     m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
///     u = (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)  [+ wd·w when weight decay is coupled]
///     r = ‖w‖/‖u‖, or 1 when either norm is 0, or when the group has no layer adaptation
///     w ← w − lr·r·u                      [then w ← w·(1−wd) when decoupled]
///
/// MIRO uses coupled decay (`decouple=False`), wd 0.01 with layer adaptation on weights and no decay
/// or adaptation on norms and biases (see `ParameterGroups.miro`).
public final class Lamb: AdamFamily, Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    /// Decoupled weight decay (`w ← w·(1−wd)` after the step) instead of L2 added to the update.
    public let decoupleWeightDecay: Bool
    /// Trust ratio forced to 1 everywhere, which turns LAMB into Adam (for comparisons).
    public let adamMode: Bool

    public init(groups: [ParameterGroup], betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                decoupleWeightDecay: Bool = false, adamMode: Bool = false) throws {
        for g in groups where g.learningRate < 0 || g.weightDecay < 0 {
            throw OptimizerError.invalidHyperparameters(
                optimizer: "Lamb", reason: "group '\(g.name)': learning rate and weight decay must be ≥ 0")
        }
        guard (0..<1).contains(betas.0), (0..<1).contains(betas.1), eps >= 0 else {
            throw OptimizerError.invalidHyperparameters(optimizer: "Lamb", reason: "invalid betas \(betas) or eps \(eps)")
        }
        beta1 = betas.0
        beta2 = betas.1
        self.eps = eps
        self.decoupleWeightDecay = decoupleWeightDecay
        self.adamMode = adamMode
        try super.init(groups: groups)
    }

    /// One step per group in a single shim call (`MultiTensor.lambStep`: the per-tensor operations of the formula
    /// above, in the official order).
    public func step() throws {
        try withoutGrad {
            for group in try groupsForStep() {
                let wd = group.weightDecay
                var params: [Tensor] = [], moments: [Tensor] = [], squares: [Tensor] = [], steps: [Int] = []
                for (name, p) in group.parameters where p.grad != nil {
                    let s = try state(for: name, p)
                    s.step += 1
                    params.append(p)
                    moments.append(s.expAvg)
                    squares.append(s.expAvgSq)
                    steps.append(s.step)
                }
                try MultiTensor.lambStep(parameters: params, expAvg: moments, expAvgSq: squares, steps: steps,
                                         learningRate: group.learningRate, beta1: beta1, beta2: beta2, eps: eps,
                                         weightDecay: wd, adapt: (group.layerAdaptation ?? (wd > 0)) && !adamMode,
                                         decouple: decoupleWeightDecay)
            }
        }
    }
}
