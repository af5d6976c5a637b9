/// Port of `T5Attention._relative_position_bucket` and the bucket half of `T5Attention.compute_bias` in
/// transformers/models/t5/modeling_t5.py (transformers 4.40.2), bidirectional (encoder) case only.
///
/// A relative position `key − query` maps to one of `num_buckets` buckets: half of them per sign (positive
/// offsets get `+num_buckets/2`); inside a half, distances below `max_exact = num_buckets/4` keep their own bucket
/// and larger ones share logarithmically wider buckets up to `max_distance`, beyond which everything falls in the
/// last bucket.

import Foundation
import MiroEngine

public enum T5RelativePosition {
    /// The bucket of one relative position, computed with the float32 operations transformers uses
    /// (`log(n.float() / max_exact) / log(max_distance / max_exact) * (half − max_exact)`, truncated), so that
    /// distances on a bucket boundary land where the reference puts them.
    ///
    /// Meaningful for `numBuckets ≥ 4` and `maxDistance > numBuckets / 4` (what `T5Config.validate` requires);
    /// other arguments give some bucket rather than a trap.
    public static func bucket(_ relativePosition: Int, numBuckets: Int, maxDistance: Int) -> Int {
        let half = numBuckets / 2
        var bucket = relativePosition > 0 ? half : 0
        let n = relativePosition.magnitude
        let maxExact = max(0, half / 2)
        if n < UInt(maxExact) { return bucket + Int(n) }
        // torch: relative_position.float() / max_exact, then log, then ÷ a Python float (cast to float32), × int.
        let scaled = Float(n) / Float(maxExact)
        let denominator = Float(Foundation.log(Double(maxDistance) / Double(maxExact)))
        let value = Foundation.log(scaled) / denominator * Float(half - maxExact)
        // `.to(torch.long)` truncates toward zero; the clamp to the last bucket also bounds huge distances (and,
        // for arguments `T5Config.validate` would refuse, keeps a NaN or infinity away from `Int(_:)`).
        let large = value >= 0 && value < Float(half) ? maxExact + Int(value) : value < 0 ? maxExact : half
        bucket += max(0, min(large, half - 1))
        return bucket
    }

    /// The `[queryLength, keyLength]` int64 bucket table (`relative_position = memory_position − context_position`).
    public static func buckets(queryLength: Int, keyLength: Int, numBuckets: Int, maxDistance: Int) throws -> Tensor {
        guard queryLength > 0, keyLength > 0 else {
            throw T5Error.invalidInput(message: "relative positions need at least one query and one key, got \(queryLength) × \(keyLength)")
        }
        // One bucket per distinct offset, then the table is filled by offset.
        let lowest = -(queryLength - 1)
        let byOffset = (lowest...(keyLength - 1)).map { Int64(bucket($0, numBuckets: numBuckets, maxDistance: maxDistance)) }
        var table = [Int64](repeating: 0, count: queryLength * keyLength)
        for q in 0..<queryLength {
            for k in 0..<keyLength { table[q * keyLength + k] = byOffset[k - q - lowest] }
        }
        return try Tensor(table, shape: [queryLength, keyLength])
    }
}
