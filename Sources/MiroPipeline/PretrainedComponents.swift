// The pretrained components MiroPipeline loads around the MIRO network (miro/pipeline.py, miro-t2i 0.1.4:
// `_ensure_text_encoder`, `from_pretrained`'s AutoencoderKL), found where users keep them.

import Foundation
import MiroEngine
import MiroFormats
import MiroT5
import MiroTokenizers
import MiroVAE

/// FLAN-T5-XL as `_encode_prompts` runs it: `AutoTokenizer` + `T5EncoderModel` from one folder (the Hugging
/// Face repository holds both the tokenizer files and the weights).
public final class T5PromptEncoder: PromptEncoder {
    public let name: String
    public let tokenizer: T5Tokenizer
    public let encoder: T5Encoder

    public init(tokenizer: T5Tokenizer, encoder: T5Encoder, name: String) {
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.name = name
    }

    /// Loads the tokenizer (`tokenizer.json`, else `spiece.model`) and the encoder weights of `folder`.
    public convenience init(folder: URL, dtype: T5Precision = .float32) throws {
        let tokenizer: T5Tokenizer
        do {
            tokenizer = try T5Tokenizer.load(folder: folder.path)
        } catch {
            throw InputError("text encoder \(folder.path): \(error)")
        }
        self.init(tokenizer: tokenizer, encoder: try T5Encoder.load(folder: folder, dtype: dtype), name: folder.path)
    }

    /// `tokenizer(prompt, padding="max_length", max_length=maxLength, truncation=True)`, the encoder, and the
    /// rows of the real tokens (the mask's ones, `</s>` included).
    ///
    /// Only the real tokens go through the encoder (`keepPadding` false, the default): the padding is on the
    /// right, the mask gives it −∞ as a key and T5's position bias depends on relative positions only, so a real
    /// token's output is the same with or without the padding behind it (equal up to float summation order),
    /// and the padded rows are dropped anyway. With a 40-token prompt padded to 77 that halves the work.
    /// `keepPadding` encodes the padded sequence as `MiroPipeline` does (for benchmarks and checks).
    public func encode(_ prompt: String, maxLength: Int, keepPadding: Bool) throws -> (embedding: Tensor, truncated: Bool) {
        let truncated = tokenizer.encode(prompt).count > maxLength
        let batch: (ids: [[Int32]], mask: [[Int32]])
        do {
            batch = try tokenizer.encode(batch: [prompt], maxLength: maxLength, padding: .maxLength, truncation: true)
        } catch {
            throw InputError("cannot tokenize the prompt: \(error)")
        }
        let real = batch.mask[0].reduce(0) { $0 + Int($1) }
        let rightPadded = batch.mask[0].prefix(real).allSatisfy { $0 == 1 }
        let length = keepPadding || !rightPadded ? batch.ids[0].count : real
        let ids = try Tensor(batch.ids[0].prefix(length).map(Int64.init), shape: [1, length])
        let mask = try Tensor(batch.mask[0].prefix(length).map(Int64.init), shape: [1, length])
        let hidden = try encoder(ids: ids, mask: mask)
        return (try hidden.squeezed(0).slice(0, 0, real).contiguous(), truncated)
    }

    public func encode(_ prompt: String, maxLength: Int) throws -> (embedding: Tensor, truncated: Bool) {
        try encode(prompt, maxLength: maxLength, keepPadding: false)
    }
}

/// The SDXL VAE's decoder (`vae.decode(z).sample`).
public final class VAELatentDecoder: LatentDecoder {
    public let name: String
    public let vae: AutoencoderKL

    public init(vae: AutoencoderKL, name: String) {
        self.vae = vae
        self.name = name
    }

    public convenience init(url: URL) throws {
        self.init(vae: try AutoencoderKL.load(url), name: url.path)
    }

    public func decode(_ z: Tensor) throws -> Tensor { try vae.decode(z) }
}

/// TAESDXL: a fast approximate decoder. It decodes diffusers-*scaled* SDXL latents (the VAE's z × 0.13025,
/// its `scaling_factor`), so the raw z is scaled first.
public final class TinyLatentDecoder: LatentDecoder {
    public let name: String
    public let autoencoder: AutoencoderTiny
    public let sdxlScalingFactor: Double

    public init(autoencoder: AutoencoderTiny, name: String, sdxlScalingFactor: Double = 0.13025) {
        self.autoencoder = autoencoder
        self.name = name
        self.sdxlScalingFactor = sdxlScalingFactor
    }

    public convenience init(url: URL) throws {
        self.init(autoencoder: try AutoencoderTiny.load(url), name: url.path)
    }

    public func decode(_ z: Tensor) throws -> Tensor { try autoencoder.decode(z * sdxlScalingFactor) }
}

/// Where a pretrained component is found, first match wins: the command-line folder, an environment variable,
/// a folder of that name beside the checkpoint, the Hugging Face cache of the repository config.json names.
/// A miss is an error that lists every place looked at and how to get the files.
public struct ComponentLocator: Sendable {
    public enum Component: String, Sendable, CaseIterable {
        case textEncoder = "text encoder", vae = "VAE", taesd = "TAESDXL"

        /// The environment variable that names its folder.
        public var environmentVariable: String {
            switch self {
            case .textEncoder: return "MIRO_TEXT_ENCODER"
            case .vae: return "MIRO_VAE"
            case .taesd: return "MIRO_TAESD"
            }
        }

        /// The folder name looked for beside the checkpoint.
        public var siblingFolder: String {
            switch self {
            case .textEncoder: return "text_encoder"
            case .vae: return "vae"
            case .taesd: return "taesd"
            }
        }

        /// The files that make a folder usable (any one of each inner list).
        var requiredFiles: [[String]] {
            switch self {
            case .textEncoder:
                return [["config.json"], ["model.safetensors", "model.safetensors.index.json"], ["tokenizer.json", "spiece.model"]]
            case .vae, .taesd:
                return [["config.json"], ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                                          "diffusion_pytorch_model.safetensors.index.json"]]
            }
        }

        /// The option that names it.
        var option: String {
            switch self {
            case .textEncoder: return "--text-encoder"
            case .vae: return "--vae"
            case .taesd: return "--taesd"
            }
        }
    }

    public var environment: [String: String]
    public var cache: HuggingFaceCache

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
        cache = HuggingFaceCache(environment: environment)
    }

    /// The folder of `component`: `given` (a folder, or a single `.safetensors` file for the autoencoders),
    /// else `$MIRO_*`, else `<checkpoint>/<text_encoder|vae|taesd>`, else the cache snapshot of `repo`.
    public func locate(_ component: Component, given: String?, checkpoint: URL, repo: String) throws -> URL {
        let fm = FileManager.default
        if let given {
            let url = URL(fileURLWithPath: given)
            if component != .textEncoder, url.pathExtension == "safetensors", fm.fileExists(atPath: url.path) { return url }
            if let problem = problem(with: url, component) { throw InputError("\(component.option) \(given): \(problem)") }
            return url
        }
        var looked: [String] = []
        if let value = environment[component.environmentVariable], !value.isEmpty {
            let url = URL(fileURLWithPath: value)
            if component != .textEncoder, url.pathExtension == "safetensors", fm.fileExists(atPath: url.path) { return url }
            guard let problem = problem(with: url, component) else { return url }
            looked.append("$\(component.environmentVariable) = \(value): \(problem)")
        } else {
            looked.append("$\(component.environmentVariable): not set")
        }
        let sibling = checkpoint.appendingPathComponent(component.siblingFolder)
        if let problem = problem(with: sibling, component) {
            looked.append("\(sibling.path): \(problem)")
        } else {
            return sibling
        }
        do {
            let snapshot = try cache.snapshot(repoId: repo)
            guard let problem = problem(with: snapshot, component) else { return snapshot }
            looked.append("\(snapshot.path): \(problem)")
        } catch {
            looked.append("the Hugging Face cache (\(cache.root.path)): \(error)")
        }
        throw InputError("no \(component.rawValue) found. Looked at:\n  " + looked.joined(separator: "\n  ")
                         + "\nGet it with `huggingface-cli download \(repo)` (into the cache, found automatically) or give "
                         + "its folder with \(component.option) DIR or $\(component.environmentVariable)")
    }

    /// Why `folder` is not a usable `component` folder, or nil when it is.
    func problem(with folder: URL, _ component: Component) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else { return "no such folder" }
        guard isDirectory.boolValue else { return "not a folder" }
        for anyOf in component.requiredFiles
        where !anyOf.contains(where: { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
            return "holds no \(anyOf.joined(separator: " or "))"
        }
        return nil
    }
}
