/// SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of `java.util.SplittableRandom` and xoshiro):
/// a 64-bit state advanced by a Weyl increment and finalised by a bijective mixer.
///
/// Why our own generator: Swift's `SystemRandomNumberGenerator` cannot be seeded, and the standard library's
/// `random(in:using:)` algorithms are not documented to stay stable across releases. Every Shapes-world draw
/// goes through the integer-only helpers below, so a seed gives the same bytes on every platform and compiler.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for item `index` of the stream `seed`: mixing both keeps items independent of each other
    /// and of how many are drawn, so a dataset can be generated in any order (random access, like WIDS).
    public init(seed: UInt64, index: UInt64) {
        state = SplitMix64.mix(seed &+ 0x9E37_79B9_7F4A_7C15 &* (index &+ 1)) ^ SplitMix64.mix(index ^ 0xD1B5_4A32_D192_ED03)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 output function (a variant of MurmurHash3's fmix64).
    @inlinable public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits (exact in `Double`).
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [lower, upper).
    public mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * uniform()
    }

    /// Uniform in [lower, upper) as `Float`.
    public mutating func uniformFloat(_ lower: Float, _ upper: Float) -> Float {
        Float(uniform(Double(lower), Double(upper)))
    }

    /// A uniform integer in `range` (Lemire's multiply-shift; the tiny modulo bias of 2⁻⁶⁴·n is irrelevant here
    /// and, unlike rejection sampling, the number of draws is fixed, which keeps streams aligned).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next().multipliedFullWidth(by: span).high)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { uniform() < p }

    /// A uniformly chosen element (the collection must not be empty).
    public mutating func pick<C: RandomAccessCollection>(_ items: C) -> C.Element where C.Index == Int {
        items[items.startIndex + int(in: 0...(items.count - 1))]
    }

    /// An index drawn with probability proportional to `weights`.
    public mutating func weightedIndex(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var u = uniform() * total
        for (i, w) in weights.enumerated() {
            if u < w { return i }
            u -= w
        }
        return weights.count - 1
    }

    /// An approximately standard normal value as the Irwin–Hall sum of 12 uniforms minus 6 (mean 0, variance 1,
    /// support ±6). Only additions, so it is bit-identical everywhere, unlike Box–Muller's `log`/`cos`.
    public mutating func gaussian12() -> Double {
        var sum = 0.0
        for _ in 0..<12 { sum += uniform() }
        return sum - 6
    }

    /// A cheaper near-normal value: (sum of 4 uniforms − 2)·√3 (mean 0, variance 1, support ±2√3). Used for pixel
    /// noise, where the missing tails do not matter and speed does.
    public mutating func gaussian4() -> Double {
        let sum = uniform() + uniform() + uniform() + uniform()
        return (sum - 2) * 1.7320508075688772
    }
}

/// 64-bit FNV-1a over UTF-8 bytes: a stable string hash (Swift's `Hasher` is randomly seeded per process).
public enum FNV1a {
    public static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }
}
