import ArgumentParser
import Foundation
import MiroEngine
import MiroModels
import MiroNN
import MiroOptim
import MiroPipeline
import MiroShapes

/// `miro export`: a training checkpoint → the official folder layout (method §9).
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a training checkpoint as an official MIRO folder (config.json, model.safetensors, uncond_embedding.npy).",
        discussion: """
            The folder loads unchanged in the official code (pip install miro-t2i; \
            MiroPipeline.from_pretrained(DIR)) and in `miro sample --checkpoint DIR`. As the official converter \
            does, the EMA weights become network.* (--raw exports the raw training weights), and the SDXL latent \
            normalisation buffers and the converter's config.json are written next to them.

            Shapes-world runs (text encoder "shapes") get the Shapes encoder's empty prompt as their \
            unconditional embedding. Their network models 3-channel normalised RGB pixels, not SDXL latents: the \
            official pipeline loads the folder but its VAE decoding does not apply — images need the Shapes \
            decoder (`miro sample --checkpoint DIR` decodes them with the pixel statistics stored in config.json). \
            Other runs need --uncond-embedding E.npy: \(CheckpointExport.uncondHint).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "A checkpoint file, or a run directory (its newest checkpoint).") var checkpoint: String
    @Option(help: "The folder to write (must not exist or be empty, unless --overwrite).") var out: String
    @Option(help: "Weight precision: fp32 (default, as the released weights), fp16 or bf16.") var dtype = "fp32"
    @Option(help: "The CFG negative text embedding (n, D) or (D,) .npy; required unless the run is a Shapes run.")
    var uncondEmbedding: String?
    @Flag(help: "Export the raw training weights instead of the EMA weights.") var raw = false
    @Flag(help: "Replace a previous export (a folder holding exactly config.json, model.safetensors and uncond_embedding.npy), atomically; any other folder, and the run being exported, is refused.")
    var overwrite = false

    func validate() throws {
        guard WeightsDType(rawValue: dtype) != nil else {
            throw ValidationError("--dtype must be one of \(WeightsDType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(dtype)'")
        }
    }

    func run() throws {
        let logger = global.makeLogger("miro.export")
        var options = CheckpointExport.Options()
        options.dtype = WeightsDType(rawValue: dtype) ?? .fp32
        options.raw = raw
        options.overwrite = overwrite
        options.uncondEmbedding = uncondEmbedding.map { URL(fileURLWithPath: $0) }
        let t0 = Date()
        let s = try CheckpointExport.export(checkpoint: URL(fileURLWithPath: checkpoint), to: URL(fileURLWithPath: out),
                                            options: options, logger: logger)
        print("exported \(s.checkpoint.path) (step \(s.step), \(s.weights == "ema" ? "EMA" : "raw") weights, "
              + "\(s.parameterCount) parameters with the preconditioner, \(s.tensorCount) tensors, \(options.dtype.rawValue)) to \(s.directory.path) "
              + "in \(formatDuration(Date().timeIntervalSince(t0)))")
        print("load it with: MiroPipeline.from_pretrained(\"\(s.directory.path)\")  or  miro sample --checkpoint \(s.directory.path) ...")
        if s.inputChannels != 4 {
            print("note: this network models \(s.inputChannels)-channel pixels (text encoder '\(s.textEncoder)'), not SDXL "
                  + "latents; the official VAE decoding does not apply — images need the Shapes decoder (miro sample).")
        }
    }
}
