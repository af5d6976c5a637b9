/// Where a reward model's tensors come from while it is being built (load-by-construction, as candle does): each
/// layer asks for its key with the shape the configuration implies, so a missing tensor or a wrong shape fails with
/// the full dotted key and the config fields behind the shape before anything else is read.
///
/// Not a port: the references load a state dict into an initialised model (`from_pretrained`, `load_state_dict`).

import Foundation
import MiroEngine
import MiroFormats
import MiroIO

/// Supplies one named float32 tensor of a known shape.
protocol RewardWeightSource {
    /// The tensor stored under `key`, of exactly `shape`, as float32. `origin` names the config fields the shape
    /// comes from ("vision_config.hidden_size × intermediate_size").
    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor
}

/// Shape-only tensors: one zero scalar broadcast to the shape (stride 0), so a full-size model (1.7 GB of float32
/// for CLIP-L/14, 3.9 GB for ViT-H-14) is described in kilobytes with its real keys, shapes and parameter count.
struct ShapeOnlyWeights: RewardWeightSource {
    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor {
        try Tensor.zeros([]).expanded(shape)
    }
}

/// Seeded random tensors for tests and benchmarks without a checkpoint: matrices N(0, 1/fan_in), embedding tables
/// and the class token N(0, 0.02²), norm weights 1, biases 0, `logit_scale` ln 100.
struct RandomWeights: RewardWeightSource {
    let generator: Generator

    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor {
        if key == "logit_scale" { return try Tensor.full(shape, Foundation.log(100.0)) }
        let isNorm = key.contains("layer_norm") || key.contains("layrnorm") || key.contains("layernorm")
        if isNorm { return key.hasSuffix(".weight") ? try Tensor.ones(shape) : try Tensor.zeros(shape) }
        if shape.count < 2 && !key.hasSuffix("class_embedding") { return try Tensor.zeros(shape) }
        let t = try Tensor.empty(shape)
        let isTable = key.hasSuffix("embedding.weight") && !key.contains("patch_embedding") || key.hasSuffix("class_embedding")
        let fanIn = shape.dropFirst().reduce(1, *)
        try t.normal_(std: isTable ? 0.02 : 1 / Double(max(fanIn, 1)).squareRoot(), generator: generator)
        return t
    }
}

/// One stored tensor under the name the model asks for: its shape as the model will see it and how to read it.
struct StoredTensor {
    /// The name in the file (for messages), e.g. `transformer.resblocks.0.attn.in_proj_weight`.
    let storedName: String
    let file: String
    let shape: [Int]
    let dtype: SafeTensorsDType
    let read: () throws -> Tensor
}

/// Tensors read from a checkpoint (safetensors, sharded safetensors, or a `torch.save` zip through the restricted
/// reader), keyed by the model's names after an optional renaming. Every tensor handed out is converted to
/// float32 (fp16 / bf16 / fp64 files are widened); tensors no layer asked for are reported by `unused()`.
final class CheckpointWeights: RewardWeightSource {
    let displayPath: String
    private(set) var entries: [String: StoredTensor]
    private(set) var used: Set<String> = []

    init(displayPath: String, entries: [String: StoredTensor]) {
        self.displayPath = displayPath
        self.entries = entries
    }

    /// A `.safetensors` file or a `*.safetensors.index.json`, names as stored; `ignore` drops names first.
    static func safeTensors(_ url: URL, ignore: (String) -> Bool = { _ in false }) throws -> CheckpointWeights {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RewardModelError.file(path: url.path, reason: "no such file")
        }
        var entries: [String: StoredTensor] = [:]
        do {
            if SafeTensorsIndex.isIndexFile(url) {
                let index = try SafeTensorsIndex(contentsOf: url)
                for name in index.names where !ignore(name) {
                    guard let file = index.file(for: name), let e = file.entry(name) else { continue }
                    entries[name] = StoredTensor(storedName: name, file: file.path, shape: e.shape, dtype: e.dtype) {
                        try file.withBytes(name) { try Self.tensor($0, e.shape, e.dtype, name: name, path: file.path) }
                    }
                }
            } else {
                let file = try SafeTensorsFile(contentsOf: url)
                for e in file.entries where !ignore(e.name) {
                    entries[e.name] = StoredTensor(storedName: e.name, file: file.path, shape: e.shape, dtype: e.dtype) {
                        try file.withBytes(e.name) { try Self.tensor($0, e.shape, e.dtype, name: e.name, path: file.path) }
                    }
                }
            }
        } catch let error as FormatError {
            throw RewardModelError.file(path: url.path, reason: "not a readable safetensors checkpoint: \(error)")
        }
        return CheckpointWeights(displayPath: url.path, entries: entries)
    }

    /// A PyTorch `.pt` / `.pth` / `.bin` zip checkpoint read by the restricted unpickler. A checkpoint whose
    /// tensors all sit under one `state_dict` entry (HPSv2's `{'state_dict': ..., 'epoch': ...}`) is unwrapped.
    static func torchCheckpoint(_ url: URL, ignore: (String) -> Bool = { _ in false }) throws -> CheckpointWeights {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RewardModelError.file(path: url.path, reason: "no such file")
        }
        let checkpoint: TorchCheckpoint
        do {
            checkpoint = try TorchCheckpoint(contentsOf: url)
        } catch let error as FormatError {
            throw RewardModelError.file(path: url.path, reason: "not a readable torch.save checkpoint: \(error)")
        }
        let wrapper = "state_dict."
        let unwrap = checkpoint.tensors.allSatisfy { $0.name.hasPrefix(wrapper) }
        var entries: [String: StoredTensor] = [:]
        for t in checkpoint.tensors {
            let name = unwrap ? String(t.name.dropFirst(wrapper.count)) : t.name
            if ignore(name) { continue }
            let path = checkpoint.path
            entries[name] = StoredTensor(storedName: t.name, file: path, shape: t.shape, dtype: t.dtype) {
                try t.bytes.withUnsafeBytes { try Self.tensor($0, t.shape, t.dtype, name: t.name, path: path) }
            }
        }
        return CheckpointWeights(displayPath: url.path, entries: entries)
    }

    private static func tensor(_ bytes: UnsafeRawBufferPointer, _ shape: [Int], _ stored: SafeTensorsDType, name: String,
                               path: String) throws -> Tensor {
        guard let dtype = DType(stored), dtype.isFloatingPoint else {
            throw RewardModelError.file(path: path, reason: "tensor '\(name)' has dtype \(stored.rawValue); expected F32, F16, BF16 or F64")
        }
        let t = try Tensor(bytes: bytes, shape: shape, dtype: dtype)
        return dtype == .float32 ? t : try t.to(.float32)
    }

    /// Replaces the entries by `transform`'s (a renaming such as open_clip → transformers names).
    func rename(_ transform: ([String: StoredTensor]) throws -> [String: StoredTensor]) throws {
        entries = try transform(entries)
    }

    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor {
        guard let found = entries[key] else {
            throw RewardModelError.file(path: displayPath, reason: "missing tensor '\(key)'; the configuration expects shape \(shape) (\(origin))")
        }
        guard found.shape == shape else {
            let stored = found.storedName == key ? "" : " (stored as '\(found.storedName)')"
            throw RewardModelError.file(
                path: found.file,
                reason: "tensor '\(key)'\(stored) has shape \(found.shape), but the configuration implies \(shape) (\(origin))")
        }
        guard DType(found.dtype)?.isFloatingPoint == true else {
            throw RewardModelError.file(path: found.file, reason: "tensor '\(found.storedName)' has dtype \(found.dtype.rawValue); expected F32, F16, BF16 or F64")
        }
        used.insert(key)
        let t = try found.read()
        guard t.shape == shape else {
            throw RewardModelError.file(path: found.file, reason: "tensor '\(found.storedName)' read with shape \(t.shape), expected \(shape)")
        }
        return t
    }

    /// Names no layer asked for, sorted.
    func unused() -> [String] { entries.keys.filter { !used.contains($0) }.sorted() }

    /// Throws when the checkpoint holds tensors the configured model has no place for.
    func checkAllUsed(configPath: String) throws {
        let extra = unused()
        guard let first = extra.first, let entry = entries[first] else { return }
        let more = extra.count > 1 ? " and \(extra.count - 1) more" : ""
        let stored = entry.storedName == first ? "" : " (stored as '\(entry.storedName)')"
        throw RewardModelError.file(
            path: entry.file,
            reason: "tensor '\(first)'\(stored)\(more) has no place in the model \(configPath) describes (the configuration disagrees with the weights)")
    }
}
