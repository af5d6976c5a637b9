/// Where the encoder's tensors come from while it is being built (load-by-construction, as candle does): each
/// layer asks for its key with the shape the configuration implies, so a missing tensor or a wrong shape fails
/// with the full dotted key before anything else is read.
///
/// Not a port: the reference loads a state dict into an already initialised model (`from_pretrained`).

import Foundation
import MiroEngine
import MiroFormats
import MiroIO

/// The dtype a weight is kept in.
public enum T5WeightRole: Sendable {
    /// Linear weights and the token embedding: the encoder's compute dtype (float32 or bfloat16).
    case compute
    /// RMS-norm weights and the relative-position bias: always float32.
    case float32
}

/// The dtype of the encoder's matrices. Norms, the position bias, the attention core (scores, softmax, weights·v) and the
/// residual stream are float32 either way.
public enum T5Precision: String, Sendable, CaseIterable {
    /// Everything float32 (default): matches transformers' float32 `T5EncoderModel` to float32 rounding.
    case float32
    /// Linear weights, the embedding table and the linear layers' matmuls in bfloat16 (half the memory: 2.45 GB
    /// instead of 4.9 GB for FLAN-T5-XL); the attention core stays float32. Results differ from float32 by
    /// bfloat16 rounding (mean relative 1–3 % on the sharp random test model, less than transformers' bf16).
    case bfloat16

    public var dtype: DType { self == .float32 ? .float32 : .bfloat16 }
}

/// Supplies one named tensor of a known shape.
protocol T5WeightSource {
    /// The tensor stored under `key`, of exactly `shape`, in the dtype `role` asks for. `origin` names the
    /// config fields the shape comes from, for error messages ("d_ff × d_model").
    func tensor(_ key: String, shape: [Int], role: T5WeightRole, origin: String) throws -> Tensor
}

/// Shape-only tensors: each is one zero scalar broadcast to the requested shape (stride 0), so a full-size model
/// (5 GB of float32 weights for FLAN-T5-XL) is described in a few kilobytes. Its keys, shapes and parameter count
/// are the real ones; running it gives meaningless (all-equal) outputs.
struct T5ShapeOnlyWeights: T5WeightSource {
    func tensor(_ key: String, shape: [Int], role: T5WeightRole, origin: String) throws -> Tensor {
        try Tensor.zeros([]).expanded(shape)
    }
}

/// Random tensors from a seeded generator, for tests and benchmarks without a checkpoint: matrices
/// N(0, 1/fan_in) (embedding and relative bias N(0, 1)), norm weights 1.
struct T5RandomWeights: T5WeightSource {
    let generator: Generator
    let computeDType: DType

    func tensor(_ key: String, shape: [Int], role: T5WeightRole, origin: String) throws -> Tensor {
        if key.hasSuffix("layer_norm.weight") { return try Tensor.ones(shape) }
        let t = try Tensor.empty(shape)
        let isTable = key == "shared.weight" || key.hasSuffix("relative_attention_bias.weight")
        let std = isTable ? 1.0 : 1.0 / Double(shape.last ?? 1).squareRoot()
        try t.normal_(std: std, generator: generator)
        let target = role == .float32 ? DType.float32 : computeDType
        return t.dtype == target ? t : try t.to(target)
    }
}

/// Tensors read from a Hugging Face checkpoint: one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json`. Only the tensors the encoder asks for are read (the files are memory-mapped;
/// `decoder.*` and `lm_head.*` pages are never touched). Float32, bfloat16, float16 and float64 files are
/// converted to the requested dtype on load.
final class T5CheckpointWeights: T5WeightSource {
    /// The tied embedding: `T5ForConditionalGeneration` files store it once as `shared.weight`; some exports
    /// keep only the encoder's name for it.
    static let embeddingAliases = ["shared.weight": "encoder.embed_tokens.weight"]

    private enum Storage {
        case single(SafeTensorsFile)
        case sharded(SafeTensorsIndex)
    }

    private let storage: Storage
    /// The file named in "missing tensor" messages (the index for a sharded checkpoint).
    let displayPath: String
    private let computeDType: DType
    private let device: Device
    /// Stored names handed out so far, to find leftover `encoder.*` tensors afterwards.
    private(set) var used: Set<String> = []

    /// Opens `url`: a `.safetensors` file or a `*.safetensors.index.json`.
    init(url: URL, precision: T5Precision, device: Device) throws {
        computeDType = precision.dtype
        self.device = device
        displayPath = url.path
        do {
            if SafeTensorsIndex.isIndexFile(url) {
                storage = .sharded(try SafeTensorsIndex(contentsOf: url))
            } else {
                storage = .single(try SafeTensorsFile(contentsOf: url))
            }
        } catch let error as FormatError {
            throw T5Error.invalidWeights(path: url.path, message: Self.explain(error, index: url))
        }
    }

    /// Every tensor name in the checkpoint.
    var names: [String] {
        switch storage {
        case .single(let file): file.names
        case .sharded(let index): index.names
        }
    }

    private func locate(_ name: String) -> (SafeTensorsEntry, SafeTensorsFile)? {
        switch storage {
        case .single(let file):
            return file.entry(name).map { ($0, file) }
        case .sharded(let index):
            guard let file = index.file(for: name), let entry = file.entry(name) else { return nil }
            return (entry, file)
        }
    }

    func tensor(_ key: String, shape: [Int], role: T5WeightRole, origin: String) throws -> Tensor {
        var stored = key
        if locate(key) == nil, let alias = Self.embeddingAliases[key], locate(alias) != nil { stored = alias }
        guard let found = locate(stored) else {
            let also = Self.embeddingAliases[key].map { " (nor '\($0)')" } ?? ""
            throw T5Error.invalidWeights(
                path: displayPath, message: "missing tensor '\(key)'\(also); config.json expects shape \(shape) (\(origin))")
        }
        let (entry, file) = found
        guard entry.shape == shape else {
            throw T5Error.invalidWeights(
                path: file.path,
                message: "tensor '\(stored)' has shape \(entry.shape), but config.json implies \(shape) (\(origin))")
        }
        guard let dtype = DType(entry.dtype), dtype.isFloatingPoint else {
            throw T5Error.invalidWeights(
                path: file.path,
                message: "tensor '\(stored)' has dtype \(entry.dtype.rawValue); expected a floating-point dtype (F32, BF16, F16 or F64)")
        }
        used.insert(stored)
        let raw: Tensor
        do {
            raw = try file.withBytes(stored) { try Tensor(bytes: $0, shape: shape, dtype: dtype) }
        } catch let error as FormatError {
            throw T5Error.invalidWeights(path: file.path, message: error.description)
        }
        let target = role == .float32 ? DType.float32 : computeDType
        guard raw.dtype != target || device != .cpu else { return raw }
        return try raw.to(target, device: device)
    }

    /// Names under `encoder.` that no layer asked for (a config with fewer layers than the weights, a gated
    /// checkpoint under a "relu" config, ...); `encoder.embed_tokens.weight` is the tied alias, never extra.
    func unusedEncoderTensors() -> [String] {
        names.filter { $0.hasPrefix("encoder.") && !used.contains($0) && $0 != "encoder.embed_tokens.weight" }.sorted()
    }

    /// A FormatError from opening the checkpoint, in words that name the file and, for a missing shard, the
    /// encoder tensors it was supposed to hold.
    private static func explain(_ error: FormatError, index: URL) -> String {
        guard SafeTensorsIndex.isIndexFile(index), case .io = error,
              let raw = try? Data(contentsOf: index),
              let json = try? PythonJSON.parse([UInt8](raw), options: .strict),
              let weightMap = json["weight_map"]?.object else { return error.description }
        let directory = index.deletingLastPathComponent()
        var missing: [String: [String]] = [:]
        for (tensor, file) in weightMap {
            guard let shard = file.string,
                  !FileManager.default.fileExists(atPath: directory.appendingPathComponent(shard).path) else { continue }
            missing[shard, default: []].append(tensor)
        }
        guard let first = missing.min(by: { $0.key < $1.key }) else { return error.description }
        let (shard, tensors) = (first.key, first.value)
        let needed = tensors.filter { $0 == "shared.weight" || $0.hasPrefix("encoder.") }.sorted()
        let holds = needed.first.map { "it holds '\($0)'" + (needed.count > 1 ? " and \(needed.count - 1) more encoder tensors" : "") }
            ?? "it holds \(tensors.count) tensors (none of the encoder's, but the index must be complete)"
        return "shard '\(shard)' named in weight_map does not exist in \(directory.path); \(holds)"
    }
}
