import ArgumentParser
import Foundation
import MiroEngine
import MiroFormats
import MiroNN
import MiroOptim
import MiroRewards

/// `miro bench`: benchmarks, each measuring its reference in the same run (the machine is noisy,
/// so only ratios within a run are meaningful). Without a subcommand it runs `block`, so
/// `miro bench --json --threads 1` keeps its meaning.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: engine throughput (block), full MIRO training steps (train), data loading (data), text to image (pipeline).",
        discussion: "Without a subcommand, runs `block`. See docs/benchmarks.md for measured numbers.",
        // One entry per benchmark, each in a Bench<Name>.swift file.
        subcommands: [BenchBlock.self, BenchTrain.self, BenchData.self, BenchPipeline.self, BenchRewards.self],
        defaultSubcommand: BenchBlock.self)
}

/// `miro bench block [--json]`: raw sgemm throughput and a transformer-block training step, measured
/// side by side in one run.
struct BenchBlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block",
        abstract: "Measure sgemm GFLOP/s and a transformer-block training step (fwd+bwd+AdamW).")

    @Flag(help: "Print one JSON object with sgemm_gflops, block_train_ms, block_train_gflops.")
    var json = false

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var repeats = 5

    @Option(help: "Batch size of the block step.") var batch = 16
    @Option(help: "Tokens per sample.") var tokens = 256
    @Option(help: "Token width.") var dim = 512
    @Option(help: "Attention heads.") var heads = 8
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        try FlagCheck.range(repeats, 1...10_000, "--repeats")
        for (value, flag) in [(batch, "--batch"), (tokens, "--tokens"), (dim, "--dim"), (heads, "--heads")] {
            try FlagCheck.range(value, 1...65_536, flag)
        }
        guard dim % heads == 0 else { throw ValidationError("--dim (\(dim)) must be divisible by --heads (\(heads))") }
        // The activations: batch × tokens × dim floats, and the attention map batch × heads × tokens².
        try FlagCheck.product([batch, tokens, dim], atMost: 1 << 31, "activation elements (--batch × --tokens × --dim)")
        try FlagCheck.product([batch, heads, tokens, tokens], atMost: 1 << 33, "attention elements (--batch × --heads × --tokens²)")
    }

    func run() throws {
        threadOptions.apply()
        let block = try BlockBenchmark(batch: batch, tokens: tokens, dim: dim, heads: heads)
        // sgemm and the block step alternate, so that load from elsewhere hits both alike.
        let m = try block.measureSideBySide(repeats: repeats)
        let (sgemm, step) = (m.sgemmGFLOPs, m.stepSeconds)
        let gflops = block.trainFlops / step / 1e9
        if json {
            let object: [String: Any] = [
                "sgemm_gflops": sgemm, "block_train_ms": step * 1000, "block_train_gflops": gflops,
                "ratio": gflops / sgemm, "forward_ms": m.forwardSeconds * 1000, "backward_ms": m.backwardSeconds * 1000,
                "optimizer_ms": m.optimizerSeconds * 1000, "threads": Engine.threads, "torch": Engine.torchVersion,
                "mkl_feature_dispatch": Engine.mklFeatureDispatch,
                "config": ["batch": batch, "tokens": tokens, "dim": dim, "heads": heads, "repeats": repeats],
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(Engine.summary)
            print(String(format: "sgemm 1024³                 %8.1f GFLOP/s", sgemm))
            print(String(format: "block train step B=%d N=%d D=%d H=%d: %8.1f ms  %8.1f GFLOP/s  (%.0f%% of sgemm)",
                         batch, tokens, dim, heads, step * 1000, gflops, 100 * gflops / sgemm))
            print(String(format: "  forward %.1f ms, backward %.1f ms, AdamW %.1f ms (medians)",
                         m.forwardSeconds * 1000, m.backwardSeconds * 1000, m.optimizerSeconds * 1000))
            if sgemm < 20 {
                print("warning: sgemm is slow; is the reference BLAS in use instead of OpenBLAS? (apt-get install libopenblas0-pthread)")
            }
        }
    }
}

/// One MIRO processing block (RMSNorm, QK-norm attention, SwiGLU) trained with AdamW on random data.
struct BlockBenchmark {
    let block: SelfAttentionBlock
    let optimizer: AdamW
    let input: Tensor
    let target: Tensor
    /// Matrix-multiply FLOPs of forward + backward (backward ≈ 2× forward).
    let trainFlops: Double

    init(batch: Int, tokens: Int, dim: Int, heads: Int) throws {
        Engine.manualSeed(0)
        block = try SelfAttentionBlock(dim: dim, heads: heads)
        optimizer = try AdamW(block.trainableParameters().map { ($0.0, $0.1) }, lr: 1e-4)
        input = try Tensor.randn([batch, tokens, dim])
        target = try Tensor.randn([batch, tokens, dim])
        let (b, n, d) = (Double(batch), Double(tokens), Double(dim))
        let hidden = Double(SwiGLU.hiddenWidth(dim))
        let projections = 2 * b * n * d * (3 * d) + 2 * b * n * d * d   // qkv + out
        let attention = 2 * (2 * b * n * n * d)                           // q·kᵀ and p·v
        let ffn = 2 * b * n * d * (2 * hidden) + 2 * b * n * hidden * d  // packed + out
        trainFlops = 3 * (projections + attention + ffn)
    }

    /// One training step; returns seconds spent in forward, backward and the optimizer.
    @discardableResult
    func step() throws -> (forward: Double, backward: Double, optimizer: Double) {
        try optimizer.zeroGrad()
        var loss: Tensor?
        let f = try seconds { loss = try (block(input) - target).square().mean() }
        let b = try seconds { try loss?.backward() }
        let o = try seconds { try optimizer.step() }
        return (f, b, o)
    }

    /// Medians of sgemm GFLOP/s and seconds per block step, measured alternately after a warm-up.
    func measureSideBySide(repeats: Int, sgemmSize n: Int = 1024) throws -> Measurement {
        let sgemm = try SgemmProbe(size: n)
        try step()
        var gemm: [Double] = [], steps: [Double] = [], parts: [(Double, Double, Double)] = []
        for _ in 0..<repeats {
            for _ in 0..<3 { gemm.append(try sgemm.measure()) }
            let p = try step()
            parts.append(p)
            steps.append(p.0 + p.1 + p.2)
        }
        return Measurement(sgemmGFLOPs: median(gemm), stepSeconds: median(steps), forwardSeconds: median(parts.map(\.0)),
                           backwardSeconds: median(parts.map(\.1)), optimizerSeconds: median(parts.map(\.2)))
    }

    struct Measurement {
        var sgemmGFLOPs, stepSeconds, forwardSeconds, backwardSeconds, optimizerSeconds: Double
    }
}

/// Wall-clock seconds of `body`.
func seconds(_ body: () throws -> Void) throws -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

/// The median of `values` (the upper one for an even count); 0 for none.
func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }

/// GFLOP/s of one n×n×n float32 matrix product, the reference every benchmark measures beside itself.
struct SgemmProbe {
    let a: Tensor, b: Tensor, n: Int

    init(size n: Int = 1024) throws {
        self.n = n
        a = try Tensor.randn([n, n])
        b = try Tensor.randn([n, n])
        _ = try a.matmul(b)
    }

    func measure() throws -> Double {
        2 * Double(n * n * n) / (try seconds { _ = try a.matmul(b) }) / 1e9
    }
}
