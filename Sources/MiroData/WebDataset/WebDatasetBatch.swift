// Port of miro/data/datamodule.py (miro-t2i 0.1.4; method.md §2.5): `dict_collate_and_pad(["flan_t5_xl"],
// max_length=256)` and the default collation of the VAE latents and `{reward}_coherence` values.
import Foundation

/// One training batch in plain Swift arrays (row-major, batch first), ready to wrap in tensors.
///
/// | field | shape | official key |
/// |---|---|---|
/// | `vaeMean`, `vaeStd` | B × 4 × 32 × 32 (`latentShape`) | `vae_embeddings_mean_256`, `…std_256` |
/// | `text` | B × T × D, zero-padded / truncated to T = `maxTextTokens` | `flan_t5_xl_embeddings` |
/// | `textMask` | B × T, true on real tokens | `flan_t5_xl_mask` |
/// | `rewards` | B × K in `rewardNames` order, NaN for a missing score | `{reward}_coherence` |
///
/// Equality compares floats by bit pattern (so NaN rewards compare equal), which is what a resume test needs.
public struct WebDatasetBatch: Sendable, Equatable {
    public var keys: [String]
    /// Where each row came from (epoch, shard, index, key).
    public var refs: [SampleRef]
    public var latentShape: [Int]
    public var maxTextTokens: Int
    public var textDim: Int
    public var rewardNames: [String]
    public var vaeMean: [Float]
    public var vaeStd: [Float]
    public var text: [Float]
    public var textMask: [Bool]
    public var rewards: [Float]
    /// Rows that use the synthetic caption.
    public var syntheticCaption: [Bool]
    /// The loader position right after this batch: store it in the checkpoint written after training on it.
    public var cursor: WebDatasetCursor

    public var batchSize: Int { keys.count }
    /// Tokens of each row before padding / truncation was applied (mask sums, capped at `maxTextTokens`).
    public var textLengths: [Int] {
        (0..<batchSize).map { b in textMask[(b * maxTextTokens)..<((b + 1) * maxTextTokens)].reduce(0) { $0 + ($1 ? 1 : 0) } }
    }

    /// Collates raw samples: widens float16 to Float, pads or truncates the text to `maxTextTokens` rows.
    /// `reuse` supplies arrays of a recycled batch (every element is overwritten, padding re-zeroed).
    static func assemble(_ samples: [RawSample], config: EnrichedSampleConfig, textDim: Int,
                         cursor: WebDatasetCursor, reuse: consuming BatchStorage? = nil) -> WebDatasetBatch {
        let b = samples.count
        let latent = config.latentShape.reduce(1, *)
        let t = config.maxTextTokens
        let d = textDim
        // Move the recycled arrays out of the parameter: a second reference would make the writes below copy them.
        var slot = reuse
        let recycled = slot != nil
        var storage = slot.take() ?? BatchStorage(vaeMean: [Float](repeating: 0, count: b * latent),
                                            vaeStd: [Float](repeating: 0, count: b * latent),
                                            text: [Float](repeating: 0, count: b * t * d),
                                            textMask: [Bool](repeating: false, count: b * t))
        precondition(storage.text.count == b * t * d && storage.vaeMean.count == b * latent, "recycled batch of another shape")
        storage.vaeMean.withUnsafeMutableBufferPointer { mp in
            storage.vaeStd.withUnsafeMutableBufferPointer { sp in
                storage.text.withUnsafeMutableBufferPointer { tp in
                    storage.textMask.withUnsafeMutableBufferPointer { mask in
                        for (i, s) in samples.enumerated() {
                            s.vaeMean.decode(count: latent, into: mp.baseAddress! + i * latent)
                            s.vaeStd.decode(count: latent, into: sp.baseAddress! + i * latent)
                            // x[:max_length] into a zero (B, max_length, D) tensor.
                            let n = min(s.textTokens, t)
                            let row = tp.baseAddress! + i * t * d
                            s.text.decode(count: n * d, into: row)
                            if recycled { (row + n * d).update(repeating: 0, count: (t - n) * d) }
                            for k in 0..<t { mask[i * t + k] = k < n }
                        }
                    }
                }
            }
        }
        let (mean, std, text, mask) = (storage.vaeMean, storage.vaeStd, storage.text, storage.textMask)
        storage = BatchStorage(vaeMean: [], vaeStd: [], text: [], textMask: [])
        return WebDatasetBatch(
            keys: samples.map(\.ref.key), refs: samples.map(\.ref), latentShape: config.latentShape, maxTextTokens: t,
            textDim: d, rewardNames: config.rewardNames, vaeMean: mean, vaeStd: std, text: text, textMask: mask,
            rewards: samples.flatMap(\.rewards), syntheticCaption: samples.map(\.synthetic), cursor: cursor)
    }

    public static func == (a: WebDatasetBatch, b: WebDatasetBatch) -> Bool {
        func same(_ x: [Float], _ y: [Float]) -> Bool {
            x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }
        }
        return a.keys == b.keys && a.refs == b.refs && a.latentShape == b.latentShape
            && a.maxTextTokens == b.maxTextTokens && a.textDim == b.textDim && a.rewardNames == b.rewardNames
            && same(a.vaeMean, b.vaeMean) && same(a.vaeStd, b.vaeStd) && same(a.text, b.text)
            && a.textMask == b.textMask && same(a.rewards, b.rewards) && a.syntheticCaption == b.syntheticCaption
            && a.cursor == b.cursor
    }
}

/// The large arrays of a batch, handed back with `ShardLoader.recycle(_:)` so the next batch reuses their memory.
///
/// Why: a batch's text block is B × T × D floats (134 MB at 64 × 256 × 2048). Each fresh allocation of that size is
/// a new `mmap` whose pages the kernel must fault in and clear; measured on the 2-core CI machine this cost ~100 ms
/// per batch — more than decoding. Reused memory only needs its padding rows re-zeroed.
struct BatchStorage: Sendable {
    var vaeMean: [Float]
    var vaeStd: [Float]
    var text: [Float]
    var textMask: [Bool]
}
