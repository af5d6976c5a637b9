import CTorch

// Elementwise arithmetic, comparisons and reductions. Operators broadcast like PyTorch and throw
// on incompatible shapes, so one `try` covers a whole expression: `let y = try a * x + b`.

enum UnaryOp: Int32 {
    case neg = 0, exp, log, sqrt, rsqrt, abs, sin, cos, tanh, sigmoid, silu, gelu, geluTanh, relu,
         square, reciprocal, sign, floor, ceil, round, logicalNot, isnan, isfinite, erf, log1p, expm1, softplus
}

enum BinaryOp: Int32 {
    case add = 0, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, and, or, atan2, fmod
}

enum ReduceOp: Int32 {
    case sum = 0, mean, amax, amin, variance, std, norm, argmax, argmin, logsumexp, prod, any, all
}

extension Tensor {
    func unary(_ op: UnaryOp) throws -> Tensor {
        try Tensor.wrap("\(op)", mt_unary(op.rawValue, handle))
    }

    func binary(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
        try withExtendedLifetime(other) { try Tensor.wrap("\(op)", mt_binary(op.rawValue, handle, other.handle)) }
    }

    func binary(_ op: BinaryOp, _ scalar: Double, reverse: Bool = false) throws -> Tensor {
        try Tensor.wrap("\(op)", mt_binary_scalar(op.rawValue, handle, scalar, reverse))
    }

    func reduce(_ op: ReduceOp, _ dims: [Int], keepDim: Bool, unbiased: Bool = true) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.wrap("\(op)", mt_reduce(op.rawValue, handle, d, Int32(d.count), keepDim, unbiased))
    }

    // MARK: Operators

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.add, b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.sub, b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.mul, b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.div, b) }
    public static func + (a: Tensor, s: Double) throws -> Tensor { try a.binary(.add, s) }
    public static func - (a: Tensor, s: Double) throws -> Tensor { try a.binary(.sub, s) }
    public static func * (a: Tensor, s: Double) throws -> Tensor { try a.binary(.mul, s) }
    public static func / (a: Tensor, s: Double) throws -> Tensor { try a.binary(.div, s) }
    public static func + (s: Double, a: Tensor) throws -> Tensor { try a.binary(.add, s) }
    public static func - (s: Double, a: Tensor) throws -> Tensor { try a.binary(.sub, s, reverse: true) }
    public static func * (s: Double, a: Tensor) throws -> Tensor { try a.binary(.mul, s) }
    public static func / (s: Double, a: Tensor) throws -> Tensor { try a.binary(.div, s, reverse: true) }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.unary(.neg) }

    public func pow(_ exponent: Double) throws -> Tensor { try binary(.pow, exponent) }
    public func pow(_ exponent: Tensor) throws -> Tensor { try binary(.pow, exponent) }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(.maximum, other) }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(.minimum, other) }
    public func maximum(_ s: Double) throws -> Tensor { try binary(.maximum, s) }
    public func minimum(_ s: Double) throws -> Tensor { try binary(.minimum, s) }
    public func atan2(_ other: Tensor) throws -> Tensor { try binary(.atan2, other) }

    // MARK: Comparisons (bool results)

    public func eq(_ o: Tensor) throws -> Tensor { try binary(.eq, o) }
    public func ne(_ o: Tensor) throws -> Tensor { try binary(.ne, o) }
    public func lt(_ o: Tensor) throws -> Tensor { try binary(.lt, o) }
    public func le(_ o: Tensor) throws -> Tensor { try binary(.le, o) }
    public func gt(_ o: Tensor) throws -> Tensor { try binary(.gt, o) }
    public func ge(_ o: Tensor) throws -> Tensor { try binary(.ge, o) }
    public func eq(_ s: Double) throws -> Tensor { try binary(.eq, s) }
    public func ne(_ s: Double) throws -> Tensor { try binary(.ne, s) }
    public func lt(_ s: Double) throws -> Tensor { try binary(.lt, s) }
    public func le(_ s: Double) throws -> Tensor { try binary(.le, s) }
    public func gt(_ s: Double) throws -> Tensor { try binary(.gt, s) }
    public func ge(_ s: Double) throws -> Tensor { try binary(.ge, s) }
    public func logicalAnd(_ o: Tensor) throws -> Tensor { try binary(.and, o) }
    public func logicalOr(_ o: Tensor) throws -> Tensor { try binary(.or, o) }
    public func logicalNot() throws -> Tensor { try unary(.logicalNot) }
    public func isNaN() throws -> Tensor { try unary(.isnan) }
    public func isFinite() throws -> Tensor { try unary(.isfinite) }

    // MARK: Elementwise functions

    public func exp() throws -> Tensor { try unary(.exp) }
    public func log() throws -> Tensor { try unary(.log) }
    public func log1p() throws -> Tensor { try unary(.log1p) }
    public func expm1() throws -> Tensor { try unary(.expm1) }
    public func sqrt() throws -> Tensor { try unary(.sqrt) }
    public func rsqrt() throws -> Tensor { try unary(.rsqrt) }
    public func abs() throws -> Tensor { try unary(.abs) }
    public func sin() throws -> Tensor { try unary(.sin) }
    public func cos() throws -> Tensor { try unary(.cos) }
    public func tanh() throws -> Tensor { try unary(.tanh) }
    public func sigmoid() throws -> Tensor { try unary(.sigmoid) }
    public func silu() throws -> Tensor { try unary(.silu) }
    /// Exact (erf) GELU, PyTorch's default `approximate="none"`.
    public func gelu() throws -> Tensor { try unary(.gelu) }
    public func geluTanh() throws -> Tensor { try unary(.geluTanh) }
    public func relu() throws -> Tensor { try unary(.relu) }
    public func softplus() throws -> Tensor { try unary(.softplus) }
    public func square() throws -> Tensor { try unary(.square) }
    public func reciprocal() throws -> Tensor { try unary(.reciprocal) }
    public func sign() throws -> Tensor { try unary(.sign) }
    public func floor() throws -> Tensor { try unary(.floor) }
    public func ceil() throws -> Tensor { try unary(.ceil) }
    public func rounded() throws -> Tensor { try unary(.round) }
    public func erf() throws -> Tensor { try unary(.erf) }

    public func clamp(min lo: Double? = nil, max hi: Double? = nil) throws -> Tensor {
        try Tensor.wrap("clamp", mt_clamp(handle, lo ?? 0, hi ?? 0, lo != nil, hi != nil))
    }

    /// `torch.lerp(self, end, weight)` = self + weight · (end − self).
    public func lerp(_ end: Tensor, _ weight: Double) throws -> Tensor {
        try withExtendedLifetime(end) { try Tensor.wrap("lerp", mt_lerp(handle, end.handle, weight)) }
    }

    // MARK: Reductions (no `dims` = over everything)

    public func sum(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.sum, dims, keepDim: keepDim) }
    public func mean(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.mean, dims, keepDim: keepDim) }
    public func amax(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.amax, dims, keepDim: keepDim) }
    public func amin(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.amin, dims, keepDim: keepDim) }
    public func prod(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.prod, dims, keepDim: keepDim) }
    public func logsumexp(_ dims: [Int], keepDim: Bool = false) throws -> Tensor { try reduce(.logsumexp, dims, keepDim: keepDim) }
    public func any(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.any, dims, keepDim: keepDim) }
    public func all(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.all, dims, keepDim: keepDim) }

    /// Variance; `unbiased` divides by n − 1 as `torch.var` does by default.
    public func variance(_ dims: [Int] = [], unbiased: Bool = true, keepDim: Bool = false) throws -> Tensor {
        try reduce(.variance, dims, keepDim: keepDim, unbiased: unbiased)
    }

    public func std(_ dims: [Int] = [], unbiased: Bool = true, keepDim: Bool = false) throws -> Tensor {
        try reduce(.std, dims, keepDim: keepDim, unbiased: unbiased)
    }

    /// The 2-norm (Frobenius over all elements when `dims` is empty).
    public func norm(_ dims: [Int] = [], keepDim: Bool = false) throws -> Tensor { try reduce(.norm, dims, keepDim: keepDim) }

    public func argmax(_ dim: Int? = nil, keepDim: Bool = false) throws -> Tensor {
        try reduce(.argmax, dim.map { [$0] } ?? [], keepDim: keepDim)
    }

    public func argmin(_ dim: Int? = nil, keepDim: Bool = false) throws -> Tensor {
        try reduce(.argmin, dim.map { [$0] } ?? [], keepDim: keepDim)
    }

    public func cumsum(_ dim: Int) throws -> Tensor { try Tensor.wrap("cumsum", mt_cumsum(handle, Int64(dim))) }

    /// The `k` largest (or smallest) values along `dim`, sorted, with their indices.
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        var v: OpaquePointer?
        var i: OpaquePointer?
        try check(mt_topk(handle, Int64(k), Int64(dim), largest, &v, &i), "topk")
        return (Tensor(owning: v!), Tensor(owning: i!))
    }

    public func sorted(dim: Int = -1, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        var i: OpaquePointer?
        let v = try Tensor.wrap("sort", mt_sort(handle, Int64(dim), descending, &i))
        return (v, Tensor(owning: i!))
    }
}
