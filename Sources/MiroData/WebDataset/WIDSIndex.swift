// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5): `_count_samples_in_tar` and
// `_build_wids_index`, which read or build the `wids-index.json` of a data root.
import Foundation
import Logging
import MiroFormats
import MiroRewards

/// One shard entry of a WIDS shard list.
public struct WIDSShard: Sendable, Equatable, Codable {
    /// The shard location as written in the index (absolute, or relative to the index's directory).
    public var url: String
    /// Number of samples (distinct keys) in the shard.
    public var nsamples: Int
    /// Size in bytes, when the writer recorded it (the `widsindex` tool does; MIRO's builder does not).
    public var filesize: Int?

    public init(url: String, nsamples: Int, filesize: Int? = nil) {
        self.url = url
        self.nsamples = nsamples
        self.filesize = filesize
    }
}

/// A shard ready to open: its resolved file URL and its index entry.
public struct ResolvedShard: Sendable, Equatable {
    public var file: URL
    public var nsamples: Int

    public init(file: URL, nsamples: Int) {
        self.file = file
        self.nsamples = nsamples
    }
}

/// A `wids-index.json` shard index.
///
/// Format (the `wids` library's "wids-shard-index-v1"):
/// `{"__kind__": "wids-shard-index-v1", "wids_version": 1, "shardlist": [{"url": ..., "nsamples": N}, ...]}`,
/// optionally with `"name"` and per-shard `"filesize"` / `"md5sum"`. MIRO's `_build_wids_index` writes the same
/// object without `__kind__`; both are read. Unknown fields are ignored.
public struct WIDSIndex: Sendable, Equatable {
    public static let fileName = "wids-index.json"
    public static let kind = "wids-shard-index-v1"

    public var shardlist: [WIDSShard]
    public var name: String?

    public init(shardlist: [WIDSShard], name: String? = nil) {
        self.shardlist = shardlist
        self.name = name
    }

    /// Total samples over all shards.
    public var totalSamples: Int { shardlist.reduce(0) { $0 + $1.nsamples } }

    // MARK: - Reading and writing

    /// Reads an index file.
    public static func read(_ url: URL) throws -> WIDSIndex {
        let file = url.path
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw WebDatasetError.io(path: file, reason: "cannot read (\(error.localizedDescription))")
        }
        let root: PythonJSON
        do { root = try PythonJSON.parse(bytes) } catch {
            throw WebDatasetError.malformedIndex(file: file, field: "", reason: "not valid JSON: \(error)")
        }
        guard root.members != nil else {
            throw WebDatasetError.malformedIndex(file: file, field: "", reason: "the top level is not an object")
        }
        if let kind = root["__kind__"]?.string, kind != Self.kind {
            throw WebDatasetError.malformedIndex(file: file, field: "__kind__", reason: "'\(kind)' is not '\(Self.kind)'")
        }
        guard let list = root["shardlist"]?.array else {
            throw WebDatasetError.malformedIndex(file: file, field: "shardlist", reason: "missing or not a list")
        }
        var shards: [WIDSShard] = []
        for (i, entry) in list.enumerated() {
            guard entry.members != nil else {
                throw WebDatasetError.malformedIndex(file: file, field: "shardlist[\(i)]", reason: "not an object")
            }
            guard let u = entry["url"]?.string else {
                throw WebDatasetError.malformedIndex(file: file, field: "shardlist[\(i)].url", reason: "missing or not a string")
            }
            guard let n = entry["nsamples"]?.integer, n >= 0, n < 1_000_000_000_000_000 else {
                throw WebDatasetError.malformedIndex(file: file, field: "shardlist[\(i)].nsamples",
                                                     reason: "missing or not a non-negative integer")
            }
            var size: Int? = nil
            if let s = entry["filesize"]?.integer, s >= 0, s < 1_000_000_000_000_000_000 { size = s }
            shards.append(WIDSShard(url: u, nsamples: n, filesize: size))
        }
        return WIDSIndex(shardlist: shards, name: root["name"]?.string)
    }

    /// The index as JSON with Python's default `json.dump` separators (`", "`, `": "`), keys in the order
    /// `__kind__`, `wids_version`, [`name`], `shardlist`.
    public func jsonData() -> Data {
        var top: [(key: String, value: PythonJSON)] = [("__kind__", .string(Self.kind)), ("wids_version", .int(1))]
        if let name { top.append(("name", .string(name))) }
        top.append(("shardlist", .array(shardlist.map { shard in
            var entry: [(key: String, value: PythonJSON)] = [("url", .string(shard.url)), ("nsamples", .int(shard.nsamples))]
            if let f = shard.filesize { entry.append(("filesize", .int(f))) }
            return .object(entry)
        })))
        return Data(PythonJSON.object(top).dumps().utf8)
    }

    /// Writes the index atomically.
    public func write(to url: URL) throws {
        do { try jsonData().write(to: url, options: .atomic) } catch {
            throw WebDatasetError.io(path: url.path, reason: "cannot write (\(error.localizedDescription))")
        }
    }

    // MARK: - Building

    /// The `*.tar` files of a directory, sorted by name in Python's order (`sorted(glob("*.tar"))`; hidden files
    /// do not match the glob).
    public static func tarFiles(in directory: URL) throws -> [URL] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw WebDatasetError.io(path: directory.path, reason: "cannot list (\(error.localizedDescription))")
        }
        return names.filter { $0.hasSuffix(".tar") && !$0.hasPrefix(".") }
            .sorted(by: pythonStringLess)
            .map { directory.appendingPathComponent($0) }
    }

    /// `_count_samples_in_tar`: the number of distinct sample keys among the regular members. Damage after the
    /// first member only shortens the count (Python's `tarfile` also stops at a bad header); damage before any
    /// member is an error.
    public static func countSamples(in tar: URL) throws -> Int {
        let archive = try TarArchive(url: tar)
        let index = ShardIndex(archive: archive)
        if let damage = index.damage, index.samples.isEmpty { throw damage }
        return index.count
    }

    /// `_build_wids_index`: one entry per `*.tar` in `directory` (sorted), with urls written as MIRO writes them
    /// (`os.path.join(root_dir, name)`, so absolute when `directory` is) or, with `relativeURLs`, as bare file
    /// names (the `wids` convention: relative to the index's directory; such an index survives moving the root).
    public static func build(directory: URL, relativeURLs: Bool = false) throws -> WIDSIndex {
        let tars = try tarFiles(in: directory)
        guard !tars.isEmpty else { throw WebDatasetError.noShards("no .tar files found in \(directory.path)") }
        // Shards are independent (the official builder uses a process pool): count concurrently, list in order.
        let counts = ResultSlots<Result<Int, WebDatasetError>>(count: tars.count)
        DispatchQueue.concurrentPerform(iterations: tars.count) { i in
            do { counts.set(i, .success(try countSamples(in: tars[i]))) } catch {
                counts.set(i, .failure(error as? WebDatasetError ?? .io(path: tars[i].path, reason: "\(error)")))
            }
        }
        var shards: [WIDSShard] = []
        for (i, tar) in tars.enumerated() {
            let url = relativeURLs ? tar.lastPathComponent : directory.path + "/" + tar.lastPathComponent
            guard let count = counts.get(i) else { throw WebDatasetError.io(path: tar.path, reason: "not counted") }
            shards.append(WIDSShard(url: url, nsamples: try count.get()))
        }
        return WIDSIndex(shardlist: shards)
    }

    /// Reads `directory/wids-index.json`, or builds and writes it when absent (the official loader's behaviour).
    public static func loadOrBuild(directory: URL, relativeURLs: Bool = false, logger: Logger? = nil) throws -> WIDSIndex {
        let file = directory.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: file.path) {
            logger?.info("loading WIDS index", metadata: ["file": "\(file.path)"])
            return try read(file)
        }
        logger?.info("building WIDS index", metadata: ["root": "\(directory.path)"])
        let index = try build(directory: directory, relativeURLs: relativeURLs)
        do {
            try index.write(to: file)
            logger?.info("saved WIDS index", metadata: ["file": "\(file.path)", "shards": "\(index.shardlist.count)",
                                                        "samples": "\(index.totalSamples)"])
        } catch {
            // A read-only data root still trains; the index is rebuilt on the next start.
            logger?.warning("cannot save the WIDS index (\(error)); continuing with the one built in memory")
        }
        return index
    }

    // MARK: - Resolving

    /// The shards as files. An absolute url is used as is. A relative one is looked up relative to the index's
    /// directory (the `wids` convention), then relative to the current directory (MIRO writes
    /// `os.path.join(root, name)` with the root as given, often relative to the launch directory), and finally as
    /// the bare file name next to the index (a data root that was moved). A shard found nowhere keeps the first
    /// candidate; the loader reports it missing when it opens it.
    public func resolvedShards(indexDirectory: URL) -> [ResolvedShard] {
        let fm = FileManager.default
        return shardlist.map { shard in
            if shard.url.hasPrefix("/") { return ResolvedShard(file: URL(fileURLWithPath: shard.url), nsamples: shard.nsamples) }
            let candidates = [
                indexDirectory.appendingPathComponent(shard.url),
                URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent(shard.url),
                indexDirectory.appendingPathComponent((shard.url as NSString).lastPathComponent),
            ]
            let hit = candidates.first { fm.fileExists(atPath: $0.path) } ?? candidates[0]
            return ResolvedShard(file: hit.standardizedFileURL, nsamples: shard.nsamples)
        }
    }

    /// The shards of several data roots, concatenated in the order given (the official loader accepts a
    /// space-separated list of roots), each root's index read or built.
    public static func shards(roots: [URL], logger: Logger? = nil) throws -> [ResolvedShard] {
        var out: [ResolvedShard] = []
        for root in roots {
            out += try loadOrBuild(directory: root, logger: logger).resolvedShards(indexDirectory: root)
        }
        guard !out.isEmpty else { throw WebDatasetError.noShards("the WIDS indexes of \(roots.map(\.path)) list no shards") }
        return out
    }
}
