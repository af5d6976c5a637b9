import ArgumentParser
import Foundation
import MiroEngine
import MiroEval

/// `miro bench pipeline`: text → image at the released sizes on random weights, stage by stage — FLAN-T5-XL
/// encode of one prompt, the guided MIRO steps, the SDXL-VAE decode of one 256² image — with seconds and the
/// resident memory each stage adds (issue 21). `scripts/bench_official_pipeline.py` runs the same stages
/// through transformers, miro-t2i and diffusers; `scripts/bench-pipeline-vs-pytorch.sh` alternates the two.
struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Time the text-to-image stages (T5-XL encode, guided MIRO steps, SDXL-VAE decode) and their memory.",
        discussion: """
            Full size needs about 7 GB of memory and a few minutes on 2 cores (the weights are random; nothing is \
            read from disk). Memory is the process's resident set (/proc/self/status): each stage's growth and its \
            peak, models kept to the end as in a pipeline. Compare with scripts/bench_official_pipeline.py \
            (same options, same lines) or run scripts/bench-pipeline-vs-pytorch.sh.
            """)

    @Option(help: "Stages to run, in order, comma-separated: t5, miro, vae.") var stages = "t5,miro,vae"
    @Option(help: "Euler steps of the MIRO stage (default 50; tiny: 3).") var steps: Int?
    @Option(help: "Timed T5 encodes, after one untimed (the median is reported; default 3).") var t5Runs: Int?
    @Option(help: "Timed VAE decodes, after one untimed (the median is reported; default 3).") var vaeRuns: Int?
    @Option(help: "Timed sampling runs of --steps steps.") var miroRuns = 1
    @Option(help: "Steps of the untimed sampling run before the timed ones (default 2).") var miroWarmupSteps: Int?
    @Option(help: "Real tokens of the prompt, </s> included, padded to 77 (default 40; tiny: 7 of 12).") var promptTokens: Int?
    @Option(help: "Guidance weight w (the pipeline's default 7).") var guidance = 7.0
    @Flag(help: ArgumentHelp("T5: encode the prompt padded to 77 tokens (MiroPipeline's amount of work) instead of its "
                             + "real tokens only, as `miro sample` does (the same embedding rows).")) var keepPadding = false
    @Option(help: ArgumentHelp("T5 weights: fp32 (as the official pipeline) or bf16 (half the memory; Swift only, "
                               + "the comparison script stays fp32).")) var t5Dtype = "fp32"
    @Option(help: "Sizes: full (the release) or tiny (a seconds-long check of the same code).") var size = "full"
    @Option(help: "Seed of the random weights and inputs.") var seed: UInt64 = 0
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        _ = try parsedStages()
        guard ["fp32", "bf16"].contains(t5Dtype) else { throw ValidationError("--t5-dtype must be fp32 or bf16") }
        guard ["full", "tiny"].contains(size) else { throw ValidationError("--size must be full or tiny") }
        try FlagCheck.range(steps, 1...10_000, "--steps")
        try FlagCheck.range(promptTokens, 1...77, "--prompt-tokens")
        try FlagCheck.range(t5Runs, 1...1_000, "--t5-runs")
        try FlagCheck.range(vaeRuns, 1...1_000, "--vae-runs")
        try FlagCheck.range(miroRuns, 1...1_000, "--miro-runs")
        try FlagCheck.range(miroWarmupSteps, 0...10_000, "--miro-warmup-steps")
        try FlagCheck.range(guidance, 0...100, "--guidance")
    }

    func parsedStages() throws -> [PipelineBenchmark.Stage] {
        let names = stages.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValidationError("--stages names no stage; choose among t5, miro, vae") }
        let parsed = try names.map { name in
            guard let s = PipelineBenchmark.Stage(rawValue: name) else {
                throw ValidationError("--stages: unknown stage '\(name)'; choose among t5, miro, vae")
            }
            return s
        }
        guard Set(parsed).count == parsed.count else { throw ValidationError("--stages names a stage twice: \(stages)") }
        return parsed
    }

    func run() throws {
        let logger = global.makeLogger("miro.bench")
        threadOptions.apply()
        var options: PipelineBenchmark.Options = size == "tiny" ? .tiny : .full
        options.stages = try parsedStages()
        if let steps { options.steps = steps }
        if let t5Runs { options.t5Runs = t5Runs }
        if let vaeRuns { options.vaeRuns = vaeRuns }
        options.miroRuns = miroRuns
        options.t5Precision = t5Dtype == "bf16" ? .bfloat16 : .float32
        if let miroWarmupSteps { options.miroWarmupSteps = miroWarmupSteps }
        options.guidance = guidance
        options.seed = seed
        options.keepTextPadding = keepPadding
        if let promptTokens {
            guard (1...options.maxTextLength).contains(promptTokens) else {
                throw ValidationError("--prompt-tokens must be in 1...\(options.maxTextLength) at this size, got \(promptTokens)")
            }
            options.promptTokens = promptTokens
        }
        let bench = try PipelineBenchmark(options: options, logger: logger)
        if !json {
            print("miro bench pipeline | swift | threads \(Engine.threads) | torch \(Engine.torchVersion) | stages "
                  + options.stages.map(\.rawValue).joined(separator: ",") + " | size \(size)"
                  + Engine.benchHeaderTail)
        }
        let report = try bench.run { result in
            if !json {
                print(result.line)
                fflush(nil)  // progress as it comes, also through a pipe
            }
        }
        if json {
            var object = report.jsonObject(impl: "swift")
            object["size"] = size
            object["text_padding"] = keepPadding ? "kept" : "cut"
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(report.resultLine(impl: "swift"))
        }
        if report.stages.contains(where: { !$0.finite }) {
            throw ValidationError("a stage produced non-finite values (see the lines above)")
        }
    }
}
