import CTorch

// Elementwise arithmetic, comparisons and reductions. Operators broadcast like PyTorch and throw
// on incompatible shapes, so one `try` covers a whole expression: `let y = try a * x + b`.

/// One of the shim's op codes with the name errors report. The codes come from ctorch.h.
struct OpCode: CustomStringConvertible {
    let name: String
    let code: Int32
    init(_ name: String, _ code: Int) { self.name = name; self.code = Int32(code) }
    var description: String { name }
}

typealias UnaryOp = OpCode
typealias BinaryOp = OpCode
typealias ReduceOp = OpCode

extension OpCode {
    // unary (mt_unary)
    static let neg = OpCode("neg", MT_UNARY_NEG), exp = OpCode("exp", MT_UNARY_EXP), log = OpCode("log", MT_UNARY_LOG)
    static let sqrt = OpCode("sqrt", MT_UNARY_SQRT), rsqrt = OpCode("rsqrt", MT_UNARY_RSQRT), abs = OpCode("abs", MT_UNARY_ABS)
    static let sin = OpCode("sin", MT_UNARY_SIN), cos = OpCode("cos", MT_UNARY_COS), tanh = OpCode("tanh", MT_UNARY_TANH)
    static let sigmoid = OpCode("sigmoid", MT_UNARY_SIGMOID), silu = OpCode("silu", MT_UNARY_SILU)
    static let gelu = OpCode("gelu", MT_UNARY_GELU), geluTanh = OpCode("geluTanh", MT_UNARY_GELU_TANH)
    static let relu = OpCode("relu", MT_UNARY_RELU), square = OpCode("square", MT_UNARY_SQUARE)
    static let reciprocal = OpCode("reciprocal", MT_UNARY_RECIPROCAL), sign = OpCode("sign", MT_UNARY_SIGN)
    static let floor = OpCode("floor", MT_UNARY_FLOOR), ceil = OpCode("ceil", MT_UNARY_CEIL), round = OpCode("round", MT_UNARY_ROUND)
    static let logicalNot = OpCode("logicalNot", MT_UNARY_LOGICAL_NOT), isnan = OpCode("isnan", MT_UNARY_ISNAN)
    static let isfinite = OpCode("isfinite", MT_UNARY_ISFINITE), erf = OpCode("erf", MT_UNARY_ERF)
    static let log1p = OpCode("log1p", MT_UNARY_LOG1P), expm1 = OpCode("expm1", MT_UNARY_EXPM1)
    static let softplus = OpCode("softplus", MT_UNARY_SOFTPLUS)

    // binary (mt_binary, mt_binary_scalar)
    static let add = OpCode("add", MT_BINARY_ADD), sub = OpCode("sub", MT_BINARY_SUB), mul = OpCode("mul", MT_BINARY_MUL)
    static let div = OpCode("div", MT_BINARY_DIV), pow = OpCode("pow", MT_BINARY_POW)
    static let maximum = OpCode("maximum", MT_BINARY_MAXIMUM), minimum = OpCode("minimum", MT_BINARY_MINIMUM)
    static let eq = OpCode("eq", MT_BINARY_EQ), ne = OpCode("ne", MT_BINARY_NE), lt = OpCode("lt", MT_BINARY_LT)
    static let le = OpCode("le", MT_BINARY_LE), gt = OpCode("gt", MT_BINARY_GT), ge = OpCode("ge", MT_BINARY_GE)
    static let and = OpCode("and", MT_BINARY_AND), or = OpCode("or", MT_BINARY_OR)
    static let atan2 = OpCode("atan2", MT_BINARY_ATAN2), fmod = OpCode("fmod", MT_BINARY_FMOD)

    // reductions (mt_reduce)
    static let sum = OpCode("sum", MT_REDUCE_SUM), mean = OpCode("mean", MT_REDUCE_MEAN)
    static let amax = OpCode("amax", MT_REDUCE_AMAX), amin = OpCode("amin", MT_REDUCE_AMIN)
    static let variance = OpCode("variance", MT_REDUCE_VAR), std = OpCode("std", MT_REDUCE_STD)
    static let norm = OpCode("norm", MT_REDUCE_NORM), argmax = OpCode("argmax", MT_REDUCE_ARGMAX)
    static let argmin = OpCode("argmin", MT_REDUCE_ARGMIN), logsumexp = OpCode("logsumexp", MT_REDUCE_LOGSUMEXP)
    static let prod = OpCode("prod", MT_REDUCE_PROD), any = OpCode("any", MT_REDUCE_ANY), all = OpCode("all", MT_REDUCE_ALL)
}

extension Tensor {
    func unary(_ op: UnaryOp) throws -> Tensor {
        try Tensor.wrap(op.name, withHandle { mt_unary(op.code, $0) })
    }

    func binary(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
        try Tensor.wrap(op.name, withHandles(self, other) { mt_binary(op.code, $0, $1) })
    }

    func binary(_ op: BinaryOp, _ scalar: Double, reverse: Bool = false) throws -> Tensor {
        try Tensor.wrap(op.name, withHandle { mt_binary_scalar(op.code, $0, scalar, reverse) })
    }

    func reduce(_ op: ReduceOp, _ dims: [Int], keepDim: Bool, unbiased: Bool = true) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.wrap(op.name, withHandle { mt_reduce(op.code, $0, d, Int32(d.count), keepDim, unbiased) })
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
        try Tensor.wrap("clamp", withHandle { mt_clamp($0, lo ?? 0, hi ?? 0, lo != nil, hi != nil) })
    }

    /// `torch.lerp(self, end, weight)` = self + weight · (end − self).
    public func lerp(_ end: Tensor, _ weight: Double) throws -> Tensor {
        try Tensor.wrap("lerp", withHandles(self, end) { mt_lerp($0, $1, weight) })
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

    public func cumsum(_ dim: Int) throws -> Tensor { try Tensor.wrap("cumsum", withHandle { mt_cumsum($0, Int64(dim)) }) }

    /// The `k` largest (or smallest) values along `dim`, sorted, with their indices.
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        var v: OpaquePointer?
        var i: OpaquePointer?
        try check(withHandle { mt_topk($0, Int64(k), Int64(dim), largest, &v, &i) }, "topk")
        return (Tensor(owning: v!), Tensor(owning: i!))
    }

    public func sorted(dim: Int = -1, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        var i: OpaquePointer?
        let v = try Tensor.wrap("sort", withHandle { mt_sort($0, Int64(dim), descending, &i) })
        return (v, Tensor(owning: i!))
    }
}
