import CTorch

/// Shape operations. Like PyTorch, most return views that share storage with `self`.
extension Tensor {
    /// `torch.reshape`; one dimension may be -1.
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.wrap("reshape", mt_reshape(handle, dims, Int32(dims.count)))
    }

    public func reshaped(_ shape: Int...) throws -> Tensor { try reshaped(shape) }

    public func permuted(_ dims: [Int]) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.wrap("permute", mt_permute(handle, d, Int32(d.count)))
    }

    public func permuted(_ dims: Int...) throws -> Tensor { try permuted(dims) }

    public func transposed(_ d0: Int, _ d1: Int) throws -> Tensor {
        try Tensor.wrap("transpose", mt_transpose(handle, Int64(d0), Int64(d1)))
    }

    /// The transpose of a matrix (last two dimensions).
    public var T: Tensor { get throws { try transposed(-2, -1) } }

    /// `Tensor.expand`: broadcasts size-1 dimensions without copying (-1 keeps a size).
    public func expanded(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.wrap("expand", mt_expand(handle, dims, Int32(dims.count)))
    }

    public func squeezed(_ dim: Int) throws -> Tensor { try Tensor.wrap("squeeze", mt_squeeze(handle, Int64(dim))) }
    public func unsqueezed(_ dim: Int) throws -> Tensor { try Tensor.wrap("unsqueeze", mt_unsqueeze(handle, Int64(dim))) }

    public func flattened(from start: Int = 0, to end: Int = -1) throws -> Tensor {
        try Tensor.wrap("flatten", mt_flatten(handle, Int64(start), Int64(end)))
    }

    /// `t[..., start:end:step, ...]` along one dimension.
    public func slice(_ dim: Int, _ start: Int, _ end: Int, step: Int = 1) throws -> Tensor {
        try Tensor.wrap("slice", mt_slice(handle, Int64(dim), Int64(start), Int64(end), Int64(step)))
    }

    /// `t.select(dim, index)`: removes `dim`.
    public func select(_ dim: Int, _ index: Int) throws -> Tensor {
        try Tensor.wrap("select", mt_select(handle, Int64(dim), Int64(index)))
    }

    /// `t[i]` along the first dimension.
    public subscript(_ index: Int) -> Tensor { get throws { try select(0, index) } }

    /// `t[range]` along the first dimension.
    public subscript(_ range: Range<Int>) -> Tensor { get throws { try slice(0, range.lowerBound, range.upperBound) } }

    public func indexSelect(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try withExtendedLifetime(index) { try Tensor.wrap("index_select", mt_index_select(handle, Int64(dim), index.handle)) }
    }

    public func gather(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try withExtendedLifetime(index) { try Tensor.wrap("gather", mt_gather(handle, Int64(dim), index.handle)) }
    }

    /// Replaces entries where `mask` is true.
    public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
        try withExtendedLifetime(mask) { try Tensor.wrap("masked_fill", mt_masked_fill(handle, mask.handle, value)) }
    }

    /// `torch.where(condition, a, b)`.
    public static func where_(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try withExtendedLifetime((condition, a, b)) { try wrap("where", mt_where(condition.handle, a.handle, b.handle)) }
    }

    public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try withExtendedLifetime(tensors) {
            let handles: [OpaquePointer?] = tensors.map { $0.handle }
            return try wrap("cat", mt_cat(handles, Int32(handles.count), Int64(dim)))
        }
    }

    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try withExtendedLifetime(tensors) {
            let handles: [OpaquePointer?] = tensors.map { $0.handle }
            return try wrap("stack", mt_stack(handles, Int32(handles.count), Int64(dim)))
        }
    }

    /// Splits into pieces of the given sizes along `dim` (views).
    public func split(sizes: [Int], dim: Int = 0) throws -> [Tensor] {
        var out = [OpaquePointer?](repeating: nil, count: sizes.count)
        let s = sizes.map(Int64.init)
        try check(mt_split_sizes(handle, s, Int32(s.count), Int64(dim), &out), "split")
        return out.map { Tensor(owning: $0!) }
    }

    /// `torch.chunk`: `chunks` pieces of equal size (the last may be smaller).
    public func chunked(_ chunks: Int, dim: Int = 0) throws -> [Tensor] {
        let r = rank
        guard (-r..<r).contains(dim) else {
            throw EngineError("chunk", "dimension \(dim) out of range for a tensor of rank \(r)")
        }
        let n = shape[dim < 0 ? dim + r : dim]
        guard chunks > 0 else { throw EngineError("chunk", "chunks must be positive, got \(chunks)") }
        let step = (n + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = n
        while left > 0 { sizes.append(min(step, left)); left -= step }
        return try split(sizes: sizes, dim: dim)
    }

    /// `F.pad(t, pad, value=value)`: `pad` lists (before, after) pairs starting from the last dimension.
    public func padded(_ pad: [Int], value: Double = 0) throws -> Tensor {
        let p = pad.map(Int64.init)
        return try Tensor.wrap("pad", mt_pad(handle, p, Int32(p.count), value))
    }

    public func repeated(_ repeats: [Int]) throws -> Tensor {
        let r = repeats.map(Int64.init)
        return try Tensor.wrap("repeat", mt_repeat(handle, r, Int32(r.count)))
    }

    public func tril(_ diagonal: Int = 0) throws -> Tensor { try Tensor.wrap("tril", mt_tril(handle, Int64(diagonal))) }

    /// A contiguous copy when needed (`self` otherwise).
    public func contiguous() throws -> Tensor { try Tensor.wrap("contiguous", mt_contiguous(handle)) }

    /// A new tensor with its own storage, still on the autograd graph.
    public func clone() throws -> Tensor { try Tensor.wrap("clone", mt_clone(handle)) }

    /// Converts dtype and/or device; returns `self`'s data unchanged when nothing changes.
    public func to(_ dtype: DType? = nil, device: Device? = nil) throws -> Tensor {
        let d = device ?? self.device
        return try Tensor.wrap("to", mt_to(handle, (dtype ?? self.dtype).rawValue, d.code, d.index))
    }
}
