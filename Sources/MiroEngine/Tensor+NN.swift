import CTorch

/// The neural-network kernels: matrix products, normalisations, convolution, resampling and
/// attention. Each is one libtorch call, differentiable through libtorch's autograd.
extension Tensor {
    /// `torch.matmul` (batched, broadcasting).
    public func matmul(_ other: Tensor) throws -> Tensor {
        try withExtendedLifetime(other) { try Tensor.wrap("matmul", mt_matmul(handle, other.handle)) }
    }

    /// `F.linear(self, weight, bias)` = self · weightᵀ + bias, with `weight` of shape (out, in).
    public func linear(_ weight: Tensor, _ bias: Tensor? = nil) throws -> Tensor {
        try withExtendedLifetime((weight, bias)) {
            try Tensor.wrap("linear", mt_linear(handle, weight.handle, bias?.handle))
        }
    }

    public func softmax(_ dim: Int) throws -> Tensor { try Tensor.wrap("softmax", mt_softmax(handle, Int64(dim))) }
    public func logSoftmax(_ dim: Int) throws -> Tensor { try Tensor.wrap("log_softmax", mt_log_softmax(handle, Int64(dim))) }

    /// `F.layer_norm` over the trailing dimensions `normalizedShape`.
    public func layerNorm(_ normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        let dims = normalizedShape.map(Int64.init)
        return try withExtendedLifetime((weight, bias)) {
            try Tensor.wrap("layer_norm", mt_layer_norm(handle, dims, Int32(dims.count), weight?.handle, bias?.handle, eps))
        }
    }

    /// `F.group_norm` on (N, C, ...) input.
    public func groupNorm(groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) throws -> Tensor {
        try withExtendedLifetime((weight, bias)) {
            try Tensor.wrap("group_norm", mt_group_norm(handle, Int64(groups), weight?.handle, bias?.handle, eps))
        }
    }

    /// `F.conv2d` on (N, C, H, W) input with a (out, in/groups, kh, kw) kernel.
    public func conv2d(_ weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                       dilation: (Int, Int) = (1, 1), groups: Int = 1) throws -> Tensor {
        try withExtendedLifetime((weight, bias)) {
            try Tensor.wrap("conv2d", mt_conv2d(handle, weight.handle, bias?.handle,
                                                Int64(stride.0), Int64(stride.1), Int64(padding.0), Int64(padding.1),
                                                Int64(dilation.0), Int64(dilation.1), Int64(groups)))
        }
    }

    public enum InterpolationMode: Int32, Sendable { case nearest = 0, bilinear = 1, bicubic = 2, area = 3 }

    /// `F.interpolate(x, size=(h, w), mode=...)` on (N, C, H, W) input.
    public func interpolate(height: Int, width: Int, mode: InterpolationMode = .nearest, alignCorners: Bool = false) throws -> Tensor {
        try Tensor.wrap("interpolate", mt_interpolate(handle, Int64(height), Int64(width), mode.rawValue, alignCorners))
    }

    /// `F.scaled_dot_product_attention(q, k, v, attn_mask=mask)` on (B, H, L, E) tensors, with a
    /// boolean `mask` broadcastable to (B, H, Lq, Lk) where `true` means "may attend".
    /// `scale` defaults to 1/√E. On libtorch ≥ 2.1 this is the fused kernel.
    public static func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                                 scale: Double? = nil, causal: Bool = false) throws -> Tensor {
        if let scale, !(scale > 0) { throw EngineError("attention", "scale must be positive, got \(scale)") }
        return try withExtendedLifetime((q, k, v, mask)) {
            try wrap("attention", mt_attention(q.handle, k.handle, v.handle, mask?.handle, scale ?? 0, causal))
        }
    }

    /// Rows of a (num, dim) table for integer `indices` (`F.embedding`).
    public static func embedding(_ weight: Tensor, _ indices: Tensor) throws -> Tensor {
        try withExtendedLifetime((weight, indices)) { try wrap("embedding", mt_embedding(weight.handle, indices.handle)) }
    }

    public func dropout(_ p: Double, training: Bool) throws -> Tensor {
        try Tensor.wrap("dropout", mt_dropout(handle, p, training))
    }
}
