/// The two leaf layers of BLIP's vision and text towers (image-reward 1.5, ImageReward/models/BLIP/vit.py and
/// med.py): `nn.Linear` with bias and `nn.LayerNorm`, built from an `ImageRewardWeightSource` with the shapes the
/// configuration implies (keys `weight`, `bias`), so one code path builds loaded, random and shape-only models.

import MiroEngine
import MiroNN

/// `nn.Linear(in, out)`: `y = x·Wᵀ + b`, weight `(out, in)`.
final class BLIPLinear: Module {
    @Param(key: "weight") var weight: Tensor
    @Param(key: "bias") var bias: Tensor

    init(_ key: String, in inFeatures: Int, out outFeatures: Int, origin: String, source: any ImageRewardWeightSource) throws {
        super.init()
        weight = try source.tensor(key + ".weight", shape: [outFeatures, inFeatures], origin: origin)
        bias = try source.tensor(key + ".bias", shape: [outFeatures], origin: origin)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.linear(weight, bias)
    }
}

/// `nn.LayerNorm(dim, eps)` over the last dimension.
final class BLIPLayerNorm: Module {
    @Param(key: "weight") var weight: Tensor
    @Param(key: "bias") var bias: Tensor
    let dim: Int
    let eps: Double

    init(_ key: String, dim: Int, eps: Double, origin: String, source: any ImageRewardWeightSource) throws {
        self.dim = dim
        self.eps = eps
        super.init()
        weight = try source.tensor(key + ".weight", shape: [dim], origin: origin)
        bias = try source.tensor(key + ".bias", shape: [dim], origin: origin)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.layerNorm([dim], weight: weight, bias: bias, eps: eps)
    }
}
