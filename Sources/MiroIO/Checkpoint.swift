import Foundation
import MiroEngine
import MiroFormats
import MiroNN

/// One training checkpoint: everything a run needs to continue exactly where it stopped.
///
/// Stored as a single safetensors file `step-0000100.safetensors`, written atomically (temporary
/// file, then rename), with tensor sections
///   `model.<key>`      raw weights (official keys: `network.*`, `preconditioning.*`)
///   `ema.<key>`        EMA weights of the trainable parameters
///   `optimizer.<key>`  optimizer moments and per-parameter step counts
///   `rng.<name>`       generator states (uint8, `torch.Generator.get_state()` layout)
/// and string metadata: `format`, `miro.step`, `miro.ema_updates`, `miro.config` (JSON),
/// `miro.data_cursor` (JSON) and any extra entries.
public struct Checkpoint {
    public static let format = "miro-swift-checkpoint/1"

    public var step: Int
    public var model: [String: Tensor]
    public var ema: [String: Tensor]
    public var emaUpdates: Int
    public var optimizer: [String: Tensor]
    public var rng: [String: [UInt8]]
    public var configJSON: String
    public var dataCursorJSON: String
    public var extra: [String: String] = [:]

    public init(step: Int, model: [String: Tensor], ema: [String: Tensor], emaUpdates: Int, optimizer: [String: Tensor],
                rng: [String: [UInt8]], configJSON: String, dataCursorJSON: String, extra: [String: String] = [:]) {
        self.step = step
        self.model = model
        self.ema = ema
        self.emaUpdates = emaUpdates
        self.optimizer = optimizer
        self.rng = rng
        self.configJSON = configJSON
        self.dataCursorJSON = dataCursorJSON
        self.extra = extra
    }

    public static func fileName(step: Int) -> String { String(format: "step-%07d.safetensors", step) }

    /// Writes the checkpoint atomically into `directory`; returns its URL.
    @discardableResult
    public func write(to directory: URL) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(String, Tensor)] = []
        tensors += model.map { ("model.\($0.key)", $0.value) }
        tensors += ema.map { ("ema.\($0.key)", $0.value) }
        tensors += optimizer.map { ("optimizer.\($0.key)", $0.value) }
        for (name, bytes) in rng { tensors.append(("rng.\(name)", try Tensor(bytes, shape: [bytes.count]))) }
        var metadata = extra
        metadata["format"] = Checkpoint.format
        metadata["miro.step"] = String(step)
        metadata["miro.ema_updates"] = String(emaUpdates)
        metadata["miro.config"] = configJSON
        metadata["miro.data_cursor"] = dataCursorJSON
        let url = directory.appendingPathComponent(Checkpoint.fileName(step: step))
        try TensorFiles.saveSafeTensors(tensors, metadata: metadata, to: url)
        return url
    }

    /// Reads a checkpoint file, checking it against the format: the format tag; `miro.step` and
    /// `miro.ema_updates` plain non-negative integers; and every tensor in the dtype its section is
    /// written in (`formatDTypes`), so a relabelled header (F32 → I32, same byte length) is refused,
    /// naming the tensor, instead of loading reinterpreted bytes. Optimizer step counts are single
    /// non-negative integers and generator states byte vectors.
    public static func read(_ url: URL) throws -> Checkpoint {
        let (tensors, meta) = try TensorFiles.loadSafeTensors(url)
        func fail(_ message: String) -> FormatError { FormatError.invalidHeader(path: url.path, message: message) }
        guard meta["format"] == format else {
            throw fail("not a miro-swift training checkpoint (format '\(meta["format"] ?? "none")', expected '\(format)')")
        }
        func count(_ key: String, default value: Int? = nil) throws -> Int {
            guard let text = meta[key] else {
                if let value { return value }
                throw fail("metadata '\(key)' is missing")
            }
            guard let n = Int(text), n >= 0, n <= maximumStep else {
                throw fail("metadata '\(key)' must be an integer in 0...\(maximumStep), got '\(text.prefix(40))'")
            }
            return n
        }
        let step = try count("miro.step")
        let emaUpdates = try count("miro.ema_updates", default: 0)
        for (name, t) in tensors.sorted(by: { $0.key < $1.key }) {
            guard let section = formatDTypes.first(where: { name.hasPrefix($0.prefix) }) else { continue }
            let allowed = name.hasPrefix("optimizer.") && name.hasSuffix(".step") ? [DType.int64] : section.dtypes
            guard allowed.contains(t.dtype) else {
                throw fail("tensor '\(name)' has dtype \(t.dtype.safeTensors.rawValue); this checkpoint format stores "
                           + "\(section.prefix)* tensors as \(allowed.map(\.safeTensors.rawValue).joined(separator: " or "))")
            }
            if name.hasPrefix("optimizer.") && name.hasSuffix(".step") {
                let values = try t.toArray(Int64.self)
                guard values.count == 1, let v = values.first, v >= 0, v <= Int64(maximumStep) else {
                    throw fail("tensor '\(name)' must hold one step count in 0...\(maximumStep), got \(values.prefix(4)) (shape \(t.shape))")
                }
            }
            if name.hasPrefix("rng."), t.rank != 1 { throw fail("tensor '\(name)' must be a byte vector, got shape \(t.shape)") }
        }
        func section(_ prefix: String) -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for (k, v) in tensors where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = v }
            return out
        }
        var rng: [String: [UInt8]] = [:]
        for (k, v) in section("rng.") { rng[k] = try v.toArray(UInt8.self) }
        let known: Set<String> = ["format", "miro.step", "miro.ema_updates", "miro.config", "miro.data_cursor"]
        return Checkpoint(step: step, model: section("model."), ema: section("ema."),
                          emaUpdates: emaUpdates, optimizer: section("optimizer."), rng: rng,
                          configJSON: meta["miro.config"] ?? "{}", dataCursorJSON: meta["miro.data_cursor"] ?? "{}",
                          extra: meta.filter { !known.contains($0.key) })
    }

    /// The largest step (and EMA update) count a checkpoint may carry: 2⁵³, exact in a Double.
    public static let maximumStep = 1 << 53

    /// The dtypes each tensor section is written in: models train in float32 (bool masks are buffers),
    /// optimizer moments follow their float32 parameters (step counts are int64), generator states are bytes.
    public static let formatDTypes: [(prefix: String, dtypes: [DType])] = [
        ("model.", [.float32, .bool]), ("ema.", [.float32]), ("optimizer.", [.float32]), ("rng.", [.uint8]),
    ]

    /// The run configuration stored in a checkpoint, read from the header alone (no tensor is loaded).
    public static func configJSON(_ url: URL) throws -> String {
        let meta = try SafeTensorsFile(contentsOf: url).metadata
        guard meta["format"] == format, let config = meta["miro.config"] else {
            throw FormatError.invalidHeader(path: url.path, message: "not a miro-swift training checkpoint with a stored configuration")
        }
        return config
    }

    /// Checkpoint files in `directory`, oldest first.
    public static func list(in directory: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".safetensors"),
                  let step = Int(name.dropFirst(5).dropLast(12)) else { return nil }
            return (step, directory.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// The newest checkpoint in `directory`, if any.
    public static func latest(in directory: URL) -> URL? { list(in: directory).last?.url }

    /// What a user names as a checkpoint: a checkpoint file, or a run directory (its newest checkpoint, or the
    /// newest in its `checkpoints/`).
    public static func resolve(_ url: URL) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError("no checkpoint at \(url.path)")
        }
        guard isDirectory.boolValue else { return url }
        let dir = list(in: url).isEmpty ? url.appendingPathComponent("checkpoints") : url
        guard let newest = latest(in: dir) else {
            throw CheckpointError("no step-*.safetensors checkpoint in \(url.path) or \(dir.path)")
        }
        return newest
    }

    /// Deletes all but the newest `keep` checkpoints; returns what was removed.
    @discardableResult
    public static func prune(in directory: URL, keepLast keep: Int) throws -> [URL] {
        guard keep > 0 else { return [] }
        let all = list(in: directory)
        let doomed = all.dropLast(keep).map(\.url)
        for url in doomed { try FileManager.default.removeItem(at: url) }
        return doomed
    }
}

/// A checkpoint that is not where the user pointed.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
