import Testing
import MiroEngine
import MiroFormats

// A finite-difference gradient checker in float64, in the spirit of `torch.autograd.gradcheck`.
//
// For f(x₀, x₁, …) → y, the checker differentiates the scalar L = Σ y ⊙ W, where W is a fixed
// pseudo-random weight tensor of y's shape with entries of magnitude 0.25…1 and mixed signs, so
// every output element contributes and a gradient routed to the wrong element shows up. The
// analytic gradient comes from libtorch's `backward()`; the numeric one from central differences
// (L(x + ε) − L(x − ε)) / 2ε, with each perturbed input rebuilt from a Swift `[Double]` copy.

/// Deterministic SplitMix64, so test inputs never depend on libtorch's generator.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform on [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func uniform(_ r: ClosedRange<Double>) -> Double { r.lowerBound + (r.upperBound - r.lowerBound) * unit() }
}

/// One float64 input of a gradient check: a shape and its C-order values.
struct GradInput: Sendable, CustomStringConvertible {
    let shape: [Int]
    let values: [Double]

    init(_ shape: [Int], _ values: [Double]) {
        precondition(shape.reduce(1, *) == values.count, "GradInput: \(values.count) values for \(shape)")
        self.shape = shape
        self.values = values
    }

    var description: String { "\(shape)" }

    /// Uniform values in `range`, at least `margin` away from every point of `avoid` (kinks, bounds).
    static func uniform(_ shape: [Int], seed: UInt64, _ range: ClosedRange<Double> = -1...1,
                        avoid: [Double] = [], margin: Double = 0.1) -> GradInput {
        var rng = SplitMix64(seed: seed)
        let n = shape.reduce(1, *)
        var out: [Double] = []
        out.reserveCapacity(n)
        while out.count < n {
            let v = rng.uniform(range)
            if avoid.allSatisfy({ Swift.abs(v - $0) >= margin }) { out.append(v) }
        }
        return GradInput(shape, out)
    }

    /// Strictly positive values (for log, sqrt, pow bases, divisors).
    static func positive(_ shape: [Int], seed: UInt64) -> GradInput { uniform(shape, seed: seed, 0.5...2) }

    /// Pairwise distinct values spaced ≥ 0.1 apart (no ties for max/min/sort/topk), shuffled.
    static func distinct(_ shape: [Int], seed: UInt64) -> GradInput {
        var rng = SplitMix64(seed: seed)
        let n = shape.reduce(1, *)
        var values = (0..<n).map { Double($0) * 0.13 - Double(n) * 0.065 + rng.uniform(0...0.02) }
        for i in stride(from: n - 1, to: 0, by: -1) { values.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return GradInput(shape, values)
    }
}

/// The fixed weights W of the scalar reduction: magnitudes in [0.25, 1], random signs.
func reductionWeights(count: Int, seed: UInt64 = 0x5EED) -> [Double] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in
        let m = rng.uniform(0.25...1)
        return rng.next() & 1 == 0 ? m : -m
    }
}

struct GradMismatch: CustomStringConvertible {
    let input: Int, element: Int
    let analytic: Double, numeric: Double
    var description: String { "x\(input)[\(element)]: analytic \(analytic) vs numeric \(numeric)" }
}

struct GradCheckResult {
    var mismatches: [GradMismatch] = []
    /// Largest |analytic gradient| seen over all inputs (to assert the check is not vacuous).
    var maxAbsGradient = 0.0
    var evaluations = 0
}

/// Compares `backward()` gradients of Σ f(inputs) ⊙ W with central differences.
/// Records a test issue per failing input and returns the details.
@discardableResult
func checkGradients(_ inputs: [GradInput], eps: Double = 1e-6, rtol: Double = 1e-5, atol: Double = 1e-7,
                    allowZeroGradient: Bool = false, sourceLocation: SourceLocation = #_sourceLocation,
                    _ f: ([Tensor]) throws -> Tensor) throws -> GradCheckResult {
    var result = GradCheckResult()

    // Analytic.
    let leaves = try inputs.map { try Tensor($0.values, shape: $0.shape).requiringGrad() }
    let y = try f(leaves)
    try #require(y.dtype == .float64, "f must keep float64, got \(y.dtype)", sourceLocation: sourceLocation)
    let w = try Tensor(reductionWeights(count: y.count), shape: y.shape)
    try (y * w).sum().backward()
    var analytic: [[Double]] = []
    for (i, leaf) in leaves.enumerated() {
        let g = try #require(leaf.grad, "input \(i) received no gradient", sourceLocation: sourceLocation)
        #expect(g.shape == inputs[i].shape, "gradient shape of input \(i)", sourceLocation: sourceLocation)
        let values = try g.doubles()
        result.maxAbsGradient = max(result.maxAbsGradient, values.map { Swift.abs($0) }.max() ?? 0)
        analytic.append(values)
    }

    // Numeric.
    func loss(_ values: [[Double]]) throws -> Double {
        try withoutGrad {
            let ts = try zip(values, inputs).map { try Tensor($0, shape: $1.shape) }
            return try (f(ts) * w).sum().item()
        }
    }
    var current = inputs.map(\.values)
    for i in inputs.indices {
        for j in current[i].indices {
            let x = current[i][j]
            current[i][j] = x + eps
            let plus = try loss(current)
            current[i][j] = x - eps
            let minus = try loss(current)
            current[i][j] = x
            result.evaluations += 2
            let numeric = (plus - minus) / (2 * eps)
            let a = analytic[i][j]
            if !(Swift.abs(a - numeric) <= atol + rtol * Swift.abs(numeric)) {
                result.mismatches.append(GradMismatch(input: i, element: j, analytic: a, numeric: numeric))
            }
        }
    }

    let shown = result.mismatches.prefix(4).map(\.description).joined(separator: "; ")
    #expect(result.mismatches.isEmpty, "\(result.mismatches.count) gradient mismatches: \(shown)",
            sourceLocation: sourceLocation)
    if !allowZeroGradient {
        #expect(result.maxAbsGradient > 1e-3, "all gradients are ~0: the check would be vacuous",
                sourceLocation: sourceLocation)
    }
    return result
}

/// A named gradient-check case for `@Test(arguments:)` tables.
struct GradCase: Sendable, CustomTestStringConvertible {
    let name: String
    let inputs: [GradInput]
    let allowZeroGradient: Bool
    let f: @Sendable ([Tensor]) throws -> Tensor

    init(_ name: String, _ inputs: [GradInput], allowZeroGradient: Bool = false,
         _ f: @escaping @Sendable ([Tensor]) throws -> Tensor) {
        self.name = name
        self.inputs = inputs
        self.allowZeroGradient = allowZeroGradient
        self.f = f
    }

    var testDescription: String { name }

    func run(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try checkGradients(inputs, allowZeroGradient: allowZeroGradient, sourceLocation: sourceLocation, f)
    }
}

// Shorthands for the tables.
func U(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Double> = -1...1, avoid: [Double] = []) -> GradInput {
    .uniform(shape, seed: seed, range, avoid: avoid)
}
func P(_ shape: [Int], _ seed: UInt64) -> GradInput { .positive(shape, seed: seed) }
func D(_ shape: [Int], _ seed: UInt64) -> GradInput { .distinct(shape, seed: seed) }
