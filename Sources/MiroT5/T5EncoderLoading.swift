/// Loading a T5 encoder from a Hugging Face folder as users have it (`save_pretrained` output or a hub snapshot):
/// `config.json` plus `model.safetensors`, or shards `model-0000k-of-0000n.safetensors` with
/// `model.safetensors.index.json`. Follows `PreTrainedModel.from_pretrained` (transformers 4.40.2) in which file
/// wins (`model.safetensors` before the index) and in reading only the tensors the model declares.

import Foundation
import MiroEngine
import MiroFormats

extension T5Encoder {
    public static let configFileName = "config.json"
    public static let weightsFileName = "model.safetensors"
    public static let weightsIndexFileName = "model.safetensors.index.json"

    /// Loads the encoder of a T5 / FLAN-T5 folder: a full `T5ForConditionalGeneration` checkpoint (its
    /// `decoder.*` and `lm_head.*` tensors are skipped unread) or a `T5EncoderModel` one.
    ///
    /// - dtype: `.float32` (default) converts every weight to float32 on load, whatever the file holds
    ///   (F32, BF16, F16); `.bfloat16` keeps linear weights and the embedding in bfloat16 (norms, the position
    ///   bias, the attention core and the residual stream stay float32).
    /// - device: where the weights go (`.cuda(i)` when the engine was built with CUDA).
    ///
    /// Throws `T5Error.invalidConfig` for a missing or invalid `config.json` and `T5Error.invalidWeights` naming
    /// the file and tensor for a missing shard, a missing tensor, a wrong shape or dtype, or `encoder.*` tensors
    /// the configuration has no place for.
    public static func load(folder: URL, dtype precision: T5Precision = .float32, device: Device = .cpu) throws -> T5Encoder {
        let configURL = folder.appendingPathComponent(configFileName)
        let config = try readConfig(configURL)
        let source = try T5CheckpointWeights(url: weightsFile(in: folder), precision: precision, device: device)
        let model = try T5Encoder(config: config, precision: precision, source: source, path: configURL.path)
        let extra = source.unusedEncoderTensors()
        if let first = extra.first {
            let more = extra.count > 1 ? " and \(extra.count - 1) more" : ""
            throw T5Error.invalidWeights(
                path: source.displayPath,
                message: "tensor '\(first)'\(more) under encoder.* has no place in the encoder config.json describes "
                    + "(num_layers \(config.numLayers), feed_forward_proj '\(config.feedForwardProj)')")
        }
        return model
    }

    /// Loads `repoId` (e.g. `google/flan-t5-xl`) from the local Hugging Face cache; nothing is downloaded.
    public static func load(repoId: String, revision: String = "main", cache: HuggingFaceCache = HuggingFaceCache(),
                            dtype precision: T5Precision = .float32, device: Device = .cpu) throws -> T5Encoder {
        try load(folder: cache.snapshot(repoId: repoId, revision: revision), dtype: precision, device: device)
    }

    /// Reads and validates a T5 `config.json`.
    public static func readConfig(_ url: URL) throws -> T5Config {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw T5Error.invalidConfig(path: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        let config: T5Config
        do {
            config = try JSONDecoder().decode(T5Config.self, from: data)
        } catch let error as DecodingError {
            throw T5Error.invalidConfig(path: url.path, message: error.configFieldDescription)
        } catch {
            throw T5Error.invalidConfig(path: url.path, message: "\(error)")
        }
        // umT5 gives every block its own relative bias; other model types are different architectures.
        if let type = config.modelType, !["t5", "mt5"].contains(type) {
            throw T5Error.invalidConfig(path: url.path, message: "model_type '\(type)' is not a T5 encoder (expected 't5' or 'mt5')")
        }
        try config.validate(path: url.path)
        return config
    }

    /// The checkpoint file of a folder, in transformers' order of preference.
    static func weightsFile(in folder: URL) throws -> URL {
        let fm = FileManager.default
        for name in [weightsFileName, weightsIndexFileName] {
            let url = folder.appendingPathComponent(name)
            if fm.fileExists(atPath: url.path) { return url }
        }
        let present = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
        let pickle = present.contains { $0.hasPrefix("pytorch_model") && $0.hasSuffix(".bin") || $0.hasSuffix(".bin.index.json") }
        throw T5Error.invalidWeights(
            path: folder.path,
            message: "no \(weightsFileName) or \(weightsIndexFileName) in the folder"
                + (pickle ? " (pytorch_model*.bin pickles are not read; the hub repositories also carry the safetensors files)" : ""))
    }
}
