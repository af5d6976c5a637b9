// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.4–§2.5): the per-shard sample index
// of WIDS (`miro/data/wids/wids.py`: `splitname`, `group_by_key`, `IndexedTarSamples`).
import Foundation
import MiroFormats

/// The webdataset naming rule: files that share a key form one sample.
public enum WebDatasetKey {
    /// Splits a member path into its sample key (directory part + basename up to the basename's first dot) and
    /// its suffix (everything after that dot, e.g. `vae_embeddings_mean_256.npy`). `nil` for names the rule
    /// ignores: a basename without a dot, or one starting with a dot.
    ///
    /// This is `webdataset.tariterators.base_plus_ext` (regex `^((?:.*/|)[^.]+)[.]([^/]*)$`). WIDS's `splitname`
    /// splits at the first dot of the *whole path*, which differs only when a directory name contains a dot.
    public static func split(_ path: String) -> (key: String, suffix: String)? {
        let scalars = Array(path.unicodeScalars)
        let slash = scalars.lastIndex(of: "/")
        let baseStart = slash.map { $0 + 1 } ?? 0
        guard let dot = scalars[baseStart...].firstIndex(of: "."), dot > baseStart else { return nil }
        var key = String.UnicodeScalarView()
        key.append(contentsOf: scalars[..<dot])
        var suffix = String.UnicodeScalarView()
        suffix.append(contentsOf: scalars[(dot + 1)...])
        return (String(key), String(suffix))
    }
}

/// One sample of a shard: its key and its members by suffix (`json`, `flan_t5_xl_embeddings.npy`, …).
public struct ShardSample: Sendable, Equatable, Codable {
    public var key: String
    /// Members by suffix. A suffix that occurs twice keeps the later member, as WIDS's `sample[ext] = data` does.
    public var members: [String: TarMember]

    public init(key: String, members: [String: TarMember]) {
        self.key = key
        self.members = members
    }
}

/// The member-offset index of one shard: sample i → its members' offsets, for random access to any sample.
///
/// Samples are grouped by key over the whole archive and ordered by the first appearance of their key, exactly
/// like WIDS's `group_by_key`, so sample indices agree with the official ones and `samples.count` equals the
/// `nsamples` that `_count_samples_in_tar` writes into `wids-index.json` (the number of distinct keys).
public struct ShardIndex: Sendable {
    /// The shard path, for messages.
    public var shard: String
    public var samples: [ShardSample]
    /// Why the scan stopped early (a truncated or damaged archive); the samples before it are still usable.
    public var damage: WebDatasetError?

    public init(shard: String, samples: [ShardSample], damage: WebDatasetError?) {
        self.shard = shard
        self.samples = samples
        self.damage = damage
    }

    /// Scans `archive`'s headers (no member data is read) and groups its members into samples.
    public init(archive: TarArchive) {
        self.init(scan: archive.scan(), shard: archive.name)
    }

    /// Groups the members of a scan into samples.
    public init(scan: TarScan, shard: String) {
        var order: [String] = []
        var byKey: [String: [String: TarMember]] = [:]
        for member in scan.members {
            guard let (key, suffix) = WebDatasetKey.split(member.name) else { continue }
            if byKey[key] == nil {
                order.append(key)
                byKey[key] = [:]
            }
            byKey[key]![suffix] = member
        }
        self.init(shard: shard, samples: order.map { ShardSample(key: $0, members: byKey[$0]!) }, damage: scan.damage)
    }

    /// Number of distinct keys (the WIDS `nsamples`).
    public var count: Int { samples.count }
}

/// A small LRU of shard indices shared by the reader threads (the official loader keeps an LRU of
/// `lru_size` open tars per worker). Building an index reads every header of a shard, so a shard that comes back
/// (the next epoch, a resumed buffer) should not be scanned again.
final class ShardIndexCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (index: ShardIndex, lastUse: Int)] = [:]
    private var clock = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// The cached index of `path`, or one built from `archive` (outside the lock: two threads may build the same
    /// index concurrently, which only costs time).
    func index(for archive: TarArchive) -> ShardIndex {
        let path = archive.name
        lock.lock()
        clock += 1
        if let hit = entries[path] {
            entries[path] = (hit.index, clock)
            lock.unlock()
            return hit.index
        }
        lock.unlock()
        let built = ShardIndex(archive: archive)
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        entries[path] = (built, clock)
        if entries.count > capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            entries[oldest] = nil
        }
        return built
    }
}
