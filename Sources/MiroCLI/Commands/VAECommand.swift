import ArgumentParser
import Foundation
import MiroEngine
import MiroImage
import MiroIO
import MiroPipeline
import MiroVAE

/// `miro vae encode|decode`: images ⇄ the SDXL-VAE posterior statistics the enriched shards store.
struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "SDXL VAE: JPEG/PNG images ⇄ latent mean/std .npy (the enriched-shard members).",
        subcommands: [Encode.self, Decode.self])

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encode JPEG/PNG images into <name>.vae_embeddings_mean_<size>.npy and _std_<size>.npy (float16, (4, size/8, size/8) for the SDXL VAE).",
            discussion: """
                As stage `vae` of data/preprocess_data.py: centre crop to a square, resize to --size (Pillow bilinear, \
                byte-identical), [-1, 1], the SDXL VAE's posterior mean and std (exp(0.5·clamp(logvar, -30, 20))), \
                unscaled, cast to float16. The official script runs under bf16 \
                autocast; this computes in float32.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The SDXL VAE: a diffusers folder or one .safetensors file (default: $MIRO_VAE, then the Hugging Face cache).")
        var vae: String?
        @Argument(help: "JPEG or PNG images.") var images: [String]
        @Option(help: "Image side, a multiple of 8 (the shards store 256 and 512).") var size = 256
        @Option(help: "Output directory (created when missing).") var out: String
        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard (8...4096).contains(size), size % 8 == 0 else { throw ValidationError("--size must be a multiple of 8 in 8…4096, got \(size)") }
            guard !images.isEmpty else { throw ValidationError("give JPEG or PNG images") }
            try PathCheck.writable(out, "--out", as: .directory)
        }

        func run() throws {
            let logger = global.makeLogger("miro.vae")
            threadOptions.apply()
            let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            let vaeFolder = try ComponentLocator().locate(.vae, given: vae, checkpoint: here, repo: "stabilityai/sdxl-vae")
            let model = try AutoencoderKL.load(vaeFolder)
            logger.info("VAE \(vaeFolder.path)")
            let outDir = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
            let bar = ProgressBar("encoding", total: images.count)
            let t0 = Date()
            for (i, path) in images.enumerated() {
                let url = URL(fileURLWithPath: path)
                let posterior = try withoutGrad { try model.encode(try ComponentFiles.imageTensor(file: url, size: size)) }
                let name = url.deletingPathExtension().lastPathComponent
                for (what, t) in [("mean", posterior.mean), ("std", posterior.std)] {
                    let file = outDir.appendingPathComponent("\(name).vae_embeddings_\(what)_\(size).npy")
                    try TensorFiles.saveNPY(try t.squeezed(0).to(.float16).contiguous(), to: file)
                    print(file.path)
                }
                bar.update(i + 1)
            }
            bar.finish(suffix: "in \(formatDuration(Date().timeIntervalSince(t0)))")
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode stored latent means (.npy, (4, h, w) or (B, 4, h, w), unscaled as the shards store them) into PNGs.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The SDXL VAE: a diffusers folder or one .safetensors file (default: $MIRO_VAE, then the Hugging Face cache).")
        var vae: String?
        @Argument(help: "Latent .npy files.") var latents: [String]
        @Option(help: "Output directory (created when missing).") var out: String
        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard !latents.isEmpty else { throw ValidationError("give latent .npy files") }
            try PathCheck.writable(out, "--out", as: .directory)
        }

        func run() throws {
            threadOptions.apply()
            let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            let decoder = try VAELatentDecoder(url: try ComponentLocator().locate(.vae, given: vae, checkpoint: here,
                                                                                 repo: "stabilityai/sdxl-vae"))
            let outDir = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
            for path in latents {
                let url = URL(fileURLWithPath: path)
                let z = try ComponentFiles.latentBatch(npy: url)
                let images = try ImageRemap.uint8Images(try withoutGrad { try decoder.decode(z) })
                for (k, image) in images.enumerated() {
                    let file = try OutputFiles.unique(in: outDir, base: "\(url.deletingPathExtension().lastPathComponent).\(k)", ext: "png")
                    try PNG.writeAtomically(try PNG.encode(bytes: image.bytes, width: image.width, height: image.height,
                                                           alpha: false), to: file)
                    print(file.path)
                }
            }
        }
    }
}
