import ArgumentParser
import Foundation
import MiroEngine
import MiroEval
import MiroModels
import MiroOptim
import MiroPipeline
import MiroTraining

/// `miro bench train`: full MIRO training steps of a preset on synthetic data with the real-data
/// geometry (4×32×32 latents, T5 text (B, 256, 2048) with 30–80 real tokens, 7 rewards): the loss with
/// its self-conditioning pass, backward, NaN guard, clip, LAMB and EMA, as `Trainer.trainStep`.
/// `scripts/bench_official_train_step.py` times the official PyTorch step the same way and prints
/// the same lines, so the two can be compared (docs/benchmarks.md).
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time full MIRO training steps (loss + self-conditioning, backward, clip, LAMB, EMA).",
        discussion: """
            Synthetic batch with the real-data geometry; 1024³ sgemm is measured between steps as the \
            machine's reference. FLOPs count matrix products only: self-conditioning forward + forward \
            + backward (2× forward). Compare with scripts/bench_official_train_step.py (same options).
            """)

    @Option(help: "Model preset: tiny, small or miro (the released 360M architecture).") var preset = "small"
    @Option(help: "Batch size.") var batch = 8
    @Option(help: "Timed steps (the median is reported).") var steps = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Option(help: "Padded text tokens per sample.") var textTokens = 256
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var batchSplitOptions: BatchSplitOptions
    @Option(help: "Seed of the weights and the synthetic batch.") var seed: UInt64 = 0
    @Option(help: "Arithmetic: fp32 or bf16-mixed (as `miro train --precision`).") var precision = Precision.fp32
    @Flag(help: ArgumentHelp("Keep the text padding (the official step's amount of work) instead of cutting it after the "
                             + "batch's longest caption, as training does.")) var keepPadding = false
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Flag(help: .hidden) var lockstep = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard Self.network(preset) != nil else { throw ValidationError("--preset must be tiny, small or miro") }
        try FlagCheck.range(batch, 1...4_096, "--batch")
        try FlagCheck.range(steps, 1...10_000, "--steps")
        try FlagCheck.range(warmup, 0...10_000, "--warmup")
        try FlagCheck.range(textTokens, 80...4_096, "--text-tokens", unit: " (up to 80 are real)")
    }

    /// The benchmarked architectures, with the real data's widths (SDXL latents, FLAN-T5-XL, 7 rewards).
    static func network(_ preset: String) -> MIROConfig? {
        switch preset {
        case "tiny": MIROConfig.tiny(rewardKeys: MIROConfig.releasedRewardKeys, inputChannels: 4, labelDim: 2048)
        case "small": MIROConfig.small
        case "miro": MIROConfig.miro
        default: nil
        }
    }

    func run() throws {
        let logger = global.makeLogger("miro.bench")
        threadOptions.apply()
        guard let network = Self.network(preset) else { throw ValidationError("unknown preset \(preset)") }
        let geometry = TrainStepBenchmark.Geometry(batchSize: batch, textTokens: textTokens)
        var train = TrainConfig.benchmark
        train.precision = precision
        let bench = try TrainStepBenchmark(network: network, geometry: geometry, train: train, seed: seed, logger: logger)
        bench.trainStep.trimsTextPadding = !keepPadding
        bench.trainStep.batchSplits = batchSplitOptions.value
        let sgemm = try SgemmProbe()
        let header = String(format: "miro bench train | swift | preset %@ | %.2fM params | batch %d | text %d tokens "
                            + "(%d-%d real%@) | %d rewards | %@ | threads %d, batch in %d part(s) | libtorch %@%@",
                            preset, Double(bench.parameterCount) / 1e6, batch, textTokens,
                            geometry.realTokens.lowerBound, geometry.realTokens.upperBound,
                            keepPadding ? ", padding kept" : ", padding cut", network.numRewards,
                            precision.rawValue, Engine.threads, bench.trainStep.batchSplits, Engine.torchVersion,
                            Engine.benchHeaderTail)
        let quiet = json || lockstep  // lockstep: standard output carries the protocol only
        if !quiet { print(header) }

        for i in 0..<warmup {
            let t = try bench.runStep()
            if !quiet { print(String(format: "warmup %d: %.1f ms", i + 1, t.total * 1000)) }
        }
        if lockstep { return try runLockstep(bench) }
        // steps and sgemm alternate, so that load from elsewhere hits both alike
        var timings: [TrainStepBenchmark.StepTiming] = [], gemm: [Double] = []
        for i in 0..<steps {
            for _ in 0..<3 { gemm.append(try sgemm.measure()) }
            let t = try bench.runStep()
            timings.append(t)
            if !json {
                print(String(format: "step %d: %.1f ms (forward %.1f, backward %.1f, optimizer %.1f, ema %.1f) loss %.4f",
                             i + 1, t.total * 1000, t.forward * 1000, t.backward * 1000, t.optimizer * 1000,
                             t.ema * 1000, t.loss))
            }
        }

        let totals = timings.map(\.total)
        let step = median(totals), gemmMedian = median(gemm)
        let flops = bench.trainFlopsPerStep
        let gflops = flops / step / 1e9
        let result = BenchTrainResult(
            impl: "swift", preset: preset, batch: batch, textTokens: textTokens, threads: Engine.threads,
            params: bench.parameterCount, stepMs: step * 1000, stepMsMin: (totals.min() ?? 0) * 1000,
            stepMsMax: (totals.max() ?? 0) * 1000, samplesPerSecond: Double(batch) / step, gflopPerStep: flops / 1e9,
            gflops: gflops, sgemmGflops: gemmMedian, forwardMs: median(timings.map(\.forward)) * 1000,
            backwardMs: median(timings.map(\.backward)) * 1000, optimizerMs: median(timings.map(\.optimizer)) * 1000,
            emaMs: median(timings.map(\.ema)) * 1000)
        if json {
            var object = result.dictionary
            object["torch"] = Engine.torchVersion
            object["mkl_feature_dispatch"] = Engine.mklFeatureDispatch
            object["warmup"] = warmup
            object["steps"] = steps
            object["step_ms_all"] = totals.map { $0 * 1000 }
            object["real_tokens"] = [geometry.realTokens.lowerBound, geometry.realTokens.upperBound]
            object["rewards"] = network.numRewards
            object["precision"] = precision.rawValue
            object["text_padding"] = keepPadding ? "kept" : "cut"
            object["batch_splits"] = bench.trainStep.batchSplits
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for line in result.lines { print(line) }
            if gemmMedian < 20 {
                print("warning: sgemm is slow; is the reference BLAS in use instead of OpenBLAS? (apt-get install libopenblas0-pthread)")
            }
        }
    }
}

extension BenchTrain {
    /// `--lockstep` (used by scripts/bench_official_train_step.py --lockstep-swift): after the
    /// warm-up, print `{"ready": …}`, then run one step per `step` line read from standard input
    /// and answer each with one JSON line of phase timings, until `quit` or end of input. The
    /// Python script alternates these steps with its own, so load from elsewhere hits both alike.
    func runLockstep(_ bench: TrainStepBenchmark) throws {
        func emit(_ object: [String: Any]) throws {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            fflush(nil)  // all streams (naming `stdout` is not concurrency-safe in Swift 6)
        }
        try emit(["ready": true, "params": bench.parameterCount, "gflop_per_step": bench.trainFlopsPerStep / 1e9,
                  "threads": Engine.threads, "batch_splits": bench.trainStep.batchSplits, "torch": Engine.torchVersion,
                  "precision": precision.rawValue,
                  "mkl_feature_dispatch": Engine.mklFeatureDispatch,
                  "text_padding": keepPadding ? "kept" : "cut"])
        while let line = readLine(), line != "quit" {
            guard line == "step" else { throw ValidationError("lockstep: expected 'step' or 'quit', got '\(line)'") }
            let t = try bench.runStep()
            try emit(["total_ms": t.total * 1000, "forward_ms": t.forward * 1000, "backward_ms": t.backward * 1000,
                      "optimizer_ms": t.optimizer * 1000, "ema_ms": t.ema * 1000, "loss": t.loss])
        }
    }
}

/// The summary both train-step benchmarks print (the Python script writes the same lines and keys).
struct BenchTrainResult {
    var impl, preset: String
    var batch, textTokens, threads, params: Int
    var stepMs, stepMsMin, stepMsMax, samplesPerSecond, gflopPerStep, gflops, sgemmGflops: Double
    var forwardMs, backwardMs, optimizerMs, emaMs: Double

    /// `result | swift | small | batch 8 | threads 1 | 1234.5 ms/step (min …, max …) | 6.48 samples/s | …`
    var lines: [String] {
        [
            String(format: "result | %@ | %@ | batch %d | threads %d | %.1f ms/step (min %.1f, max %.1f) | %.2f samples/s "
                   + "| %.1f GFLOP/s (%.1f GFLOP/step) | sgemm %.1f GFLOP/s | ratio %.3f",
                   impl, preset, batch, threads, stepMs, stepMsMin, stepMsMax, samplesPerSecond, gflops, gflopPerStep,
                   sgemmGflops, gflops / sgemmGflops),
            String(format: "phases (medians) | forward %.1f ms | backward %.1f ms | optimizer %.1f ms | ema %.1f ms",
                   forwardMs, backwardMs, optimizerMs, emaMs),
        ]
    }

    var dictionary: [String: Any] {
        [
            "impl": impl, "preset": preset, "batch": batch, "text_tokens": textTokens, "threads": threads,
            "params": params, "step_ms": stepMs, "step_ms_min": stepMsMin, "step_ms_max": stepMsMax,
            "samples_per_s": samplesPerSecond, "gflop_per_step": gflopPerStep, "gflops": gflops,
            "sgemm_gflops": sgemmGflops, "ratio": gflops / sgemmGflops, "forward_ms": forwardMs,
            "backward_ms": backwardMs, "optimizer_ms": optimizerMs, "ema_ms": emaMs,
        ]
    }
}
