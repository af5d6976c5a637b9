// Port of data/preprocess_data.py (nicolas-dufour/miro @547003a): `resolve_shards` and the webdataset reading
// (`tarfile_to_samples`) of its three stages, extended to folders of `name.jpg|png` + `name.txt` (+ `name.json`).
import Foundation
import MiroData
import MiroFormats

/// One unit of work: a webdataset shard, or a fixed slice of a folder's samples. Every per-shard result and
/// output file is named after `name`, so a rerun finds the work of the previous run.
public struct InputShard: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A `.tar` shard.
        case tar(URL)
        /// Samples of `folder`, in order; each key's files are `key.<suffix>` in the folder.
        case folder(URL, samples: [FolderSample])
    }

    /// One sample of a folder: its key and the suffixes of its files, sorted (listed once, when planning).
    public struct FolderSample: Sendable, Equatable {
        public var key: String
        public var suffixes: [String]
    }

    /// The output shard file name (`<tar name>` or `<folder name>-NNNNNN.tar`).
    public var name: String
    public var source: Source
    /// Number of samples (distinct keys).
    public var sampleCount: Int
}

/// One sample as read: its key and its members in archive order (suffix and bytes; the member name is `key.suffix`).
public struct RawSample: Sendable {
    public var key: String
    public var members: [(suffix: String, data: [UInt8])]

    public func member(_ suffix: String) -> [UInt8]? { members.last { $0.suffix == suffix }?.data }

    /// The image member: the first of `jpg`, `jpeg`, `png`, `webp` present (the suffixes the trainer accepts).
    public var image: (suffix: String, data: [UInt8])? {
        for s in ["jpg", "jpeg", "png", "webp"] { if let d = member(s) { return (s, d) } }
        return nil
    }
}

/// Turns command-line inputs into shards.
public enum InputShards {
    public static let imageSuffixes: Set<String> = ["jpg", "jpeg", "png", "webp"]

    /// - a `.tar` file is one shard;
    /// - a directory holding `*.tar` files is its shards (sorted, as `resolve_shards`);
    /// - any other directory is a folder of samples, sorted by key and cut into shards of `folderShardSize`.
    /// Two shards with the same output name are refused (their outputs would overwrite each other).
    public static func plan(_ inputs: [URL], folderShardSize: Int) throws -> [InputShard] {
        guard folderShardSize >= 1 else { throw DataPrepError.input(path: "--shard-size", reason: "must be at least 1, got \(folderShardSize)") }
        guard !inputs.isEmpty else { throw DataPrepError.input(path: "inputs", reason: "no input shard or folder given") }
        var shards: [InputShard] = []
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input.path, isDirectory: &isDirectory) else {
                throw DataPrepError.input(path: input.path, reason: "no such file or directory")
            }
            if !isDirectory.boolValue {
                guard input.pathExtension == "tar" else { throw DataPrepError.input(path: input.path, reason: "not a .tar shard or a folder") }
                shards.append(try tarShard(input))
                continue
            }
            let tars = try WIDSIndex.tarFiles(in: input)
            if !tars.isEmpty {
                shards += try tars.map(tarShard)
            } else {
                shards += try folderShards(input, size: folderShardSize)
            }
        }
        var seen = Set<String>()
        for s in shards where !seen.insert(s.name).inserted {
            throw DataPrepError.input(path: s.name, reason: "two inputs give the output shard name '\(s.name)'; rename one of them")
        }
        return shards
    }

    static func tarShard(_ url: URL) throws -> InputShard {
        let archive = try TarArchive(url: url)
        let index = ShardIndex(archive: archive)
        if let damage = index.damage, index.samples.isEmpty { throw DataPrepError.input(path: url.path, reason: "\(damage)") }
        return InputShard(name: url.lastPathComponent, source: .tar(url), sampleCount: index.count)
    }

    static func folderShards(_ folder: URL, size: Int) throws -> [InputShard] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw DataPrepError.input(path: folder.path, reason: "cannot list the folder (\(error.localizedDescription))")
        }
        var keys = Set<String>()
        var suffixes: [String: [String]] = [:]
        for name in names where !name.hasPrefix(".") {
            guard let (key, suffix) = WebDatasetKey.split(name) else { continue }
            suffixes[key, default: []].append(suffix)
            // A sample is an image or a caption; a lone .json (or another file) is not one.
            if imageSuffixes.contains(suffix) || suffix == "txt" { keys.insert(key) }
        }
        guard !keys.isEmpty else {
            throw DataPrepError.input(path: folder.path, reason: "holds neither .tar shards nor name.jpg|png + name.txt samples")
        }
        let sorted = keys.sorted(by: pythonStringLess)
        let base = folder.standardizedFileURL.lastPathComponent
        return stride(from: 0, to: sorted.count, by: size).enumerated().map { i, start in
            let slice = sorted[start..<min(start + size, sorted.count)].map {
                InputShard.FolderSample(key: $0, suffixes: (suffixes[$0] ?? []).sorted(by: pythonStringLess))
            }
            return InputShard(name: "\(base)-" + String(format: "%06d", i) + ".tar", source: .folder(folder, samples: slice),
                              sampleCount: slice.count)
        }
    }

    /// The samples of `shard`, in order, streamed to `body`. A member that cannot be read (truncated data) is
    /// left out of its sample, which the caller then finds incomplete.
    public static func forEachSample(_ shard: InputShard, _ body: (RawSample) throws -> Void) throws {
        switch shard.source {
        case .tar(let url):
            let archive = try TarArchive(url: url)
            let index = ShardIndex(archive: archive)
            for sample in index.samples {
                let ordered = sample.members.sorted { $0.value.headerOffset < $1.value.headerOffset }
                var members: [(suffix: String, data: [UInt8])] = []
                for (suffix, m) in ordered where m.isComplete {
                    if let data = try? archive.read(m) { members.append((suffix, data)) }
                }
                try body(RawSample(key: sample.key, members: members))
            }
        case .folder(let folder, let samples):
            for sample in samples {
                var members: [(suffix: String, data: [UInt8])] = []
                for suffix in sample.suffixes {
                    // A file gone since planning leaves its sample incomplete (then skipped), not the run failed.
                    if let data = FileManager.default.contents(atPath: folder.appendingPathComponent(sample.key + "." + suffix).path) {
                        members.append((suffix, [UInt8](data)))
                    }
                }
                try body(RawSample(key: sample.key, members: members))
            }
        }
    }

    /// A fingerprint of the inputs for the run manifest: each shard's name, source and sample count, and each
    /// source file's size, so a rerun over changed inputs is refused instead of mixing old and new results.
    static func fingerprint(_ shards: [InputShard]) -> PythonJSON {
        .array(shards.map { shard in
            var entry: [(key: String, value: PythonJSON)] = [("name", .string(shard.name)), ("samples", .int(shard.sampleCount))]
            switch shard.source {
            case .tar(let url):
                entry.append(("tar", .string(url.standardizedFileURL.path)))
                entry.append(("bytes", .int(fileSize(url) ?? -1)))
            case .folder(let folder, let samples):
                entry.append(("folder", .string(folder.standardizedFileURL.path)))
                entry.append(("first", .string(samples.first?.key ?? "")))
                entry.append(("last", .string(samples.last?.key ?? "")))
            }
            return .object(entry)
        })
    }

    static func fileSize(_ url: URL) -> Int? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              let size = attributes[.size] as? NSNumber else { return nil }
        return size.intValue
    }
}
