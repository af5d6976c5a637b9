import ArgumentParser
import Foundation
import MiroEngine
import MiroPipeline

/// `miro text-embed`: captions → FLAN-T5-XL embeddings, one `.npy` per prompt, as the official data preparation
/// stores them (stage `vae` of data/preprocess_data.py).
struct TextEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text-embed",
        abstract: "Encode prompts with FLAN-T5-XL into .npy embeddings (the enriched-shard format).",
        discussion: """
            Each prompt is tokenised (truncated at --max-length, 2048 as data/preprocess_data.py), encoded, cut to \
            its real tokens (</s> included) and written as (n_tokens, 2048) float16 — the flan_t5_xl_embeddings.npy \
            members `miro sample --text-embedding` and `miro train --data` read. The official script encodes under \
            bf16 autocast; this computes in float32 before the float16 cast (slightly more precise, not bit-equal).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("The FLAN-T5-XL folder (config.json, weights, tokenizer; default: $MIRO_TEXT_ENCODER, "
            + "then the Hugging Face cache of google/flan-t5-xl)."))
    var textEncoder: String?
    @Argument(help: "Prompts.") var prompts: [String] = []
    @Option(help: "A text file with one prompt per line.") var promptFile: String?
    @Option(help: "Output directory (created when missing).") var out: String
    @Option(help: "Token limit, </s> included (1…65536).") var maxLength = 2048
    @Option(help: "Stored precision: float16 (as the shards) or float32.") var dtype = "float16"
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        try FlagCheck.range(maxLength, 1...65536, "--max-length")
        guard ["float16", "float32"].contains(dtype) else { throw ValidationError("--dtype must be float16 or float32, got '\(dtype)'") }
        guard !prompts.isEmpty || promptFile != nil else { throw ValidationError("give prompts as arguments or --prompt-file") }
        try PathCheck.writable(out, "--out", as: .directory)
    }

    func run() throws {
        let logger = global.makeLogger("miro.text-embed")
        threadOptions.apply()
        var all = prompts
        if let promptFile { all += try PromptFile.read(promptFile) }
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let folder = try ComponentLocator().locate(.textEncoder, given: textEncoder, checkpoint: here, repo: "google/flan-t5-xl")
        let t0 = Date()
        let encoder = try T5PromptEncoder(folder: folder)
        logger.info("text encoder \(folder.path) loaded in \(String(format: "%.1f", Date().timeIntervalSince(t0)))s")
        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        let bar = ProgressBar("encoding", total: all.count)
        for (i, prompt) in all.enumerated() {
            let (embedding, truncated) = try encoder.encode(prompt, maxLength: maxLength)
            if truncated { logger.warning("prompt \(i + 1) cut to \(maxLength) tokens") }
            let url = try OutputFiles.unique(in: outDir, base: OutputFiles.slug(prompt.isEmpty ? "empty" : prompt), ext: "npy")
            try ComponentFiles.writeTextEmbedding(embedding, to: url, dtype: dtype == "float16" ? .float16 : .float32)
            bar.update(i + 1)
            print("\(url.path)  \(embedding.shape)")
        }
        bar.finish(suffix: "in \(formatDuration(Date().timeIntervalSince(t0)))")
    }
}
