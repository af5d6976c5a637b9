// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5): `_count_samples_in_tar` and
// `_build_wids_index`, which read or build the `wids-index.json` of a data root.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw WebDatasetError.io(path: directory.path, reason: "no such directory")
        }
        guard isDirectory.boolValue else {
            throw WebDatasetError.io(path: directory.path, reason: "is a file, not a directory of .tar shards")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            let reason = access(directory.path, R_OK | X_OK) != 0 ? String(cString: strerror(errno)) : "\(error)"
            throw WebDatasetError.io(path: directory.path, reason: "cannot list the directory (\(reason))")
        }
        return names.filter { $0.hasSuffix(".tar") && !$0.hasPrefix(".") }
            .sorted(by: pythonStringLess)
            .map { directory.appendingPathComponent($0) }
    }

    /// `_count_samples_in_tar`: the number of distinct sample keys among the regular members. Damage after the
    /// first member only shortens the count (Python's `tarfile` also stops at a bad header); damage before any
    /// member, or an empty file, is an error (Python's `tarfile` raises for both).
    public static func countSamples(in tar: URL) throws -> Int {
        let archive = try TarArchive(url: tar)
        guard archive.source.byteCount > 0 else {
            throw WebDatasetError.tarDamaged(shard: tar.path, member: "", offset: 0, reason: "empty file (0 bytes): not a tar archive")
        }
        let index = ShardIndex(archive: archive)
        if let damage = index.damage, index.samples.isEmpty { throw damage }
        return index.count
    }

    /// What `build` found: the index, and the shards that could not be read at all (listed with 0 samples).
    public struct BuildReport: Sendable {
        public var index: WIDSIndex
        /// Unreadable shards in index order: path and why.
        public var unreadable: [(shard: String, reason: String)]
    }

    /// `_build_wids_index`: one entry per `*.tar` in `directory` (sorted). Departures from the official builder,
    /// so that an index stays true to its directory:
    /// - urls are bare file names, relative to the index (the `wids` convention, which the official loader reads
    ///   too), so a copied or moved root reads its own shards; `relativeURLs: false` writes them as MIRO does
    ///   (`os.path.join(root_dir, name)`);
    /// - each entry records its `filesize`, so a shard replaced after indexing is noticed (`staleness`);
    /// - a shard that is not a readable tar (random bytes, an empty file, damage before its first member) is
    ///   listed with 0 samples, logged and counted in the report, instead of aborting the build (the official
    ///   `tarfile` raises). Only when no shard is readable is that an error, naming each shard and why.
    public static func buildReport(directory: URL, relativeURLs: Bool = true, logger: Logger? = nil) throws -> BuildReport {
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
        var unreadable: [(shard: String, reason: String)] = []
        for (i, tar) in tars.enumerated() {
            let url = relativeURLs ? tar.lastPathComponent : directory.path + "/" + tar.lastPathComponent
            var n = 0
            switch counts.get(i) ?? .failure(.io(path: tar.path, reason: "not counted")) {
            case .success(let c): n = c
            case .failure(let error):
                unreadable.append((tar.path, "\(error)"))
                logger?.warning("skipping unreadable shard (indexed with 0 samples): \(error)", metadata: ["shard": "\(tar.path)"])
            }
            shards.append(WIDSShard(url: url, nsamples: n, filesize: fileSize(tar.path)))
        }
        if unreadable.count == tars.count {
            throw WebDatasetError.noShards("none of the \(tars.count) .tar files in \(directory.path) can be read: "
                + Self.summarize(unreadable.map { "\($0.shard): \($0.reason)" }))
        }
        if !unreadable.isEmpty {
            logger?.warning("skipped \(unreadable.count) of \(tars.count) shards that cannot be read as tar archives",
                            metadata: ["root": "\(directory.path)", "skipped_shards": "\(unreadable.count)"])
        }
        return BuildReport(index: WIDSIndex(shardlist: shards), unreadable: unreadable)
    }

    /// `buildReport(...).index`.
    public static func build(directory: URL, relativeURLs: Bool = true, logger: Logger? = nil) throws -> WIDSIndex {
        try buildReport(directory: directory, relativeURLs: relativeURLs, logger: logger).index
    }

    /// Why this index no longer describes the `*.tar` files of `directory` (the index's own directory), or nil
    /// when it still does: a listed shard is missing, a shard's size differs from its recorded `filesize`, a shard
    /// is too small to hold the samples listed for it (each sample takes at least one 512-byte header), or a
    /// `*.tar` in the directory is not listed (added after indexing). An index of shards kept elsewhere (its
    /// directory holds no `*.tar`) is never called stale: the loader reports its missing shards when it opens them.
    public func staleness(directory: URL) -> String? {
        guard let tars = try? Self.tarFiles(in: directory), !tars.isEmpty else { return nil }
        let home = directory.resolvingSymlinksInPath().path
        var listed = Set<String>()
        var problems: [String] = []
        for (shard, resolved) in zip(shardlist, resolvedShards(indexDirectory: directory)) {
            let file = resolved.file
            if file.deletingLastPathComponent().resolvingSymlinksInPath().path == home { listed.insert(file.lastPathComponent) }
            guard let size = Self.fileSize(file.path) else {
                problems.append("\(shard.url) is missing")
                continue
            }
            if let recorded = shard.filesize, recorded != size {
                problems.append("\(file.lastPathComponent) is \(size) bytes, indexed at \(recorded)")
            } else if shard.nsamples > size / 512 {
                problems.append("\(file.lastPathComponent) (\(size) bytes) cannot hold the \(shard.nsamples) samples listed")
            }
        }
        let added = tars.map(\.lastPathComponent).filter { !listed.contains($0) }
        if !added.isEmpty { problems.append("not indexed: " + Self.summarize(added)) }
        return problems.isEmpty ? nil : Self.summarize(problems)
    }

    /// Reads `directory/wids-index.json`, or builds and writes it when absent (the official loader's behaviour).
    /// An index that no longer matches the directory (`staleness`) is rebuilt, with a warning saying why.
    public static func loadOrBuild(directory: URL, relativeURLs: Bool = true, logger: Logger? = nil) throws -> WIDSIndex {
        let file = directory.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: file.path) {
            logger?.info("loading WIDS index", metadata: ["file": "\(file.path)"])
            let index = try read(file)
            guard let why = index.staleness(directory: directory) else { return index }
            logger?.warning("the WIDS index no longer matches its directory (\(why)); rebuilding it",
                            metadata: ["file": "\(file.path)"])
        } else {
            logger?.info("building WIDS index", metadata: ["root": "\(directory.path)"])
        }
        let index = try build(directory: directory, relativeURLs: relativeURLs, logger: logger)
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

    /// The shards as files, relative to the index wherever the index allows it, so that a copied or moved data
    /// root reads its own shards and never those of the place it was indexed in:
    /// - a relative url is looked up relative to the index's directory (the `wids` convention), then as the bare
    ///   file name next to the index, then relative to the current directory (MIRO writes `os.path.join(root,
    ///   name)` with the root as given, often relative to the launch directory);
    /// - an absolute url (what MIRO's builder writes for an absolute root) is taken as the file of that name next
    ///   to the index when there is one — the official builder only ever lists the tars of the index's own
    ///   directory — and as the absolute path otherwise (an index of shards kept elsewhere).
    /// A shard found nowhere keeps the first candidate; the loader reports it missing when it opens it.
    public func resolvedShards(indexDirectory: URL) -> [ResolvedShard] {
        let fm = FileManager.default
        return shardlist.map { shard in
            let besideIndex = indexDirectory.appendingPathComponent((shard.url as NSString).lastPathComponent)
            let candidates: [URL]
            if shard.url.hasPrefix("/") {
                candidates = [besideIndex, URL(fileURLWithPath: shard.url)]
            } else {
                candidates = [
                    indexDirectory.appendingPathComponent(shard.url),
                    besideIndex,
                    URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent(shard.url),
                ]
            }
            let hit = candidates.first { fm.fileExists(atPath: $0.path) } ?? candidates[shard.url.hasPrefix("/") ? 1 : 0]
            return ResolvedShard(file: hit.standardizedFileURL, nsamples: shard.nsamples)
        }
    }

    /// The size of a regular file, nil when there is none.
    static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }

    /// The first few items of a list and how many more there are.
    static func summarize(_ items: [String], first: Int = 5) -> String {
        let shown = items.prefix(first).joined(separator: "; ")
        return items.count > first ? shown + "; and \(items.count - first) more" : shown
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
