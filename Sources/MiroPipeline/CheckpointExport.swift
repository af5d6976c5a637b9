// Port of stage_checkpoint() in scripts/convert_and_upload_to_hf.py (nicolas-dufour/miro): a training
// checkpoint → the released folder layout, EMA weights as `network.*` (method §9).

import Foundation
import Logging
import MiroData
import MiroEngine
import MiroFormats
import MiroIO
import MiroModels
import MiroNN
import MiroRewards
import MiroShapes

/// Turns a miro-swift training checkpoint (`step-NNNNNNN.safetensors`) into an official folder that
/// `MiroPipeline.from_pretrained` loads: like the official converter, the EMA weights become
/// `network.*` (`raw: true` exports the raw weights instead), the preconditioner and the normalisation
/// buffers are added, and the config is the converter's `config.json`.
public enum CheckpointExport {
    public struct Options: Sendable {
        public var dtype = WeightsDType.fp32
        /// Export the raw training weights instead of the EMA weights.
        public var raw = false
        /// The CFG negative text: required unless the run used the Shapes text encoder.
        public var uncondEmbedding: URL?
        public var overwrite = false
        public init() {}
    }

    public struct Summary: Sendable {
        public var directory: URL
        public var checkpoint: URL
        public var step: Int
        public var weights: String
        public var tensorCount: Int
        public var parameterCount: Int
        public var textEncoder: String
        public var inputChannels: Int
    }

    /// Where to get an unconditional embedding for runs on T5 embeddings.
    public static let uncondHint = "the empty-prompt FLAN-T5-XL embedding, e.g. the miro-t2i wheel's "
        + "miro/assets/flan_t5_xl_uncond.npy (pip download --no-deps miro-t2i==0.1.4, then unzip it) or the "
        + "uncond_embedding.npy of any released folder (huggingface.co/nicolas-dufour/miro)"

    @discardableResult
    public static func export(checkpoint: URL, to directory: URL, options: Options = Options(),
                              logger: Logger = Logger(label: "miro.export")) throws -> Summary {
        let file = try Checkpoint.resolve(checkpoint)
        // Refuse a destination that would destroy the source (or anything but a previous export) before the work.
        try ReleaseFolder.checkDestination(directory.standardizedFileURL, overwrite: options.overwrite, protected: [checkpoint, file])
        let c = try Checkpoint.read(file)
        let run = try RunConfig.decode(c.configJSON, source: file.path)
        let model = try MIROModel(network: run.network, generator: Generator(seed: 0))
        try model.load(c.model, source: file.lastPathComponent)
        // extract_inference_state: ema_network.* → network.* (the released weights are the EMA ones)
        if !options.raw { try model.loadTrainableWeights(c.ema, source: "\(file.path) (EMA)") }
        let shapes = run.textEncoder.name == .shapes

        let uncond: Tensor
        if let url = options.uncondEmbedding {
            var e = try TensorFiles.loadNPY(url)
            if e.rank == 1 { e = try e.unsqueezed(0) }
            guard e.dtype.isFloatingPoint, e.rank == 2, e.size(0) >= 1, e.size(1) == run.network.labelDim else {
                throw InputError("\(url.path): expected a float (n, \(run.network.labelDim)) array for label_dim "
                                 + "\(run.network.labelDim), got \(e.dtype) \(e.shape)")
            }
            uncond = try e.to(.float32)
        } else if shapes {
            // The Shapes encoder's empty prompt is EOS alone: one token, as ShapesPipeline's `.empty` negative.
            let encoder = ShapesTextEncoder(width: run.textEncoder.width, maxTokens: run.textEncoder.maxTokens)
            uncond = try Tensor(Array(encoder.empty.embeddings.prefix(encoder.width)), shape: [1, encoder.width])
        } else {
            throw InputError("the run's text encoder is '\(run.textEncoder.name.rawValue)', so the export needs its unconditional "
                             + "embedding: pass --uncond-embedding with \(uncondHint)")
        }

        // As build_clean_config: sampler_defaults.guidance_scale is the run's guidance (cfg_rate there),
        // num_steps 50. Shapes runs model normalised RGB pixels (no VAE), so the image side is the data
        // side, and prompts have the Shapes encoder's length.
        let config = MIROPipelineConfig(network: run.network, preconditioning: model.preconditioning.config,
                                        guidanceScale: run.train.guidance,
                                        imageResolution: shapes ? run.network.dataSize : nil,
                                        maxTextLength: shapes ? run.textEncoder.maxTokens : 77)
        var provenance = ReleaseProvenance(sourceCheckpoint: file.lastPathComponent, step: c.step,
                                           weights: options.raw ? "raw" : "ema", textEncoder: run.textEncoder.name.rawValue)
        if shapes {
            provenance.textEncoderWidth = run.textEncoder.width
            provenance.textEncoderMaxTokens = run.textEncoder.maxTokens
        }
        if let n = run.normalization {
            provenance.pixelMean = n.mean
            provenance.pixelStd = n.std
            provenance.sigmaData = n.sigmaData
        }
        try ReleaseFolder.write(model: model, config: config, uncondEmbedding: uncond, to: directory, dtype: options.dtype,
                                provenance: provenance, overwrite: options.overwrite, protected: [checkpoint, file])
        let count = model.stateDict().count + 4
        logger.info("exported \(file.lastPathComponent) (step \(c.step), \(options.raw ? "raw" : "EMA") weights) to \(directory.path)")
        return Summary(directory: directory, checkpoint: file, step: c.step, weights: options.raw ? "raw" : "ema",
                       tensorCount: count,
                       parameterCount: model.namedParameters().filter { $0.1.dtype.isFloatingPoint }.reduce(0) { $0 + $1.1.count }, textEncoder: run.textEncoder.name.rawValue,
                       inputChannels: run.network.numInputChannels)
    }
}
