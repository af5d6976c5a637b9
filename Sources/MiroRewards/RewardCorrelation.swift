/// Pearson correlations between rewards over one set of samples: how much "every reward at 1" asks for a
/// combination the data actually contains (the paper's web-data rewards mostly agree).
public struct RewardCorrelation: Sendable {
    public let keys: [String]
    /// `matrix[i][j]`: correlation of `keys[i]` with `keys[j]` (NaN when either does not vary).
    public let matrix: [[Double]]

    /// `scores[key]` must have the same length for every key in `keys`.
    public init(scores: [String: [Float]], keys: [String]) {
        self.keys = keys
        let columns = keys.map { (scores[$0] ?? []).map(Double.init) }
        matrix = columns.map { a in columns.map { b in Self.pearson(a, b) } }
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(min(x.count, y.count))
        guard n > 1 else { return .nan }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    /// The most negative off-diagonal entry, with its pair.
    public var mostNegative: (a: String, b: String, r: Double)? {
        var best: (String, String, Double)? = nil
        for i in keys.indices {
            for j in keys.indices where j > i && matrix[i][j] < (best?.2 ?? .infinity) { best = (keys[i], keys[j], matrix[i][j]) }
        }
        return best
    }

    /// One line per pair: "alignment_score × quality_score +0.23, ...".
    public var summary: String {
        var parts: [String] = []
        for i in keys.indices {
            for j in keys.indices where j > i {
                parts.append("\(keys[i]) × \(keys[j]) \(matrix[i][j] >= 0 ? "+" : "")\(String(format: "%.2f", matrix[i][j]))")
            }
        }
        return parts.joined(separator: ", ")
    }
}
