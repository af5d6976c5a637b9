import Foundation

/// A sharded checkpoint: `<base>.safetensors.index.json` plus the shard files it names, the transformers/diffusers
/// layout (`{"metadata": {"total_size": N}, "weight_map": {tensor: shard file}}`, shards resolved relative to the
/// index file's directory).
///
/// Every shard is opened (memory-mapped, so this is cheap) and cross-checked at `init`: a missing shard, a tensor
/// the weight map places in a shard that lacks it, or a tensor stored in two shards is an error up front rather
/// than a surprise in the middle of loading a model.
public struct SafeTensorsIndex: Sendable {
    /// The index file.
    public let url: URL
    /// The index's `metadata` map, with non-string values in their JSON spelling (`total_size` → `"1234"`).
    public let metadata: [String: String]
    /// Tensor name → shard file name, as listed in `weight_map`.
    public let weightMap: [String: String]
    /// Shard file name → opened shard.
    public let shards: [String: SafeTensorsFile]

    /// Tensor names, sorted.
    public var names: [String] { weightMap.keys.sorted() }

    /// `true` when `url` names an index file (`*.safetensors.index.json`).
    public static func isIndexFile(_ url: URL) -> Bool {
        url.lastPathComponent.hasSuffix(".safetensors.index.json")
    }

    public init(contentsOf url: URL) throws {
        let path = displayPath(url)
        let raw: Data
        do {
            raw = try Data(contentsOf: url)
        } catch {
            throw FormatError.io(path: path, message: "cannot read file (\(error.localizedDescription))")
        }
        let json: PythonJSON
        do {
            json = try PythonJSON.parse([UInt8](raw), options: .strict)
        } catch {
            throw FormatError.invalidHeader(path: path, message: "index is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let top) = json else {
            throw FormatError.invalidHeader(path: path, message: "index must be a JSON object")
        }
        var metadata: [String: String] = [:]
        var weightMap: [String: String] = [:]
        var sawWeightMap = false
        for (key, value) in top {
            switch (key, value) {
            case ("metadata", .object(let members)):
                for (name, item) in members {
                    if case .string(let text) = item { metadata[name] = text } else { metadata[name] = item.brief }
                }
            case ("metadata", .null):
                break
            case ("weight_map", .object(let members)):
                sawWeightMap = true
                for (tensor, file) in members {
                    guard case .string(let shard) = file, !shard.isEmpty, !shard.hasPrefix("/") else {
                        throw FormatError.invalidHeader(
                            path: path, message: "weight_map entry for '\(tensor)' must be a relative file name, found \(file.brief)")
                    }
                    weightMap[tensor] = shard
                }
            case ("metadata", _), ("weight_map", _):
                throw FormatError.invalidHeader(path: path, message: "'\(key)' must be an object, found \(value.brief)")
            default:
                continue  // tolerate extra top-level keys, as transformers does
            }
        }
        guard sawWeightMap else { throw FormatError.invalidHeader(path: path, message: "index has no 'weight_map'") }

        let directory = url.deletingLastPathComponent()
        var shards: [String: SafeTensorsFile] = [:]
        for shardName in Set(weightMap.values).sorted() {
            let shardURL = directory.appendingPathComponent(shardName)
            guard FileManager.default.fileExists(atPath: shardURL.path) else {
                throw FormatError.io(path: path, message: "shard '\(shardName)' listed in weight_map does not exist in \(directory.path)")
            }
            shards[shardName] = try SafeTensorsFile(contentsOf: shardURL)
        }
        var owner: [String: String] = [:]
        for (shardName, shard) in shards.sorted(by: { $0.key < $1.key }) {
            for tensor in shard.names {
                if let other = owner.updateValue(shardName, forKey: tensor) {
                    throw FormatError.invalidLayout(path: path, message: "tensor '\(tensor)' is stored in two shards, '\(other)' and '\(shardName)'")
                }
            }
        }
        for (tensor, shardName) in weightMap.sorted(by: { $0.key < $1.key }) where shards[shardName]?.entry(tensor) == nil {
            throw FormatError.invalidLayout(
                path: path, message: "weight_map places '\(tensor)' in '\(shardName)', but that shard has no such tensor")
        }
        self.url = url
        self.metadata = metadata
        self.weightMap = weightMap
        self.shards = shards
    }

    /// The shard holding `tensorName`, or `nil` if the index does not list it.
    public func file(for tensorName: String) -> SafeTensorsFile? {
        weightMap[tensorName].flatMap { shards[$0] }
    }

    /// The header record for `name` in whichever shard holds it.
    public func entry(_ name: String) -> SafeTensorsEntry? {
        file(for: name)?.entry(name)
    }

    /// Lends the tensor's bytes from its shard without copying.
    public func withBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let file = file(for: name) else { throw FormatError.tensorNotFound(path: displayPath(url), name: name) }
        return try file.withBytes(name, body)
    }

    /// A copy of the tensor's bytes.
    public func bytes(_ name: String) throws -> Data {
        try withBytes(name) { Data($0) }
    }
}

extension SafeTensorsWriter {
    /// Writes `tensors` as transformers/diffusers-style shards: `<base>-00001-of-0000N.safetensors` files plus
    /// `<base>.safetensors.index.json`, returning the files written (shards first, index last).
    ///
    /// Splitting follows transformers' `shard_checkpoint`: walk the tensors in the given order and start a new
    /// shard when adding the next tensor would push the current one over `maxShardBytes` (a single larger
    /// tensor gets a shard of its own). As in transformers, a checkpoint that fits in one shard is written as
    /// plain `<base>.safetensors` with no index. `metadata` goes into every shard's `__metadata__`; the index's
    /// `metadata` holds `total_size` (the sum of tensor bytes). The index is written last, so it never names a
    /// shard that is not yet complete. Each file is written atomically.
    @discardableResult
    public static func writeSharded(
        _ tensors: [Tensor], metadata: [String: String]? = nil, to directory: URL,
        baseName: String = "model", maxShardBytes: Int
    ) throws -> [URL] {
        _ = try prepare(tensors, metadata: metadata, path: displayPath(directory))  // validate all tensors up front
        var groups: [[Tensor]] = [[]]
        var currentBytes = 0
        for tensor in tensors {
            if currentBytes + tensor.bytes.count > maxShardBytes, !(groups.last ?? []).isEmpty {
                groups.append([])
                currentBytes = 0
            }
            groups[groups.count - 1].append(tensor)
            currentBytes += tensor.bytes.count
        }
        if groups.count == 1 {
            let url = directory.appendingPathComponent("\(baseName).safetensors")
            try write(tensors, metadata: metadata, to: url)
            return [url]
        }
        var written: [URL] = []
        var weightMap: [String: String] = [:]
        for (i, group) in groups.enumerated() {
            let name = "\(baseName)-\(fiveDigits(i + 1))-of-\(fiveDigits(groups.count)).safetensors"
            let url = directory.appendingPathComponent(name)
            try write(group, metadata: metadata, to: url)
            written.append(url)
            for tensor in group { weightMap[tensor.name] = name }
        }
        let totalSize = tensors.reduce(0) { $0 + $1.bytes.count }
        let indexURL = directory.appendingPathComponent("\(baseName).safetensors.index.json")
        try AtomicFile.write(Data(indexJSON(totalSize: totalSize, weightMap: weightMap).utf8), to: indexURL)
        written.append(indexURL)
        return written
    }

    /// The index exactly as transformers writes it: `json.dumps(index, indent=2, sort_keys=True) + "\n"`.
    public static func indexJSON(totalSize: Int, weightMap: [String: String]) -> String {
        let index = PythonJSON.object([
            ("metadata", .object([("total_size", .int(totalSize))])),
            ("weight_map", .object(weightMap.map { (key: $0.key, value: .string($0.value)) })),
        ])
        return index.dumps(indent: 2, sortKeys: true) + "\n"
    }

    private static func fiveDigits(_ n: Int) -> String {
        let text = String(n)
        return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }
}
