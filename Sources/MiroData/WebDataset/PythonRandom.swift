// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5, §4.1): the official sampler
// (`ShardExclusiveSampler`) and bins script (`scripts/build_coherence_bins_cache.py`) draw with Python's
// `random.Random`; this is CPython's generator, so those draws are reproduced exactly.
import Foundation

/// CPython's `random.Random` (Modules/_randommodule.c + Lib/random.py, 3.x): MT19937 seeded through
/// `init_by_array` with the 32-bit words of `abs(seed)`, and the derived methods MIRO uses — `random()`,
/// `getrandbits(k)`, `_randbelow(n)` (rejection on `getrandbits(n.bit_length())`), `shuffle` and `sample`.
///
/// With the same seed, every call returns exactly what CPython returns (checked against Python 3.11 by the
/// shard fixtures), so shard orders and the bins-cache record selection match the official code bit for bit.
/// A value type: copying it snapshots the stream (the epoch planner keeps one per shard visit).
public struct PythonRandom: Sendable, Equatable, Codable {
    private var mt: [UInt32]
    private var index: Int

    /// `random.Random(seed)` for an integer seed (negative seeds use `abs`, as CPython does).
    public init(seed: Int) {
        self.init(seedMagnitude: UInt64(seed.magnitude))
    }

    /// `random.Random(seed)` for a non-negative seed up to 2⁶⁴ − 1.
    public init(seedMagnitude n: UInt64) {
        // Little-endian 32-bit words of n; zero still gives one word ([0]).
        var key: [UInt32] = [UInt32(truncatingIfNeeded: n)]
        if n >> 32 != 0 { key.append(UInt32(truncatingIfNeeded: n >> 32)) }
        mt = [UInt32](repeating: 0, count: 624)
        index = 624
        initByArray(key)
    }

    private mutating func initGenrand(_ s: UInt32) {
        mt[0] = s
        for i in 1..<624 {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    private mutating func initByArray(_ key: [UInt32]) {
        initGenrand(19_650_218)
        var i = 1
        var j = 0
        for _ in 0..<max(624, key.count) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
        }
        mt[0] = 0x8000_0000
    }

    /// `genrand_uint32`: the next 32-bit MT19937 output.
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 {
            for k in 0..<624 {
                let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % 624] & 0x7FFF_FFFF)
                mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : 0x9908_B0DF)
            }
            index = 0
        }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `random()`: 53 random bits in [0, 1).
    public mutating func random() -> Double {
        let a = Double(nextUInt32() >> 5)
        let b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `getrandbits(k)` for 0 ≤ k ≤ 64 (words are filled from the least significant one, as CPython does).
    public mutating func getrandbits(_ k: Int) -> UInt64 {
        precondition((0...64).contains(k), "getrandbits supports 0...64 bits")
        if k == 0 { return 0 }
        if k <= 32 { return UInt64(nextUInt32() >> UInt32(32 - k)) }
        let low = UInt64(nextUInt32())
        let high = UInt64(nextUInt32() >> UInt32(64 - k))
        return low | (high << 32)
    }

    /// `_randbelow(n)`: uniform in [0, n), by rejection on `n.bit_length()` bits. n must be positive.
    public mutating func randbelow(_ n: Int) -> Int {
        precondition(n > 0, "randbelow needs a positive bound")
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = getrandbits(k)
        while r >= UInt64(n) { r = getrandbits(k) }
        return Int(r)
    }

    /// `shuffle(x)`: Fisher–Yates from the end, `j = _randbelow(i + 1)`.
    public mutating func shuffle<T>(_ x: inout [T]) {
        guard x.count > 1 else { return }
        for i in stride(from: x.count - 1, through: 1, by: -1) {
            let j = randbelow(i + 1)
            x.swapAt(i, j)
        }
    }

    /// `sample(population, k)`: k distinct elements in selection order. CPython picks between a pool algorithm
    /// (small populations) and a set-of-selected-indices algorithm (large ones) with the same threshold, which
    /// changes the draws, so both are reproduced.
    public mutating func sample<T>(_ population: [T], _ k: Int) -> [T] {
        sampleIndices(population.count, k).map { population[$0] }
    }

    /// The indices `sample(range(n), k)` returns.
    public mutating func sampleIndices(_ n: Int, _ k: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "sample larger than population or negative")
        var result: [Int] = []
        result.reserveCapacity(k)
        var setsize = 21
        if k > 5 {
            // 4 ** ceil(log(k * 3, 4)); math.log(x, base) = log(x) / log(base) in CPython.
            setsize += Int(pow(4.0, Foundation.ceil(Foundation.log(Double(k * 3)) / Foundation.log(4.0))))
        }
        if n <= setsize {
            var pool = Array(0..<n)
            for i in 0..<k {
                let j = randbelow(n - i)
                result.append(pool[j])
                pool[j] = pool[n - i - 1]
            }
        } else {
            var selected = Set<Int>()
            for _ in 0..<k {
                var j = randbelow(n)
                while selected.contains(j) { j = randbelow(n) }
                selected.insert(j)
                result.append(j)
            }
        }
        return result
    }
}
