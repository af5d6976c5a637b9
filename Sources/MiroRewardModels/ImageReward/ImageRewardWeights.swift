/// Where ImageReward's tensors come from while the model is built (load-by-construction): each layer asks for
/// its state-dict key with the shape the configuration implies, so a missing tensor or a wrong shape fails with
/// the full dotted key before the forward ever runs.
///
/// Not a port: the reference builds the model, then `load_state_dict(torch.load("ImageReward.pt"), strict=False)`.
/// `strict=False` is honoured where it matters: the tensors ImageReward's scoring never reads
/// (`blip.vision_proj`, `blip.text_proj`, `blip.text_encoder.embeddings.position_ids`) may be absent and the
/// last is never read; tensors outside the model (other heads a file may carry) are skipped and logged.
/// A tensor the model needs and the file lacks is an error naming it (PyTorch would silently keep random init).

import Foundation
import MiroEngine
import MiroFormats
import MiroIO

/// Supplies one named tensor of a known shape (float32 on the model's device).
protocol ImageRewardWeightSource {
    /// The tensor stored under `key`, of exactly `shape`. `origin` names the config fields behind the shape.
    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor
    /// The tensor under `key` when the source has it (shape-checked), nil when it is absent.
    func optionalTensor(_ key: String, shape: [Int], origin: String) throws -> Tensor?
}

/// Zero-stride broadcasts of one scalar: the real keys and shapes of a full-size model in a few kilobytes.
struct ImageRewardShapeOnlyWeights: ImageRewardWeightSource {
    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor {
        try Tensor.zeros([]).expanded(shape)
    }

    func optionalTensor(_ key: String, shape: [Int], origin: String) throws -> Tensor? {
        try tensor(key, shape: shape, origin: origin)
    }
}

/// Seeded random weights for tests and benchmarks without a checkpoint: matrices N(0, 1/fan_in), tables and
/// class/position embeddings N(0, 0.02²) as BLIP initialises them, norm weights 1, biases 0.
struct ImageRewardRandomWeights: ImageRewardWeightSource {
    let generator: Generator
    let device: Device

    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor {
        let isNorm = key.hasSuffix("LayerNorm.weight") || (key.contains(".norm") && key.hasSuffix(".weight"))
        if isNorm { return try Tensor.ones(shape, device: device) }
        if key.hasSuffix(".bias") { return try Tensor.zeros(shape, device: device) }
        let t = try Tensor.empty(shape)
        let isTable = key.hasSuffix("embeddings.weight") || key.hasSuffix("cls_token") || key.hasSuffix("pos_embed")
        let fanIn = shape.dropFirst().reduce(1, *)
        try t.normal_(std: isTable ? 0.02 : 1 / Double(max(fanIn, 1)).squareRoot(), generator: generator)
        return device == .cpu ? t : try t.to(device: device)
    }

    func optionalTensor(_ key: String, shape: [Int], origin: String) throws -> Tensor? {
        try tensor(key, shape: shape, origin: origin)
    }
}

/// The tensors of a checkpoint file as users have it: `ImageReward.pt` (a `torch.save` zip of the state dict,
/// read by the restricted unpickler) or a `.safetensors` file (e.g. written by `miro convert`). Float32, float16,
/// bfloat16 and float64 tensors are converted to float32; nothing else is accepted for a weight.
final class ImageRewardCheckpointWeights: ImageRewardWeightSource {
    /// Stored tensors the model may do without (`strict=False` in the reference; never read when scoring).
    static let unusedKeys: Set<String> = [
        "blip.text_encoder.embeddings.position_ids",
        "blip.vision_proj.weight", "blip.vision_proj.bias", "blip.text_proj.weight", "blip.text_proj.bias",
    ]
    /// Prefixes whose every tensor must have a place in the model: a leftover there means the configuration
    /// (layers, widths) disagrees with the file.
    static let modelPrefixes = ["blip.visual_encoder.", "blip.text_encoder.", "mlp."]

    private struct Stored {
        let dtype: SafeTensorsDType
        let shape: [Int]
        let bytes: (_ body: (UnsafeRawBufferPointer) throws -> Tensor) throws -> Tensor
    }

    let path: String
    let names: [String]
    private let stored: [String: Stored]
    private let device: Device
    private(set) var used: Set<String> = []

    /// Opens `url`: `.safetensors` by its extension, anything else as a torch zip checkpoint.
    init(url: URL, device: Device) throws {
        path = url.path
        self.device = device
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RewardModelError.file(path: url.path, reason: "no such file")
        }
        var stored: [String: Stored] = [:]
        var names: [String] = []
        do {
            if url.pathExtension.lowercased() == "safetensors" {
                let file = try SafeTensorsFile(contentsOf: url)
                for entry in file.entries {
                    let name = entry.name
                    stored[name] = Stored(dtype: entry.dtype, shape: entry.shape) { body in try file.withBytes(name, body) }
                    names.append(name)
                }
            } else {
                let checkpoint = try TorchCheckpoint(contentsOf: url)
                for t in checkpoint.tensors {
                    let bytes = t.bytes
                    stored[t.name] = Stored(dtype: t.dtype, shape: t.shape) { body in try bytes.withUnsafeBytes(body) }
                    names.append(t.name)
                }
            }
        } catch let error as FormatError {
            throw RewardModelError.file(path: url.path, reason: error.description)
        }
        self.stored = stored
        self.names = names
    }

    /// The stored shape of `key`, if the file has it.
    func storedShape(_ key: String) -> [Int]? { stored[key]?.shape }

    func tensor(_ key: String, shape: [Int], origin: String) throws -> Tensor {
        guard let t = try optionalTensor(key, shape: shape, origin: origin) else {
            throw RewardModelError.file(path: path, reason: "missing tensor '\(key)'; the configuration expects shape \(shape) (\(origin))")
        }
        return t
    }

    func optionalTensor(_ key: String, shape: [Int], origin: String) throws -> Tensor? {
        guard let entry = stored[key] else { return nil }
        guard entry.shape == shape else {
            throw RewardModelError.file(
                path: path, reason: "tensor '\(key)' has shape \(entry.shape), but the configuration implies \(shape) (\(origin))")
        }
        guard let dtype = DType(entry.dtype), dtype.isFloatingPoint else {
            throw RewardModelError.file(
                path: path, reason: "tensor '\(key)' has dtype \(entry.dtype.rawValue); expected a floating-point dtype (F32, F16, BF16 or F64)")
        }
        used.insert(key)
        let raw: Tensor
        do {
            raw = try entry.bytes { try Tensor(bytes: $0, shape: shape, dtype: dtype) }
        } catch let error as FormatError {
            throw RewardModelError.file(path: path, reason: "tensor '\(key)': \(error.description)")
        }
        guard raw.dtype != .float32 || device != .cpu else { return raw }
        return try raw.to(.float32, device: device)
    }

    /// Tensors under the model's prefixes that no layer asked for (more layers or other widths in the file than
    /// in the configuration), excluding the unused ones.
    func unusedModelTensors() -> [String] {
        names.filter { name in
            !used.contains(name) && !Self.unusedKeys.contains(name) && Self.modelPrefixes.contains { name.hasPrefix($0) }
        }.sorted()
    }

    /// Tensors outside the model (skipped, as `strict=False` skips them).
    func foreignTensors() -> [String] {
        names.filter { name in !Self.unusedKeys.contains(name) && !Self.modelPrefixes.contains { name.hasPrefix($0) } }.sorted()
    }
}
