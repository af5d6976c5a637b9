import Foundation
import MiroFormats

/// Per-reward bin edges and the discretisation of raw reward scores into MIRO's conditioning values
/// (method.md §4.1–§4.2), bit-compatible with the official code (github.com/nicolas-dufour/miro):
///
/// * **Edges** — `_compute_bins` in `data/text_wids_dataset.py`, shared by the dataset and by
///   `scripts/build_coherence_bins_cache.py`. Values are cast to float32, `torch.unique`d, then
///   `torch.quantile(unique, torch.linspace(0, 1, B + 1))` (linear interpolation) gives B + 1 edges;
///   with fewer than B + 1 unique values (or more than 2²⁴, where `torch.quantile` raises) it falls back
///   to `torch.linspace(min, max, B + 1)`. The first edge is then overwritten with 0.0, the last with 1.0,
///   and `torch.unique` sorts and de-duplicates, so an edge list can be shorter than B + 1 and, for
///   scores outside [0, 1], 0.0 / 1.0 can end up inside it. All arithmetic is float32 and reproduces
///   torch's CPU kernels, including their fused multiply-adds (`lerp`, `linspace`), bit for bit —
///   checked against torch 2.5.1 by `scripts/make_bins_fixtures.py --check-torch`. Edges are stored as
///   the `Double`s that `tensor.tolist()` gives (exact float32 values).
/// * **Conditioning value** — `TextWIDSDataset.__getitem__`:
///   `idx = torch.bucketize(float32(score), edges)` (right = False: the number of edges strictly below
///   the score), `ŝ = max(0, idx − 1) / (B − 1)` as a Python float, then float32. So ŝ ∈ {0, 1/63, …, 1}
///   for B = 64; scores ≤ first edge give 0; scores above the last edge give (E − 1)/(B − 1) with E edges
///   (64/63 when E = 65). A missing score gives `Float.nan`; the model maps NaN to 0 (and drops that
///   reward's embedding) in training — see method.md §4.4.
/// * **Cache** — `json.dumps({reward: edges})` in the first data root, named
///   `coherence_bins_{B}_bins_{sorted names joined by "-"}_synthetic_prob_{p}.json`.
///
/// Deliberate deviations, only for input the official code does not handle sensibly: non-finite values
/// (NaN, ±∞, or beyond float32's range) are dropped before fitting, and −0.0 is treated as +0.0.
/// The `refined_quantile` strategy (unused in the release: `refine_last_n_bins: 0`) is not ported.
public struct RewardBins: Codable, Equatable, Sendable {
    /// Sorted, strictly increasing edges per reward name (float32 values widened to `Double`).
    public var edges: [String: [Double]]
    /// B, the configured number of bins (`num_bins`); the conditioning grid is k / (B − 1). It stays the
    /// configured value even where de-duplication left fewer than B + 1 edges, as in the official code.
    public var numBins: Int

    /// `bin_strategy` of the official configuration.
    public enum Strategy: String, Codable, Sendable, CaseIterable {
        /// Equal-frequency edges over the unique values (the released setting).
        case quantile
        /// Evenly spaced edges between the minimum and maximum value.
        case uniform
    }

    public init(edges: [String: [Double]], numBins: Int) {
        self.edges = edges
        self.numBins = numBins
    }

    // MARK: - Fitting

    /// Fits edges for every reward (the official `_compute_bins` per reward). Rewards with no finite
    /// value are left out, as the official code skips them.
    public static func fit(values: [String: [Double]], numBins: Int = 64, strategy: Strategy = .quantile) -> RewardBins {
        precondition(numBins >= 2, "numBins must be at least 2 (the conditioning grid divides by numBins - 1)")
        var result: [String: [Double]] = [:]
        for (name, vals) in values {
            if let e = computeEdges(vals, numBins: numBins, strategy: strategy) { result[name] = e }
        }
        return RewardBins(edges: result, numBins: numBins)
    }

    /// The official `_compute_bins(torch.tensor(values, dtype=torch.float32), numBins, strategy)`;
    /// `nil` when no finite value is left.
    public static func computeEdges(_ values: [Double], numBins: Int, strategy: Strategy = .quantile) -> [Double]? {
        precondition(numBins >= 1, "numBins must be positive")
        var floats: [Float] = []
        floats.reserveCapacity(values.count)
        for v in values where !v.isNaN {
            let f = Float(v)  // round to nearest even, like torch.tensor(..., dtype=float32)
            if f.isFinite { floats.append(f == 0 ? 0 : f) }
        }
        guard !floats.isEmpty else { return nil }
        let unique = sortedUnique(floats)
        let count = numBins + 1
        var bins: [Float]
        if strategy == .uniform || unique.count < count || unique.count > 1 << 24 {
            bins = TorchFloat32.linspace(unique[0], unique[unique.count - 1], count)
        } else {
            bins = TorchFloat32.quantile(sorted: unique, q: TorchFloat32.linspace(0, 1, count))
        }
        bins[0] = 0
        bins[bins.count - 1] = 1
        let out = sortedUnique(bins)
        return out.count < 2 ? nil : out.map { Double($0) }
    }

    private static func sortedUnique(_ xs: [Float]) -> [Float] {
        var s = xs.map { $0 == 0 ? Float(0) : $0 }  // −0.0 == +0.0 for torch.unique; keep +0.0
        s.sort()
        var out: [Float] = []
        out.reserveCapacity(s.count)
        for x in s where out.last != x { out.append(x) }
        return out
    }

    // MARK: - Discretisation

    /// The conditioning value of one raw score for `reward`: `max(0, idx − 1) / (numBins − 1)` with
    /// `idx` = the number of edges strictly below `Float(score)` (torch.bucketize, right = False).
    ///
    /// - `nil` (score missing) → `Float.nan` (official `float("nan")`; the model maps it to 0 in training).
    /// - A present NaN score compares "not ≥" with every edge, so like torch it lands past the last edge.
    /// - A reward without edges passes the raw score through as float32, as the official dataset does for a
    ///   reward that has no bins.
    public func conditioningValue(_ score: Double?, reward: String) -> Float {
        guard let score else { return .nan }
        guard let e = edges[reward] else { return Float(score) }
        let v = Float(score)
        // aten cus_lower_bound: first index whose edge is >= v (NaN never is).
        var lo = 0
        var hi = e.count
        while lo < hi {
            let mid = lo + (hi - lo) >> 1
            if !(Float(e[mid]) >= v) { lo = mid + 1 } else { hi = mid }
        }
        return Float(Double(Swift.max(0, lo - 1)) / Double(numBins - 1))
    }

    /// `conditioningValue` for many scores of one reward.
    public func conditioningValues(_ scores: [Double?], reward: String) -> [Float] {
        scores.map { conditioningValue($0, reward: reward) }
    }

    /// The conditioning vector of one sample: one value per name in `rewards`, in that order
    /// (`Float.nan` where the record has no score).
    public func conditioningValues(record: [String: Double], rewards: [String]) -> [Float] {
        rewards.map { conditioningValue(record[$0], reward: $0) }
    }

    // MARK: - Cache file

    /// `coherence_bins_{B}_bins_{sorted names joined by "-"}[_strategy_uniform]_synthetic_prob_{p}.json`,
    /// with `p` formatted like Python's `str(float)` (0.5 → `0.5`, 0.0 → `0.0`, 1e-05 → `1e-05`), as
    /// `TextWIDSDataset` and `build_coherence_bins_cache.py` (argparse `type=float`) name it.
    public static func cacheFileName(rewardNames: [String], numBins: Int, synthProb: Double,
                                     strategy: Strategy = .quantile) -> String {
        let names = rewardNames.sorted(by: pythonStringLess).joined(separator: "-")
        let strategyPart = strategy == .quantile ? "" : "strategy_\(strategy.rawValue)_"
        return "coherence_bins_\(numBins)_bins_\(names)_\(strategyPart)synthetic_prob_\(PythonFloatRepr.string(synthProb)).json"
    }

    /// The cache bytes exactly as `json.dumps({name: edges.tolist()})` writes them: default separators
    /// (`", "`, `": "`), ASCII-escaped keys, Python float reprs, no trailing newline. Keys follow
    /// `rewardOrder` (the official file follows the configured reward order); `nil` sorts them.
    public func cacheJSON(rewardOrder: [String]? = nil) throws -> Data {
        let order = rewardOrder ?? edges.keys.sorted(by: pythonStringLess)
        guard order.count == edges.count, Set(order) == Set(edges.keys) else {
            throw RewardBinsError.invalidRewardOrder(given: order, rewards: edges.keys.sorted(by: pythonStringLess))
        }
        let cache = PythonJSON.object(order.map { (key: $0, value: .array(edges[$0]!.map { .float($0) })) })
        return Data(cache.dumps().utf8)
    }

    /// Writes the cache into `directory` under `cacheFileName(...)`, atomically (a temporary file in the
    /// same directory renamed over the target), and returns its URL.
    @discardableResult
    public func writeCache(to directory: URL, synthProb: Double, strategy: Strategy = .quantile,
                           rewardOrder: [String]? = nil) throws -> URL {
        let data = try cacheJSON(rewardOrder: rewardOrder)
        let name = Self.cacheFileName(rewardNames: Array(edges.keys), numBins: numBins, synthProb: synthProb,
                                      strategy: strategy)
        let url = directory.appendingPathComponent(name)
        do {
            try data.write(to: url, options: .atomic)  // temp file + rename(2)
        } catch {
            throw RewardBinsError.unwritable(file: url.path, reason: "\(error)")
        }
        return url
    }

    /// Reads and validates a cache file. `expectedRewards` must equal the file's key set (the official
    /// loader recomputes otherwise); every edge list must be finite, strictly increasing, with 2…B + 1
    /// entries. `numBins` defaults to the B in an official file name (`coherence_bins_{B}_bins_…`); when
    /// given and the name carries another B, that is an error too.
    public static func readCache(_ url: URL, expectedRewards: [String], numBins: Int? = nil) throws -> RewardBins {
        let file = url.path
        let nameBins = binsInFileName(url.lastPathComponent)
        if let numBins, let nameBins, numBins != nameBins {
            throw RewardBinsError.numBinsMismatch(file: file, expected: numBins, inFileName: nameBins)
        }
        guard let bins = numBins ?? nameBins else { throw RewardBinsError.unknownNumBins(file: file) }
        // B comes from the file name: bounded, so `bins + 1` below cannot overflow (torch.quantile itself stops at 2²⁴).
        guard bins >= 2, bins <= 1 << 24 else { throw RewardBinsError.invalidNumBins(file: file, numBins: bins) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw RewardBinsError.unreadable(file: file, reason: "\(error)")
        }
        // Read as `json.load` reads it (the official loader): `NaN` / `Infinity` are numbers here, rejected below
        // as non-finite edges, and a repeated key keeps its last list. (`JSONDecoder` would call such a file
        // malformed JSON.)
        let json: PythonJSON
        do { json = try PythonJSON.parse([UInt8](data)) } catch {
            throw RewardBinsError.malformed(file: file, field: "", reason: "not valid JSON: \(error)")
        }
        guard let object = json.object else {
            throw RewardBinsError.malformed(file: file, field: "", reason: "expected an object of number arrays")
        }
        var decoded: [String: [Double]] = [:]
        for name in object.keys.sorted(by: pythonStringLess) {
            guard let items = object[name]!.array else {
                throw RewardBinsError.malformed(file: file, field: name, reason: "expected an array of numbers")
            }
            decoded[name] = try items.enumerated().map { i, item in
                guard let x = item.double else {
                    throw RewardBinsError.malformed(file: file, field: "\(name)[\(i)]", reason: "expected a number")
                }
                return x
            }
        }
        let want = Set(expectedRewards)
        let have = Set(decoded.keys)
        guard want == have else {
            throw RewardBinsError.rewardSetMismatch(file: file, expected: want.sorted(by: pythonStringLess),
                                                    found: have.sorted(by: pythonStringLess))
        }
        for name in decoded.keys.sorted(by: pythonStringLess) {
            let e = decoded[name]!
            guard (2...(bins + 1)).contains(e.count) else {
                throw RewardBinsError.wrongEdgeCount(file: file, reward: name, count: e.count, numBins: bins)
            }
            for (i, x) in e.enumerated() {
                guard x.isFinite else { throw RewardBinsError.nonFiniteEdge(file: file, reward: name, index: i) }
                if i > 0, !(Float(e[i - 1]) < Float(x)) {
                    throw RewardBinsError.nonMonotonicEdges(file: file, reward: name, index: i,
                                                            previous: e[i - 1], value: x)
                }
            }
        }
        return RewardBins(edges: decoded, numBins: bins)
    }

    private static func binsInFileName(_ name: String) -> Int? {
        let prefix = "coherence_bins_"
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, rest.dropFirst(digits.count).hasPrefix("_bins_") else { return nil }
        return Int(digits)
    }
}

/// Errors of `RewardBins` cache I/O; each names the file and the offending field.
public enum RewardBinsError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case unwritable(file: String, reason: String)
    case malformed(file: String, field: String, reason: String)
    case rewardSetMismatch(file: String, expected: [String], found: [String])
    case wrongEdgeCount(file: String, reward: String, count: Int, numBins: Int)
    case nonMonotonicEdges(file: String, reward: String, index: Int, previous: Double, value: Double)
    case nonFiniteEdge(file: String, reward: String, index: Int)
    case numBinsMismatch(file: String, expected: Int, inFileName: Int)
    case unknownNumBins(file: String)
    case invalidNumBins(file: String, numBins: Int)
    case invalidRewardOrder(given: [String], rewards: [String])

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "reward bins cache \(file): cannot read (\(reason))"
        case let .unwritable(file, reason):
            return "reward bins cache \(file): cannot write (\(reason))"
        case let .malformed(file, field, reason):
            return "reward bins cache \(file): malformed\(field.isEmpty ? "" : " at '\(field)'"): \(reason)"
        case let .rewardSetMismatch(file, expected, found):
            let missing = expected.filter { !found.contains($0) }
            let extra = found.filter { !expected.contains($0) }
            return "reward bins cache \(file): reward set mismatch: expected [\(expected.joined(separator: ", "))], "
                + "file has [\(found.joined(separator: ", "))] (missing: [\(missing.joined(separator: ", "))], "
                + "unexpected: [\(extra.joined(separator: ", "))])"
        case let .wrongEdgeCount(file, reward, count, numBins):
            return "reward bins cache \(file): '\(reward)' has \(count) edges; \(numBins) bins need 2...\(numBins + 1)"
        case let .nonMonotonicEdges(file, reward, index, previous, value):
            return "reward bins cache \(file): '\(reward)' edges not strictly increasing at index \(index) "
                + "(\(PythonFloatRepr.string(previous)) then \(PythonFloatRepr.string(value)))"
        case let .nonFiniteEdge(file, reward, index):
            return "reward bins cache \(file): '\(reward)' edge \(index) is not finite"
        case let .numBinsMismatch(file, expected, inFileName):
            return "reward bins cache \(file): file name says \(inFileName) bins, expected \(expected)"
        case let .unknownNumBins(file):
            return "reward bins cache \(file): the file name does not say how many bins its edges are for. Keep the "
                + "name `miro bins` (or build_coherence_bins_cache.py) gave it, "
                + "coherence_bins_{B}_bins_{reward names, sorted, joined by '-'}_synthetic_prob_{p}.json "
                + "(B = 64 in the released recipe): rename the file back and pass that path to --bins, "
                + "or rebuild it with `miro bins DATA_DIR`"
        case let .invalidNumBins(file, numBins):
            return "reward bins cache \(file): \(numBins) bins is invalid (need 2 ... \(1 << 24))"
        case let .invalidRewardOrder(given, rewards):
            return "reward order [\(given.joined(separator: ", "))] is not a permutation of the rewards "
                + "[\(rewards.joined(separator: ", "))]"
        }
    }
}

/// float32 re-implementations of the torch CPU kernels `_compute_bins` uses.
enum TorchFloat32 {
    /// `torch.linspace(start, end, steps)` (float32, CPU; RangeFactoriesKernel.cpp, scalar since torch 2.1):
    /// step = (end − start) / (steps − 1); element i = fma(step, i, start) for i < steps / 2, else
    /// fma(−step, steps − 1 − i, end) — the contracted `start + step * i` / `end - step * k` of the
    /// AVX2 / AVX512 / aarch64 builds.
    static func linspace(_ start: Float, _ end: Float, _ steps: Int) -> [Float] {
        if steps == 1 { return [start] }
        let step = (end - start) / Float(steps - 1)
        let halfway = steps / 2
        return (0..<steps).map { i in
            i < halfway ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(steps - i - 1))
        }
    }

    /// `torch.quantile(sorted, q)` with linear interpolation for sorted float32 values without NaN
    /// (Sorting.cpp): rank = q · (n − 1) in float32, lerp between the neighbours with torch's `lerp`
    /// (LerpKernel.cpp) as one fused multiply-add: |w| < 0.5 ? lo + w·(hi − lo) : hi + (w − 1)·(hi − lo).
    static func quantile(sorted u: [Float], q: [Float]) -> [Float] {
        let last = Float(u.count - 1)
        return q.map { qk in
            let rank = qk * last
            let below = Int(rank)
            let above = Int(rank.rounded(.up))
            let w = rank - Float(below)
            let lo = u[below], hi = u[above]
            let d = hi - lo
            return abs(w) < 0.5 ? lo.addingProduct(w, d) : hi.addingProduct(w - 1, d)
        }
    }
}

