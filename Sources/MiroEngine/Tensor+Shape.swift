import CTorch

/// Shape operations. Like PyTorch, most return views that share storage with `self`.
extension Tensor {
    /// `torch.reshape`; one dimension may be -1.
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.wrap("reshape", withHandle { mt_reshape($0, dims, Int32(dims.count)) })
    }

    public func reshaped(_ shape: Int...) throws -> Tensor { try reshaped(shape) }

    public func permuted(_ dims: [Int]) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.wrap("permute", withHandle { mt_permute($0, d, Int32(d.count)) })
    }

    public func permuted(_ dims: Int...) throws -> Tensor { try permuted(dims) }

    public func transposed(_ d0: Int, _ d1: Int) throws -> Tensor {
        try Tensor.wrap("transpose", withHandle { mt_transpose($0, Int64(d0), Int64(d1)) })
    }

    /// The transpose of a matrix (last two dimensions).
    public var T: Tensor { get throws { try transposed(-2, -1) } }

    /// `Tensor.expand`: broadcasts size-1 dimensions without copying (-1 keeps a size).
    public func expanded(_ shape: [Int]) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try Tensor.wrap("expand", withHandle { mt_expand($0, dims, Int32(dims.count)) })
    }

    public func squeezed(_ dim: Int) throws -> Tensor { try Tensor.wrap("squeeze", withHandle { mt_squeeze($0, Int64(dim)) }) }
    public func unsqueezed(_ dim: Int) throws -> Tensor { try Tensor.wrap("unsqueeze", withHandle { mt_unsqueeze($0, Int64(dim)) }) }

    public func flattened(from start: Int = 0, to end: Int = -1) throws -> Tensor {
        try Tensor.wrap("flatten", withHandle { mt_flatten($0, Int64(start), Int64(end)) })
    }

    /// `t[..., start:end:step, ...]` along one dimension.
    public func slice(_ dim: Int, _ start: Int, _ end: Int, step: Int = 1) throws -> Tensor {
        try Tensor.wrap("slice", withHandle { mt_slice($0, Int64(dim), Int64(start), Int64(end), Int64(step)) })
    }

    /// `t.select(dim, index)`: removes `dim`.
    public func select(_ dim: Int, _ index: Int) throws -> Tensor {
        try Tensor.wrap("select", withHandle { mt_select($0, Int64(dim), Int64(index)) })
    }

    /// `t[i]` along the first dimension.
    public subscript(_ index: Int) -> Tensor { get throws { try select(0, index) } }

    /// `t[range]` along the first dimension.
    public subscript(_ range: Range<Int>) -> Tensor { get throws { try slice(0, range.lowerBound, range.upperBound) } }

    public func indexSelect(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.wrap("index_select", withHandles(self, index) { mt_index_select($0, Int64(dim), $1) })
    }

    public func gather(_ dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.wrap("gather", withHandles(self, index) { mt_gather($0, Int64(dim), $1) })
    }

    /// Replaces entries where `mask` is true.
    public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
        try Tensor.wrap("masked_fill", withHandles(self, mask) { mt_masked_fill($0, $1, value) })
    }

    /// `torch.where(condition, a, b)`.
    public static func where_(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try wrap("where", withHandles(condition, a, b) { mt_where($0, $1, $2) })
    }

    public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try wrap("cat", tensors.withHandle { mt_cat($0, Int32($0.count), Int64(dim)) })
    }

    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try wrap("stack", tensors.withHandle { mt_stack($0, Int32($0.count), Int64(dim)) })
    }

    /// Splits into pieces of the given sizes along `dim` (views).
    public func split(sizes: [Int], dim: Int = 0) throws -> [Tensor] {
        var out = [OpaquePointer?](repeating: nil, count: sizes.count)
        let s = sizes.map(Int64.init)
        try check(withHandle { mt_split_sizes($0, s, Int32(s.count), Int64(dim), &out) }, "split")
        return out.map { Tensor(owning: $0!) }
    }

    /// `torch.chunk`: `chunks` pieces of equal size (the last may be smaller).
    public func chunked(_ chunks: Int, dim: Int = 0) throws -> [Tensor] {
        let r = rank
        guard (-r..<r).contains(dim) else {
            throw ArgumentError("chunk", "dimension \(dim) out of range for a tensor of rank \(r)")
        }
        let n = shape[dim < 0 ? dim + r : dim]
        guard chunks > 0 else { throw ArgumentError("chunk", "chunks must be positive, got \(chunks)") }
        let step = (n + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = n
        while left > 0 { sizes.append(min(step, left)); left -= step }
        return try split(sizes: sizes, dim: dim)
    }

    /// `F.pad(t, pad, value=value)`: `pad` lists (before, after) pairs starting from the last dimension.
    public func padded(_ pad: [Int], value: Double = 0) throws -> Tensor {
        let p = pad.map(Int64.init)
        return try Tensor.wrap("pad", withHandle { mt_pad($0, p, Int32(p.count), value) })
    }

    public func repeated(_ repeats: [Int]) throws -> Tensor {
        let r = repeats.map(Int64.init)
        return try Tensor.wrap("repeat", withHandle { mt_repeat($0, r, Int32(r.count)) })
    }

    public func tril(_ diagonal: Int = 0) throws -> Tensor { try Tensor.wrap("tril", withHandle { mt_tril($0, Int64(diagonal)) }) }

    /// A contiguous copy when needed (`self` otherwise).
    public func contiguous() throws -> Tensor { try Tensor.wrap("contiguous", withHandle { mt_contiguous($0) }) }

    /// A new tensor with its own storage, still on the autograd graph.
    public func clone() throws -> Tensor { try Tensor.wrap("clone", withHandle { mt_clone($0) }) }

    /// Converts dtype and/or device; returns `self`'s data unchanged when nothing changes.
    public func to(_ dtype: DType? = nil, device: Device? = nil) throws -> Tensor {
        let d = device ?? self.device
        return try Tensor.wrap("to", withHandle { mt_to($0, (dtype ?? self.dtype).code, d.code, d.index) })
    }
}
