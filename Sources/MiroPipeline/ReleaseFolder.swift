// Port of MiroPipeline.from_pretrained (miro/pipeline.py, miro-t2i 0.1.4) for local folders, and of the
// folder that scripts/convert_and_upload_to_hf.py (stage_checkpoint / extract_inference_state) writes
// (method §5.1, §5.4, §9).

import Foundation
import Logging
import MiroEngine
import MiroFormats
import MiroIO
import MiroModels
import MiroNN

/// Weight precisions a folder can be written in (the converter offers fp16 / fp32; bf16 loads too).
public enum WeightsDType: String, CaseIterable, Sendable {
    case fp32, fp16, bf16

    public var dtype: DType {
        switch self {
        case .fp32: .float32
        case .fp16: .float16
        case .bf16: .bfloat16
        }
    }
}

/// An official MIRO checkpoint folder, loaded: `config.json` + `model.safetensors` +
/// `uncond_embedding.npy`, at the root or in a `variant` subfolder (as
/// `MiroPipeline.from_pretrained(path, variant=NAME)`):
///
///     config.json            network / preconditioning / data_preprocessing / postprocessing / scheduler /
///                            coherence_keys / sampler_defaults / data_resolution / img_resolution /
///                            max_text_len / model_type / vae_repo / text_encoder_repo (extra keys ignored)
///     model.safetensors      network.*  preconditioning.*            (strict: every key, nothing else)
///                            data_preprocessing.{scale,bias}  postprocessing.{scale,bias}   (1, 4, 1, 1), optional
///                            fp32, fp16 or bf16 — cast to float32 on load
///     uncond_embedding.npy   float32 (n, D) or (D,): the empty-prompt T5 embedding of the CFG negative branch
///
/// Stricter than the official loader in one respect: it ignores tensors under other prefixes and
/// unknown normalisation keys (`strict=False` there); here they are reported as unexpected. The SDXL
/// VAE weights (`postprocessing.vae.*`, dropped by the converter) are skipped as officially.
public final class ReleaseFolder {
    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"
    public static let uncondFile = "uncond_embedding.npy"
    /// `_PIPELINE_FILES` of pipeline.py.
    public static let requiredFiles = [configFile, weightsFile, uncondFile]

    /// The folder the files were read from (root, or root/variant).
    public let directory: URL
    public let config: MIROPipelineConfig
    public let provenance: ReleaseProvenance?
    /// The network and preconditioner with the folder's weights, float32, in eval mode.
    public let model: MIROModel
    /// (n, label_dim) float32.
    public let uncondEmbedding: Tensor
    /// The `data_preprocessing.*` / `postprocessing.*` buffers of the file, or (when the file has none)
    /// the values the official constructors compute from config.json.
    public let preprocessing: LatentScaleBias
    public let postprocessing: LatentScaleBias
    /// The floating-point dtypes stored in model.safetensors (one, normally).
    public let storedDTypes: [DType]
    public let report: LoadReport
    /// Floating-point weights holding NaN or infinity (the first few, by state-dict key); empty normally.
    public let nonFiniteTensors: [String]
    /// Top-level config.json keys that are neither official nor ours (tolerated, like the official loader).
    public let unknownConfigKeys: [String]

    /// True when `url` holds `config.json` and `model.safetensors` (an official folder rather than a
    /// training run directory or checkpoint file).
    public static func isFolder(_ url: URL) -> Bool {
        let fm = FileManager.default
        return [configFile, weightsFile].allSatisfy { fm.fileExists(atPath: url.appendingPathComponent($0).path) }
    }

    /// Subfolders of `root` that are folders themselves (the variants).
    public static func variants(in root: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { isFolder(root.appendingPathComponent($0)) }.sorted()
    }

    /// Loads `root` (or `root/variant`). Missing files throw "Missing NAME in BASE"; a weights file that
    /// does not match the architecture of config.json throws `StateDictError` with the full report.
    public init(contentsOf root: URL, variant: String? = nil, logger: Logger = Logger(label: "miro.release")) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw ReleaseError.notAFolder(root.path)
        }
        guard isDirectory.boolValue else { throw ReleaseError.notAFolder(root.path) }
        let base = variant.map { root.appendingPathComponent($0) } ?? root
        for name in Self.requiredFiles where !FileManager.default.fileExists(atPath: base.appendingPathComponent(name).path) {
            let available = Self.variants(in: root)
            let hint = variant != nil && !available.isEmpty ? "variants in \(root.path): \(available.joined(separator: ", "))" : nil
            throw ReleaseError.missingFile(name: name, base: base.path, hint: hint)
        }
        directory = base

        // config.json
        let configURL = base.appendingPathComponent(Self.configFile)
        guard let configData = FileManager.default.contents(atPath: configURL.path) else {
            throw ReleaseError.badFile(path: configURL.path, message: "cannot be read")
        }
        let decoded = try ReleaseConfigJSON.decode(configData, path: configURL.path)
        config = decoded.config
        provenance = decoded.provenance
        unknownConfigKeys = decoded.unknownKeys
        if !unknownConfigKeys.isEmpty {
            logger.debug("\(configURL.path): ignoring unknown keys \(unknownConfigKeys.joined(separator: ", "))")
        }
        if let keys = config.coherenceKeys, keys != config.network.coherenceKeys {
            logger.warning("\(configURL.path): coherence_keys \(keys) differ from network.coherence_keys \(config.network.coherenceKeys); the network's are used")
        }
        let model: MIROModel
        do {
            model = try MIROModel(config: config, generator: Generator(seed: 0))
        } catch {
            throw ReleaseError.badFile(path: configURL.path, message: "\(error)")
        }
        let pre = config.dataPreprocessing
        let post = config.postprocessing
        let defaultPre = try LatentScaleBias.official(channelWise: pre?.channelWiseNormalisation ?? true,
                                                      modelType: pre?.modelType ?? "sdxl")
        let defaultPost = try LatentScaleBias.official(channelWise: post?.channelWiseNormalisation ?? true,
                                                       modelType: post?.modelType ?? "sdxl")

        // model.safetensors
        let weightsURL = base.appendingPathComponent(Self.weightsFile)
        let (tensors, _) = try TensorFiles.loadSafeTensors(weightsURL)
        var modelWeights: [String: Tensor] = [:]
        var buffers: [String: Tensor] = [:]
        var unexpected: [String] = []
        var skipped = 0
        for (key, value) in tensors {
            if key.hasPrefix("network.") || key.hasPrefix("preconditioning.") {
                modelWeights[key] = value
            } else if key.hasPrefix("postprocessing.vae.") {
                skipped += 1  // pipeline.py: `post_state = {k: v ... if not k.startswith("vae.")}`
            } else if ["data_preprocessing.scale", "data_preprocessing.bias", "postprocessing.scale", "postprocessing.bias"].contains(key) {
                buffers[key] = value
            } else {
                unexpected.append(key)
            }
        }
        // The buffers are optional (`strict=False` officially): absent ones keep the config's values.
        let normalization = try NormalizationBuffers(preprocessing: defaultPre, postprocessing: defaultPost)
        // Checked before anything is copied, naming the safetensors dtype (Module.load would refuse it too).
        for (module, weights) in [(model as Module, modelWeights), (normalization, buffers)] {
            if let bad = module.dtypeMismatch(weights) {
                throw ReleaseError.badFile(path: weightsURL.path, message: "tensor '\(bad.key)' has dtype \(bad.found.safeTensors.rawValue), "
                    + "but the model's \(bad.expected) tensor needs \(bad.expected.isFloatingPoint ? "a float dtype (F32, F16, BF16)" : bad.expected.safeTensors.rawValue)")
            }
        }
        var report = try model.load(modelWeights, strict: false, source: weightsURL.path)
        let bufferReport = try normalization.load(buffers, strict: false, source: weightsURL.path)
        report.unexpected = (report.unexpected + unexpected).sorted()
        report.mismatched += bufferReport.mismatched
        report.wrongDType += bufferReport.wrongDType
        guard report.isClean else { throw StateDictError(source: weightsURL.path, report: report) }
        report.loaded += bufferReport.loaded
        if skipped > 0 { logger.debug("\(weightsURL.path): skipped \(skipped) VAE tensors (postprocessing.vae.*)") }
        preprocessing = try normalization.preprocessing.value
        postprocessing = try normalization.postprocessing.value
        storedDTypes = Array(Set(tensors.filter { $0.key.hasPrefix("network.") }.map(\.value.dtype)).filter(\.isFloatingPoint))
            .sorted { $0.rawValue < $1.rawValue }
        model.eval()
        self.model = model
        self.report = report

        // uncond_embedding.npy: np.load(...).astype(np.float32), (D,) → (1, D)
        let uncondURL = base.appendingPathComponent(Self.uncondFile)
        var uncond = try TensorFiles.loadNPY(uncondURL)
        guard uncond.dtype.isFloatingPoint else {
            throw ReleaseError.badFile(path: uncondURL.path, message: "expected a float array, got \(uncond.dtype)")
        }
        uncond = try uncond.to(.float32)
        if uncond.rank == 1 { uncond = try uncond.unsqueezed(0) }
        guard uncond.rank == 2, uncond.size(0) >= 1, uncond.size(1) == config.network.labelDim else {
            throw ReleaseError.badFile(path: uncondURL.path, message: "expected shape (n, \(config.network.labelDim)) or "
                                       + "(\(config.network.labelDim),) for label_dim \(config.network.labelDim), got \(uncond.shape)")
        }
        uncondEmbedding = uncond
        var nonFinite = try SamplingChecks.nonFiniteTensors(in: model)
        if try uncond.isFinite().all().item() == 0 { nonFinite.append(Self.uncondFile) }
        nonFiniteTensors = nonFinite
        if let warning = SamplingChecks.nonFiniteWarning(nonFinite, source: base.path) { logger.warning("\(warning)") }
        logger.debug("loaded \(base.path): \(report.loaded) tensors, stored as \(storedDTypes)")
    }

    // MARK: - Writing

    /// True when `url` is recognisably a folder this writer produced: a real directory (not a link)
    /// holding exactly config.json, model.safetensors and uncond_embedding.npy as regular files, and
    /// nothing else. Only such a folder is ever replaced by `write(..., overwrite: true)`.
    public static func isPreviousExport(_ url: URL) -> Bool {
        let fm = FileManager.default
        guard let type = (try? fm.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType, type == .typeDirectory,
              let items = try? fm.contentsOfDirectory(atPath: url.path), Set(items) == Set(requiredFiles),
              items.count == requiredFiles.count else { return false }
        return items.allSatisfy { name in
            (try? fm.attributesOfItem(atPath: url.appendingPathComponent(name).path))?[.type] as? FileAttributeType == .typeRegular
        }
    }

    /// Throws unless writing `directory` loses nothing: it is absent or empty, or (with `overwrite`)
    /// a previous export (`isPreviousExport`); and it is none of `protected` nor a folder containing one.
    static func checkDestination(_ directory: URL, overwrite: Bool, protected: [URL]) throws {
        let fm = FileManager.default
        let target = directory.resolvingSymlinksInPath().standardizedFileURL.path
        for url in protected {
            let source = url.resolvingSymlinksInPath().standardizedFileURL.path
            if source == target || source.hasPrefix(target == "/" ? "/" : target + "/") {
                throw ReleaseError.refusedOverwrite(path: directory.path, reason: "it holds \(url.path), the source being exported; choose another --out")
            }
        }
        guard fm.fileExists(atPath: directory.path) || (try? fm.destinationOfSymbolicLink(atPath: directory.path)) != nil else { return }
        if let items = try? fm.contentsOfDirectory(atPath: directory.path), items.isEmpty,
           (try? fm.attributesOfItem(atPath: directory.path))?[.type] as? FileAttributeType == .typeDirectory { return }
        guard overwrite else { throw ReleaseError.destinationExists(directory.path) }
        guard isPreviousExport(directory) else {
            let items = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
            let shown = items.prefix(5).joined(separator: ", ") + (items.count > 5 ? ", … (\(items.count) entries)" : "")
            throw ReleaseError.refusedOverwrite(
                path: directory.path,
                reason: "--overwrite only replaces a previous export (a folder holding exactly \(requiredFiles.joined(separator: ", "))), "
                    + (items.isEmpty ? "and this is not a directory" : "and this one holds \(shown)"))
        }
    }

    /// Writes an official folder at `directory` (created; with `overwrite`, a previous export is replaced):
    /// config.json (the converter's keys and value types), model.safetensors (the model's `network.*` /
    /// `preconditioning.*` state dict plus the four normalisation buffers, floats in `dtype`, bool masks
    /// as bool) and uncond_embedding.npy (float32). Atomic: everything goes into a temporary sibling
    /// directory that is renamed into place at the end, so a reader sees the old folder or the new one.
    ///
    /// Nothing is lost: an existing non-empty `directory` is replaced only with `overwrite` and only when
    /// it is a previous export (`isPreviousExport`: exactly the three files), never when it is or
    /// contains one of `protected` (the source being exported); anything else throws
    /// `ReleaseError.refusedOverwrite` / `.destinationExists` before a byte is written.
    ///
    /// - Parameters:
    ///   - uncondEmbedding: (n, D) or (D,) with D = label_dim; stored as given, in float32.
    ///   - preprocessing / postprocessing: the buffers; by default the official values for config.json.
    @discardableResult
    public static func write(model: MIROModel, config: MIROPipelineConfig, uncondEmbedding: Tensor, to directory: URL,
                             dtype: WeightsDType = .fp32, preprocessing: LatentScaleBias? = nil,
                             postprocessing: LatentScaleBias? = nil, provenance: ReleaseProvenance? = nil,
                             overwrite: Bool = false, protected: [URL] = []) throws -> URL {
        // `.` or `a/..` name their real folder: the staging sibling and the swap need its own name.
        let directory = directory.standardizedFileURL
        guard !directory.lastPathComponent.isEmpty, directory.path != "/" else {
            throw ReleaseError.refusedOverwrite(path: directory.path, reason: "not a folder name")
        }
        try checkDestination(directory, overwrite: overwrite, protected: protected)
        let c = config.completed()
        guard c.network == model.config else {
            throw ReleaseError.unsupported("config.json's network section does not describe the model being written")
        }
        let d = uncondEmbedding.shape
        guard (d.count == 2 && d[0] >= 1 && d[1] == c.network.labelDim) || (d.count == 1 && d[0] == c.network.labelDim) else {
            throw ReleaseError.unsupported("the unconditional embedding has shape \(d); label_dim is \(c.network.labelDim)")
        }
        let pre = try preprocessing ?? LatentScaleBias.official(channelWise: c.dataPreprocessing!.channelWiseNormalisation,
                                                                 modelType: c.dataPreprocessing!.modelType)
        let post = try postprocessing ?? LatentScaleBias.official(channelWise: c.postprocessing!.channelWiseNormalisation,
                                                                   modelType: c.postprocessing!.modelType)
        // extract_inference_state: network.*, preconditioning.*, data_preprocessing.*, postprocessing.* (no vae.*);
        // `v.to(dtype) if v.is_floating_point() else v`
        let tensors = model.stateDict() + (try NormalizationBuffers(preprocessing: pre, postprocessing: post).stateDict())

        let fm = FileManager.default
        let parent = directory.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(directory.lastPathComponent).\(UUID().uuidString).tmp")
        try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        do {
            try TensorFiles.saveSafeTensors(tensors, to: staging.appendingPathComponent(weightsFile), saveAs: dtype.dtype)
            try Data(ReleaseConfigJSON.render(c, provenance: provenance).utf8)
                .write(to: staging.appendingPathComponent(configFile))
            try TensorFiles.saveNPY(uncondEmbedding.to(.float32).contiguous(), to: staging.appendingPathComponent(uncondFile))
            try checkDestination(directory, overwrite: overwrite, protected: protected)  // unchanged while we wrote?
            try replaceDirectory(directory, with: staging)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        return directory
    }

    /// Moves `staging` to `destination`: a plain rename when the destination is absent or an empty
    /// directory, else the old one is renamed aside first and deleted after the swap.
    static func replaceDirectory(_ destination: URL, with staging: URL) throws {
        let fm = FileManager.default
        if rename(staging.path, destination.path) == 0 { return }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: destination.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ReleaseError.badFile(path: destination.path, message: "cannot move the finished folder into place (\(String(cString: strerror(errno))))")
        }
        let aside = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString).old")
        guard rename(destination.path, aside.path) == 0 else {
            throw ReleaseError.badFile(path: destination.path, message: "cannot move the old folder aside (\(String(cString: strerror(errno))))")
        }
        guard rename(staging.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(aside.path, destination.path)
            throw ReleaseError.badFile(path: destination.path, message: "cannot move the finished folder into place (\(reason))")
        }
        try? fm.removeItem(at: aside)
    }
}
