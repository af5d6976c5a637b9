import CTorch

/// The neural-network kernels: matrix products, normalisations, convolution, resampling and
/// attention. Each is one libtorch call, differentiable through libtorch's autograd.
extension Tensor {
    /// `torch.matmul` (batched, broadcasting).
    public func matmul(_ other: Tensor) throws -> Tensor {
        try Tensor.wrap("matmul", withHandles(self, other) { mt_matmul($0, $1) })
    }

    /// `F.linear(self, weight, bias)` = self · weightᵀ + bias, with `weight` of shape (out, in).
    public func linear(_ weight: Tensor, _ bias: Tensor? = nil) throws -> Tensor {
        try Tensor.wrap("linear", withHandles(self, weight, bias) { mt_linear($0, $1, $2) })
    }

    /// SwiGLU's gate on a packed projection: `(a, b) = chunk(2, dim: -1)`, then `a * silu(b)` (the last dimension
    /// halves). One fused pass forward and one backward for float32 on CPUs with AVX2 and FMA (`swiGLUIsFused`),
    /// the ATen operators otherwise; the two agree to within rounding. Not twice differentiable on the fused path.
    public func swiGLU() throws -> Tensor { try Tensor.wrap("swiglu", withHandle { mt_swiglu($0) }) }

    /// `swiGLU()` as the ATen operators chunk, silu and mul, whatever the tensor: the reference the fused kernel is
    /// checked against.
    public func swiGLUUnfused() throws -> Tensor { try Tensor.wrap("swiglu", withHandle { mt_swiglu_aten($0) }) }

    /// Whether `swiGLU()` takes the fused kernel for this tensor.
    public var swiGLUIsFused: Bool { withHandle { mt_swiglu_is_fused($0) } }

    public func softmax(_ dim: Int) throws -> Tensor { try Tensor.wrap("softmax", withHandle { mt_softmax($0, Int64(dim)) }) }
    public func logSoftmax(_ dim: Int) throws -> Tensor { try Tensor.wrap("log_softmax", withHandle { mt_log_softmax($0, Int64(dim)) }) }

    /// `F.layer_norm` over the trailing dimensions `normalizedShape`.
    public func layerNorm(_ normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        let dims = normalizedShape.map(Int64.init)
        return try Tensor.wrap("layer_norm", withHandles(self, weight, bias) {
            mt_layer_norm($0, dims, Int32(dims.count), $1, $2, eps)
        })
    }

    /// `F.group_norm` on (N, C, ...) input.
    public func groupNorm(groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        try Tensor.wrap("group_norm", withHandles(self, weight, bias) { mt_group_norm($0, Int64(groups), $1, $2, eps) })
    }

    /// `F.conv2d` on (N, C, H, W) input with a (out, in/groups, kh, kw) kernel.
    public func conv2d(_ weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) throws -> Tensor {
        try Tensor.wrap("conv2d", withHandles(self, weight, bias) {
            mt_conv2d($0, $1, $2, Int64(stride.0), Int64(stride.1), Int64(padding.0), Int64(padding.1),
                      Int64(dilation.0), Int64(dilation.1), Int64(groups))
        })
    }

    /// Raw values are the shim's `MT_INTERP_*` codes, read from ctorch.h.
    public enum InterpolationMode: RawRepresentable, Sendable, Hashable, CaseIterable {
        case nearest, bilinear, bicubic, area

        public init?(rawValue: Int32) {
            guard let match = Self.allCases.first(where: { $0.code == rawValue }) else { return nil }
            self = match
        }

        public var rawValue: Int32 { code }

        var code: Int32 {
            switch self {
            case .nearest: Int32(MT_INTERP_NEAREST)
            case .bilinear: Int32(MT_INTERP_BILINEAR)
            case .bicubic: Int32(MT_INTERP_BICUBIC)
            case .area: Int32(MT_INTERP_AREA)
            }
        }
    }

    /// `F.interpolate(x, size=(h, w), mode=...)` on (N, C, H, W) input.
    public func interpolate(height: Int, width: Int, mode: InterpolationMode = .nearest, alignCorners: Bool = false) throws -> Tensor {
        try Tensor.wrap("interpolate", withHandle { mt_interpolate($0, Int64(height), Int64(width), mode.code, alignCorners) })
    }

    /// `F.scaled_dot_product_attention(q, k, v, attn_mask=mask)` on (B, H, L, E) tensors, with a
    /// boolean `mask` broadcastable to (B, H, Lq, Lk) where `true` means "may attend".
    /// `scale` defaults to 1/√E. On libtorch ≥ 2.1 this is the fused kernel.
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                                 scale: Double? = nil, causal: Bool = false) throws -> Tensor {
        if let scale, !(scale > 0) { throw ArgumentError("attention", "scale must be positive, got \(scale)") }
        return try wrap("attention", withHandles(q, k, v, mask) { mt_attention($0, $1, $2, $3, scale ?? 0, causal) })
    }

    /// Rows of a (num, dim) table for integer `indices` (`F.embedding`).
    public static func embedding(_ weight: Tensor, _ indices: Tensor) throws -> Tensor {
        try wrap("embedding", withHandles(weight, indices) { mt_embedding($0, $1) })
    }

    public func dropout(_ p: Double, training: Bool) throws -> Tensor {
        try Tensor.wrap("dropout", withHandle { mt_dropout($0, p, training) })
    }
}
