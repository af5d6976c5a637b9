import MiroEngine

/// A normalisation layer over the last dimension (RMSNorm or LayerNorm), so that blocks can be
/// built with either, as the official `norm_layer` argument allows.
public protocol Normalization: Module {
    func callAsFunction(_ x: Tensor) throws -> Tensor
}

/// Which normalisation a block uses.
public enum NormKind: String, Codable, Sendable {
    case rms, layer

    func make(_ dim: Int, eps: Double) throws -> any Normalization {
        switch self {
        case .rms: try RMSNorm(dim, eps: eps)
        case .layer: try LayerNorm(dim, eps: eps)
        }
    }
}

/// Port of `RMSNorm` in miro/models/networks/transformers.py (miro-t2i 0.1.4).
/// x · rsqrt(mean(x²) + eps) computed in float32 and cast back, then scaled by `weight`: the fp32
/// cast keeps reduced-precision training stable, as the official module does.
public final class RMSNorm: Module, Normalization {
    @OptionalParam(key: "weight") public var weight: Tensor?
    public let eps: Double

    public init(_ dim: Int, eps: Double = 1e-6, affine: Bool = true) throws {
        self.eps = eps
        super.init()
        if affine { self.weight = try Tensor.ones([dim]) }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        // self._norm(x.float()).type_as(x) * self.weight
        let x32 = x.dtype == .float32 || x.dtype == .float64 ? x : try x.to(.float32)
        let normed = try x32 * (x32.square().mean([-1], keepDim: true) + eps).rsqrt()
        let back = normed.dtype == x.dtype ? normed : try normed.to(x.dtype)
        guard let weight else { return back }
        return try back * weight
    }
}

/// `nn.LayerNorm` over the last dimension, keys `weight`, `bias`.
public final class LayerNorm: Module, Normalization {
    @OptionalParam(key: "weight") public var weight: Tensor?
    @OptionalParam(key: "bias") public var bias: Tensor?
    public let dim: Int
    public let eps: Double

    public init(_ dim: Int, eps: Double = 1e-5, affine: Bool = true, bias: Bool = true) throws {
        self.dim = dim
        self.eps = eps
        super.init()
        if affine {
            self.weight = try Tensor.ones([dim])
            if bias { self.bias = try Tensor.zeros([dim]) }
        }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.layerNorm([dim], weight: weight, bias: bias, eps: eps)
    }
}
