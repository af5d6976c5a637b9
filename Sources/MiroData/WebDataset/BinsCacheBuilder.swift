// Port of miro/scripts/build_coherence_bins_cache.py (miro-t2i 0.1.4; method.md §4.1): the offline
// coherence-bins cache, built from the `.json` members of a directory of enriched tars.
import Foundation
import Logging
import MiroFormats
import MiroRewards

/// Builds `coherence_bins_{B}_bins_{names}_synthetic_prob_{p}.json` in a data root, as the official script does:
///
/// 1. tars = `sorted(root.glob("*.tar"))`; per-tar quota `max(1, max_samples // n_tars + 1)` (or
///    `samplesPerTar`);
/// 2. per tar i, `rng = random.Random(seed + i)`: the `.json` members in archive order, `rng.sample(members,
///    quota)` when there are more than the quota; for each selected record that parses, `rng.random() < p`
///    (drawn only when p > 0) substitutes `synthetic_<name>` for `<name>` — the correct keys, unlike the loader
///    as shipped; every value that is an int, float or bool is kept;
/// 3. per reward, when more than `max_samples` values were pooled, `random.Random(seed).sample(values,
///    max_samples)` (one generator, rewards in the configured order);
/// 4. edges = `RewardBins.computeEdges` (the official `_compute_bins`, bit for bit); cache JSON and file name by
///    `RewardBins`, keys in the configured order.
///
/// All draws use `PythonRandom` (CPython's generator), so the records selected are the official script's,
/// with one exception the official script itself makes irreproducible: it pools per-tar results in
/// *completion order* of a process pool (`as_completed`), so when step 3 subsamples, its input order — and thus
/// the subsample — varies from run to run. Here tars are pooled in sorted order. Without subsampling (pooled
/// values ≤ `max_samples`) the value sets, and therefore the edges, are identical to the official ones.
///
/// A tar that ends inside a member contributes nothing (Python's `tarfile` refuses to list it and the script
/// warns and moves on); one with a bad header after its first member contributes the records before it.
///
/// Other deviations: only regular-file members count as records (Python's `getmembers` also lists e.g. a
/// directory named `x.json`); a JSON top level that is not an object yields no values (officially a string top
/// level makes `in` test substrings and the script drops the rest of that tar); non-finite values are dropped
/// by `RewardBins`.
public struct BinsCacheBuilder: Sendable {
    public var rewardNames = EnrichedSampleConfig.officialRewardNames
    public var syntheticProb = 0.5
    public var maxSamples = 100_000
    public var numBins = 64
    public var strategy: RewardBins.Strategy = .quantile
    public var seed = 42
    /// Cap per tar (`--samples-per-tar`); nil = `max_samples // n_tars + 1`.
    public var samplesPerTar: Int? = nil

    public init() {}

    /// The values of one tar (`_sample_scores_from_tar`), rewards in `rewardNames` order. A damaged tar yields
    /// the values read before the damage, which is reported in `warning` (officially printed as `[warn]`).
    public func sampleScores(tar: URL, samplesPerTar: Int?, seed: Int) -> (values: [String: [Double]], warning: String?) {
        var out = Dictionary(uniqueKeysWithValues: rewardNames.map { ($0, [Double]()) })
        var rng = PythonRandom(seed: seed)
        let archive: TarArchive
        do { archive = try TarArchive(url: tar) } catch { return (out, "failed reading \(tar.path): \(error)") }
        guard archive.source.byteCount > 0 else { return (out, "failed reading \(tar.path): empty file (0 bytes)") }
        let scan = archive.scan()
        if scan.endsInsideMember || (scan.members.isEmpty && scan.damage != nil) {
            // Officially `tf.getmembers()` raises for such a tar, so it contributes no value at all.
            return (out, "failed reading \(tar.path): \(scan.damage.map { "\($0)" } ?? "truncated archive")")
        }
        var members = scan.members.filter { $0.name.hasSuffix(".json") }
        if let k = samplesPerTar, k < members.count { members = rng.sample(members, k) }
        for m in members {
            guard m.isComplete, let bytes = try? archive.read(m),
                  let value = try? PythonJSON.parse(bytes) else { continue }
            let useSynthetic = syntheticProb > 0 && rng.random() < syntheticProb
            guard var meta = value.object else { continue }
            if useSynthetic {
                for s in rewardNames { if let v = meta["synthetic_" + s] { meta[s] = v } }
            }
            for s in rewardNames { if let x = meta[s]?.number { out[s, default: []].append(x) } }
        }
        return (out, scan.damage.map { "damaged tar \(tar.path) (read up to the damage): \($0)" })
    }

    /// Pooled values of every tar under `root`, subsampled to `maxSamples` per reward.
    public func gather(root: URL, logger: Logger? = nil) throws -> [String: [Double]] {
        try gatherReport(root: root, logger: logger).values
    }

    /// `gather`, with the warning of each tar that could not be read (fully or at all), by tar path.
    func gatherReport(root: URL, logger: Logger?) throws -> (values: [String: [Double]], warnings: [String], tars: Int) {
        let tars = try WIDSIndex.tarFiles(in: root)
        guard !tars.isEmpty else { throw WebDatasetError.noShards("no .tar files in \(root.path)") }
        let quota = samplesPerTar ?? max(1, maxSamples / tars.count + 1)
        logger?.info("scanning \(tars.count) tars with up to \(quota) samples/tar")
        // Tars are independent: read them concurrently, pool in tar order.
        let results = ResultSlots<(values: [String: [Double]], warning: String?)>(count: tars.count)
        DispatchQueue.concurrentPerform(iterations: tars.count) { i in
            let result = sampleScores(tar: tars[i], samplesPerTar: quota, seed: seed + i)
            if let warning = result.warning { logger?.warning("\(warning)") }
            results.set(i, result)
        }
        var pooled = Dictionary(uniqueKeysWithValues: rewardNames.map { ($0, [Double]()) })
        var warnings: [String] = []
        for i in 0..<tars.count {
            for s in rewardNames { pooled[s, default: []] += results.get(i)?.values[s] ?? [] }
            if let w = results.get(i)?.warning { warnings.append(w) }
        }
        var rng = PythonRandom(seed: seed)
        for s in rewardNames {
            let values = pooled[s] ?? []
            if values.count > maxSamples { pooled[s] = rng.sample(values, maxSamples) }
            logger?.info("\(s): \(pooled[s]?.count ?? 0) values")
        }
        return (pooled, warnings, tars.count)
    }

    /// Gathers, fits and writes the cache into `root`; returns the bins and the file written.
    @discardableResult
    public func build(root: URL, logger: Logger? = nil) throws -> (bins: RewardBins, file: URL) {
        guard numBins >= 2 else { throw WebDatasetError.invalidConfiguration("numBins \(numBins) must be at least 2") }
        guard Set(rewardNames).count == rewardNames.count, !rewardNames.isEmpty else {
            throw WebDatasetError.invalidConfiguration("rewardNames \(rewardNames) must be non-empty and distinct")
        }
        let (pooled, warnings, tarCount) = try gatherReport(root: root, logger: logger)
        var edges: [String: [Double]] = [:]
        var order: [String] = []
        var missing: [String] = []
        for s in rewardNames {
            guard let values = pooled[s], !values.isEmpty,
                  let e = RewardBins.computeEdges(values, numBins: numBins, strategy: strategy) else {
                missing.append(s)
                continue
            }
            edges[s] = e
            order.append(s)
        }
        // The official script writes whatever it got (`{}` when every tar was unreadable). A cache missing a
        // requested reward is refused by every loader (the key set must equal the configured rewards), so nothing
        // is written and the error says where the values were looked for.
        if !missing.isEmpty {
            let why = warnings.isEmpty ? "" : "; tars with problems: " + WIDSIndex.summarize(warnings, first: 3)
            if order.isEmpty {
                throw WebDatasetError.noShards("no reward values in the \(tarCount) .tar files of \(root.path) "
                    + "(no readable .json member with \(rewardNames.joined(separator: ", ")))\(why); nothing written")
            }
            throw WebDatasetError.invalidConfiguration(
                "no values for \(missing.joined(separator: ", ")) in the .json members of \(root.path)\(why); nothing "
                + "written (a cache must cover every requested reward: request only \(order.joined(separator: ",")))")
        }
        let bins = RewardBins(edges: edges, numBins: numBins)
        // The file name lists every requested reward (`sorted(args.scores)`), even one that got no edges.
        let name = RewardBins.cacheFileName(rewardNames: rewardNames, numBins: numBins, synthProb: syntheticProb,
                                            strategy: strategy)
        let file = root.appendingPathComponent(name)
        do { try bins.cacheJSON(rewardOrder: order).write(to: file, options: .atomic) } catch {
            throw WebDatasetError.io(path: file.path, reason: "cannot write (\(error))")
        }
        logger?.info("wrote bin cache", metadata: ["file": "\(file.path)"])
        return (bins, file)
    }
}

/// Fixed slots written by concurrent iterations, read afterwards.
final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: T) { lock.lock(); slots[i] = v; lock.unlock() }
    func get(_ i: Int) -> T? { lock.lock(); defer { lock.unlock() }; return slots[i] }
}
