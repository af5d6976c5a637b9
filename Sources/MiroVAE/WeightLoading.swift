// Binding checkpoint tensors to the autoencoders' parameters: one place that opens safetensors files
// (single or sharded), maps their names, checks every name, shape and dtype against the model built from the
// configuration, and only then copies (converting fp16/bf16/fp64 to the model's float32).

import Foundation
import MiroEngine
import MiroFormats
import MiroIO
import MiroNN

/// The tensors of one safetensors file or sharded `*.safetensors.index.json`, read on demand (memory-mapped).
struct WeightSource {
    let path: String
    let names: [String]
    private let entry: (String) -> SafeTensorsEntry?
    private let read: (String, (UnsafeRawBufferPointer) throws -> Tensor) throws -> Tensor

    init(_ url: URL) throws {
        path = url.path
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw VAEError.invalidWeights(path: url.path, message: "no such file")
        }
        do {
            if SafeTensorsIndex.isIndexFile(url) {
                let index = try SafeTensorsIndex(contentsOf: url)
                names = index.names
                entry = { index.entry($0) }
                read = { name, body in try index.withBytes(name, body) }
            } else {
                let file = try SafeTensorsFile(contentsOf: url)
                names = file.names
                entry = { file.entry($0) }
                read = { name, body in try file.withBytes(name, body) }
            }
        } catch let error as VAEError {
            throw error
        } catch {
            throw VAEError.invalidWeights(path: url.path, message: "not a readable safetensors file: \(error)")
        }
    }

    func header(_ name: String) -> SafeTensorsEntry? { entry(name) }

    /// A CPU copy of one tensor in its stored dtype.
    func tensor(_ name: String) throws -> Tensor {
        guard let e = entry(name), let dtype = DType(e.dtype) else {
            throw VAEError.invalidWeights(path: path, message: "tensor '\(name)' cannot be read")
        }
        return try read(name) { try Tensor(bytes: $0, shape: e.shape, dtype: dtype) }
    }
}

/// One source tensor bound to one parameter name of the model.
struct WeightBinding {
    let source: WeightSource
    let sourceName: String
}

enum WeightLoader {
    /// Binds the tensors of `sources` to `module`'s state dict and copies them in, or throws before copying
    /// anything. `rename` maps (index of the source in `sources`, source name) to the model's name (nil: not part
    /// of the model); names for which `ignore` is true are skipped. Every model tensor must be present exactly once with its shape
    /// (or, for `squeezable` names, the shape followed by 1×1), in a floating-point dtype; a source tensor the
    /// model does not have is an error too, because it means the configuration disagrees with the weights.
    static func load(_ module: Module, from sources: [WeightSource], rename: (_ sourceIndex: Int, _ name: String) -> String?,
                     ignore: (String) -> Bool = { _ in false }, squeezable: (String) -> Bool = { _ in false },
                     configPath: String) throws {
        var bindings: [String: WeightBinding] = [:]
        for (index, source) in sources.enumerated() {
            for name in source.names {
                if ignore(name) { continue }
                guard let target = rename(index, name) else {
                    throw VAEError.invalidWeights(path: source.path, message: "tensor '\(name)' is not part of this autoencoder")
                }
                if let other = bindings[target] {
                    throw VAEError.invalidWeights(
                        path: source.path,
                        message: "tensors '\(other.sourceName)' and '\(name)' both map to '\(target)'")
                }
                bindings[target] = WeightBinding(source: source, sourceName: name)
            }
        }
        let slots = module.stateDict()
        let declared = Set(slots.map(\.0))
        if let stray = bindings.keys.sorted().first(where: { !declared.contains($0) }), let b = bindings[stray] {
            throw VAEError.invalidWeights(
                path: b.source.path,
                message: "tensor '\(b.sourceName)'\(b.sourceName == stray ? "" : " ('\(stray)')") is not in the model "
                    + "that \(configPath) describes (the configuration disagrees with the weights)")
        }
        var plan: [(Tensor, WeightBinding)] = []
        for (key, parameter) in slots {
            guard let b = bindings[key] else {
                let files = sources.map(\.path).joined(separator: ", ")
                throw VAEError.invalidWeights(path: files, message: "missing tensor '\(key)' (required by \(configPath))")
            }
            guard let e = b.source.header(b.sourceName) else {
                throw VAEError.invalidWeights(path: b.source.path, message: "tensor '\(b.sourceName)' has no header entry")
            }
            let expected = parameter.shape
            let fits = e.shape == expected || (squeezable(key) && e.shape == expected + [1, 1])
            guard fits else {
                throw VAEError.invalidWeights(
                    path: b.source.path,
                    message: "tensor '\(b.sourceName)' has shape \(e.shape), but \(configPath) needs \(expected) for '\(key)'")
            }
            guard let dtype = DType(e.dtype), dtype.isFloatingPoint else {
                throw VAEError.invalidWeights(
                    path: b.source.path,
                    message: "tensor '\(b.sourceName)' has dtype \(e.dtype.rawValue); expected F32, F16, BF16 or F64")
            }
            plan.append((parameter, b))
        }
        // Copy one tensor at a time: peak memory is the model plus its largest tensor.
        try withoutGrad {
            for (parameter, b) in plan {
                let value = try b.source.tensor(b.sourceName)
                try parameter.copy_(value.reshaped(parameter.shape).to(parameter.dtype))
            }
        }
        try module.freeze()
    }

    /// The weights file of a diffusers component folder: `diffusion_pytorch_model.safetensors`, its sharded
    /// index, or the `fp16` variant of either.
    static func diffusersWeights(in folder: URL) throws -> URL {
        let candidates = ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
                          "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.fp16.safetensors.index.json"]
        for name in candidates {
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        let pickle = folder.appendingPathComponent("diffusion_pytorch_model.bin")
        if FileManager.default.fileExists(atPath: pickle.path) {
            throw VAEError.invalidWeights(
                path: pickle.path,
                message: "only safetensors weights are read (a .bin file is a PyTorch pickle); convert it with "
                    + "`safetensors.torch.save_file(torch.load(path), \"diffusion_pytorch_model.safetensors\")`")
        }
        throw VAEError.invalidWeights(path: folder.path, message: "no diffusion_pytorch_model.safetensors in this folder")
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }
}
