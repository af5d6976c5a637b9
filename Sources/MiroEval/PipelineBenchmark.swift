import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MiroEngine
import MiroModels
import MiroNN
import MiroPipeline
import MiroT5
import MiroVAE

/// The three stages of text → image at the released sizes, on random weights, timed one by one with the
/// resident memory each adds (issue 21, `miro bench pipeline`):
///
///     t5    FLAN-T5-XL encoder (1.22 B parameters), one prompt of `promptTokens` real tokens padded to 77
///           with its attention mask, as `MiroPipeline._encode_prompts` tokenises (padding="max_length")
///     miro  the released MIRO network (`MIROConfig.miro`, 360 M) + FlowPrecond, `steps` Euler steps with the
///           pipeline's stacked CFG batch (w = 7, rewards 1 / 0, the empty-prompt embedding as the negative text),
///           B = 1, as `ReleasePipeline.sampler` builds `EulerSampler`
///     vae   SDXL VAE: the latents denormalised (channel-wise, as the release's postprocessing), decoded to a
///           256² image and converted to uint8 (`VAEDecoderPostProcessing` + `remap_image_torch`)
///
/// Each stage builds its model (untimed, but its seconds are reported), runs untimed warm-ups, then the timed runs
/// (the median is the stage's time). Models stay alive to the end, as in a pipeline that holds every component,
/// so the resident memory after the last stage is what the whole fp32 pipeline needs. The stages feed each
/// other (T5 output → MIRO text, MIRO latents → VAE) when they run together; a stage alone gets random inputs
/// of the same shapes. `scripts/bench_official_pipeline.py` runs the same stages through transformers,
/// miro-t2i and diffusers and prints the same lines.
public final class PipelineBenchmark {
    public enum Stage: String, CaseIterable, Sendable, Codable {
        case t5, miro, vae
    }

    /// Sizes and run counts. `full` is the benchmark; `tiny` exercises the same code in a test.
    public struct Options: Sendable {
        public var stages: [Stage] = Stage.allCases
        public var t5: T5Config = .flanT5XL
        /// `.bfloat16` halves the encoder's 4.9 GB (fp32 compute where it matters; `T5Precision`). The official
        /// pipeline and the comparison script use float32.
        public var t5Precision: T5Precision = .float32
        public var network: MIROConfig = .miro
        public var vae: AutoencoderKLConfig = .sdxl
        /// `max_text_len` of the release: the prompt is padded (and its mask) to this length.
        public var maxTextLength = 77
        /// Real tokens of the prompt, `</s>` included (the README's example prompt is 40 FLAN-T5 tokens).
        public var promptTokens = 40
        /// Encode the padded prompt (77 tokens, as `MiroPipeline` does) instead of its real tokens only (as
        /// `T5PromptEncoder` does: the real rows are the same either way).
        public var keepTextPadding = false
        public var steps = 50
        public var guidance = 7.0
        public var t5Runs = 3
        public var vaeRuns = 3
        public var miroRuns = 1
        public var warmupRuns = 1
        /// Steps of the untimed sampling run before the timed ones (the first steps allocate and fault in pages).
        public var miroWarmupSteps = 2
        public var seed: UInt64 = 0

        public init() {}

        /// The released sizes: FLAN-T5-XL, the `miro` network, the SDXL VAE; one 256² image.
        public static var full: Options { Options() }

        /// A few-kilobyte configuration of the same code path (for tests).
        public static var tiny: Options {
            var o = Options()
            var t5 = T5Config()
            t5.vocabSize = 64
            t5.dModel = 32
            t5.dKV = 8
            t5.numHeads = 4
            t5.dFF = 48
            t5.numLayers = 2
            t5.relativeAttentionNumBuckets = 8
            t5.relativeAttentionMaxDistance = 16
            t5.tieWordEmbeddings = false
            try? t5.setFeedForwardProj("gated-gelu")
            o.t5 = t5
            o.network = MIROConfig(
                dataSize: 8, dataDim: 16, numInputChannels: 4, numLatents: 8, latentsDim: 32, labelDim: 32,
                numCondTokens: 16, numProcessingLayers: 1, numBlocks: 1, patchSize: 2, readWriteHeads: 2, computeHeads: 2,
                latentMLPMultiplier: 2, dataMLPMultiplier: 2, numTextRegisters: 2, coherenceKeys: MIROConfig.releasedRewardKeys)
            o.vae = AutoencoderKLConfig(
                downBlockTypes: ["DownEncoderBlock2D", "DownEncoderBlock2D"], upBlockTypes: ["UpDecoderBlock2D", "UpDecoderBlock2D"],
                blockOutChannels: [16, 32], layersPerBlock: 1, normNumGroups: 8, sampleSize: [16], scalingFactor: 0.13025)
            o.maxTextLength = 12
            o.promptTokens = 7
            o.steps = 3
            o.t5Runs = 2
            o.vaeRuns = 2
            o.miroWarmupSteps = 1
            return o
        }

        func validate() throws {
            guard !stages.isEmpty else { throw InputError("no stage to run; choose among t5, miro, vae") }
            guard Set(stages).count == stages.count else { throw InputError("a stage is named twice in \(stages.map(\.rawValue))") }
            guard (1...maxTextLength).contains(promptTokens) else {
                throw InputError("prompt tokens must be in 1...\(maxTextLength) (the padded length), got \(promptTokens)")
            }
            for (name, v) in [("steps", steps), ("t5 runs", t5Runs), ("vae runs", vaeRuns), ("miro runs", miroRuns)] where v < 1 {
                throw InputError("\(name) must be at least 1, got \(v)")
            }
            guard warmupRuns >= 0, miroWarmupSteps >= 0 else { throw InputError("warm-up counts must not be negative") }
            guard network.labelDim == t5.dModel else {
                throw InputError("the network's label_dim \(network.labelDim) must equal the T5 width d_model \(t5.dModel)")
            }
            guard network.numInputChannels == vae.latentChannels else {
                throw InputError("the network's \(network.numInputChannels) channels must equal the VAE's \(vae.latentChannels) latent channels")
            }
            try SamplingChecks.guidance(guidance)
        }
    }

    /// One stage's measurement. Memory in MiB of resident set (VmRSS / VmHWM of /proc/self/status).
    public struct StageResult: Sendable {
        public var stage: Stage
        /// What ran, in words (model, parameters, input shape).
        public var detail: String
        public var parameters: Int
        public var buildSeconds: Double
        public var warmupSeconds: Double
        /// Every timed run, in order.
        public var runs: [Double]
        /// The upper median of `runs`, as the other benchmarks report.
        public var seconds: Double { upperMedian(runs) }
        /// For `miro`: the sampling steps of one run (seconds / steps is the time per step).
        public var steps: Int?
        public var rssBeforeMB: Double
        public var rssAfterMB: Double
        /// The highest resident set while the stage built and ran (the process peak so far when the kernel
        /// cannot reset it: see `peakIsPerStage`).
        public var peakMB: Double
        /// Freed memory the C allocator still holds after the stage (part of the resident set; glibc's
        /// mallinfo2 `fordblks`; the CLI lets glibc keep up to 1 GB of it, `Engine.keepFreedMemory`).
        public var heapFreeMB: Double = 0
        public var rssGrowthMB: Double { rssAfterMB - rssBeforeMB }
        public var peakGrowthMB: Double { peakMB - rssBeforeMB }
        /// Whether a finite output came out (random weights must still give numbers).
        public var finite: Bool
    }

    public struct Report: Sendable {
        public var stages: [StageResult]
        /// The process's highest resident set over the whole run.
        public var peakMB: Double
        /// True when /proc/self/clear_refs reset the high-water mark at each stage's start.
        public var peakIsPerStage: Bool
        public var threads: Int
        public var torchVersion: String
    }

    public let options: Options
    let logger: Logger
    /// Models are kept here so that the memory of every stage stays resident to the end.
    private var keep: [AnyObject] = []

    public init(options: Options, logger: Logger) throws {
        try options.validate()
        self.options = options
        self.logger = logger
    }

    /// Runs the stages in order; `progress` sees each result as it is measured.
    public func run(progress: ((StageResult) throws -> Void)? = nil) throws -> Report {
        var results: [StageResult] = []
        var processPeak = ResidentMemory.read().peakMB
        var perStage = true
        var text: (embedding: Tensor, mask: Tensor, uncond: Tensor)? = nil
        var latents: Tensor? = nil
        for stage in options.stages {
            let before = ResidentMemory.read()
            processPeak = max(processPeak, before.peakMB)
            perStage = ResidentMemory.resetPeak() && perStage
            var result: StageResult
            switch stage {
            case .t5:
                let (r, out) = try runT5()
                result = r
                text = out
            case .miro:
                let (r, out) = try runMIRO(text: text)
                result = r
                latents = out
            case .vae:
                result = try runVAE(latents: latents)
            }
            let after = ResidentMemory.read()
            result.rssBeforeMB = before.rssMB
            result.rssAfterMB = after.rssMB
            result.peakMB = after.peakMB
            result.heapFreeMB = ResidentMemory.heapFreeMB()
            processPeak = max(processPeak, after.peakMB)
            logger.debug("pipeline benchmark: \(stage.rawValue) done, RSS \(after.rssMB) MB, peak \(after.peakMB) MB")
            try progress?(result)
            results.append(result)
        }
        return Report(stages: results, peakMB: processPeak, peakIsPerStage: perStage, threads: Engine.threads,
                      torchVersion: Engine.torchVersion)
    }

    // MARK: Stages

    /// The prompt's ids: `promptTokens − 1` fixed pseudo-random pieces, `</s>` (1), then pad (0) to
    /// `maxTextLength`; mask 1 on the real tokens. id_i = 3 + (7919·(i+1) mod (vocab − 131)) keeps clear of
    /// the special ids and the 100 sentinels; the Python benchmark uses the same rule.
    public static func promptIDs(realTokens n: Int, length: Int, vocabSize: Int) -> (ids: [Int64], mask: [Int64]) {
        let span = max(1, vocabSize - 131)
        var ids = (0..<(n - 1)).map { Int64(3 + (7919 * ($0 + 1)) % span) }
        ids.append(1)
        let mask = Array(repeating: Int64(1), count: ids.count) + Array(repeating: Int64(0), count: length - ids.count)
        ids += Array(repeating: Int64(0), count: length - ids.count)
        return (ids, mask)
    }

    private func runT5() throws -> (StageResult, (Tensor, Tensor, Tensor)) {
        let o = options
        var encoder: T5Encoder?
        let build = try elapsed { encoder = try T5Encoder.random(config: o.t5, dtype: o.t5Precision, seed: o.seed) }
        guard let encoder else { throw InputError("the T5 encoder was not built") }
        keep.append(encoder)
        let prompt = Self.promptIDs(realTokens: o.promptTokens, length: o.maxTextLength, vocabSize: o.t5.vocabSize)
        let length = o.keepTextPadding ? o.maxTextLength : o.promptTokens
        let ids = try Tensor(Array(prompt.ids.prefix(length)), shape: [1, length])
        let mask = try Tensor(Array(prompt.mask.prefix(length)), shape: [1, length])
        var out: Tensor?
        let (warmup, runs) = try timed(warmups: o.warmupRuns, runs: o.t5Runs) { out = try encoder(ids: ids, mask: mask) }
        guard let embedding = out else { throw InputError("the T5 encoder gave no output") }
        // The negative branch's text: the encoding of the empty prompt, i.e. of `</s>` alone (1 × d_model, as the
        // released uncond_embedding.npy).
        let uncond = try encoder(ids: Tensor([Int64(1)], shape: [1, 1])).squeezed(0)
        var detail = String(format: "T5 encoder d_model %d, %d layers, %@ | 1×%d tokens (%d real%@)", o.t5.dModel, o.t5.numLayers,
                            millions(encoder.uniqueParameterCount), length, o.promptTokens,
                            o.keepTextPadding ? ", padding kept" : ", padding cut" as NSString)
        if o.t5Precision != .float32 { detail += " | weights \(o.t5Precision.rawValue)" }
        let result = StageResult(stage: .t5, detail: detail, parameters: encoder.uniqueParameterCount, buildSeconds: build,
                                 warmupSeconds: warmup, runs: runs, steps: nil, rssBeforeMB: 0, rssAfterMB: 0, peakMB: 0,
                                 finite: try allFinite(embedding))
        return (result, (embedding, try mask.to(.bool), uncond))
    }

    private func runMIRO(text: (embedding: Tensor, mask: Tensor, uncond: Tensor)?) throws -> (StageResult, Tensor) {
        let o = options
        let c = o.network
        var model: MIROModel?
        let build = try elapsed {
            model = try MIROModel(network: c, generator: Generator(seed: o.seed &+ 1))
        }
        guard let model else { throw InputError("the MIRO model was not built") }
        model.eval()
        try model.freeze()
        keep.append(model)
        let inputs = try Generator(seed: o.seed &+ 2)
        let prompt: (embedding: Tensor, mask: Tensor, uncond: Tensor)
        if let text {
            prompt = text
        } else {
            // T5-like tokens of the same shapes: (1, L, D), zero past the real tokens, mask on the real ones.
            let ids = Self.promptIDs(realTokens: o.promptTokens, length: o.maxTextLength, vocabSize: o.t5.vocabSize)
            let mask = try Tensor(ids.mask.map { $0 != 0 }, shape: [1, o.maxTextLength])
            let e = try Tensor.randn([1, o.maxTextLength, c.labelDim], generator: inputs) * 0.2
                * mask.unsqueezed(-1).to(.float32)
            prompt = (e, mask, try Tensor.randn([1, c.labelDim], generator: inputs) * 0.2)
        }
        // ReleasePipeline.sampler: x_N ~ N(0, 1); negative = uncond (1, n_u, D) with an all-true mask.
        let noise = try Tensor.randn([1, c.numInputChannels, c.dataSize, c.dataSize], generator: inputs)
        let negative = try prompt.uncond.unsqueezed(0)
        let negativeMask = try Tensor.ones([1, negative.size(1)], dtype: .bool)
        func sampler(steps: Int) throws -> EulerSampler {
            try EulerSampler(model: model, noise: noise, text: prompt.embedding, textMask: prompt.mask,
                             negativeText: negative, negativeTextMask: negativeMask, steps: steps,
                             guidanceScale: o.guidance, scheduler: LinearScheduler())
        }
        var out: Tensor?
        var warmup = 0.0
        if o.miroWarmupSteps > 0 {
            warmup = try elapsed { _ = try withoutGrad { try sampler(steps: o.miroWarmupSteps).run() } }
        }
        // The sampler is built inside the timed region: it computes the condition tokens once per sampling run.
        let (_, runs) = try timed(warmups: 0, runs: o.miroRuns) {
            out = try withoutGrad { try sampler(steps: o.steps).run().to(.float32) }
        }
        guard let latents = out else { throw InputError("the sampler gave no output") }
        let params = model.namedParameters().reduce(0) { $0 + $1.1.count }
        let detail = String(format: "MIRO latents_dim %d, %d blocks, %@ | %d steps, CFG w %.1f (batch 2), text %d/%d tokens",
                            c.latentsDim, c.numBlocks, millions(params), o.steps, o.guidance, o.promptTokens, o.maxTextLength)
        let result = StageResult(stage: .miro, detail: detail, parameters: params, buildSeconds: build, warmupSeconds: warmup,
                                 runs: runs, steps: o.steps, rssBeforeMB: 0, rssAfterMB: 0, peakMB: 0,
                                 finite: try allFinite(latents))
        return (result, latents)
    }

    private func runVAE(latents: Tensor?) throws -> StageResult {
        let o = options
        var vae: AutoencoderKL?
        let build = try elapsed {
            let model = try AutoencoderKL(config: o.vae)
            try Self.randomize(model, generator: Generator(seed: o.seed &+ 3))
            vae = model
        }
        guard let vae else { throw InputError("the VAE was not built") }
        keep.append(vae)
        let side = o.network.dataSize
        let x = try latents ?? Tensor.randn([1, o.vae.latentChannels, side, side], generator: Generator(seed: o.seed &+ 4))
        let normalization = LatentNormalization.sdxl(channelWise: true)
        var out: Tensor?
        let (warmup, runs) = try timed(warmups: o.warmupRuns, runs: o.vaeRuns) {
            out = try withoutGrad { try VAEImages.toUInt8(vae.decode(normalization.denormalize(x))) }
        }
        guard let images = out else { throw InputError("the VAE gave no output") }
        let params = vae.namedParameters().reduce(0) { $0 + $1.1.count }
        let detail = String(format: "AutoencoderKL blocks %@, %@ | 1×%d×%d×%d latent → %@ uint8", "\(o.vae.blockOutChannels)",
                            millions(params), o.vae.latentChannels, side, side, "\(images.shape)")
        return StageResult(stage: .vae, detail: detail, parameters: params, buildSeconds: build, warmupSeconds: warmup,
                           runs: runs, steps: nil, rssBeforeMB: 0, rssAfterMB: 0, peakMB: 0, finite: true)
    }

    /// Fan-in-scaled normal weights, norm weights 1, biases 0 (the VAE's constructor leaves them uninitialised):
    /// activations stay finite and O(1), so no denormal or NaN slows a kernel down.
    public static func randomize(_ module: Module, generator: Generator) throws {
        try withoutGrad {
            for (key, p) in module.namedParameters() {
                if p.rank >= 2 {
                    try p.normal_(std: 1 / Double(max(1, p.count / max(1, p.size(0)))).squareRoot(), generator: generator)
                } else if key.hasSuffix(".weight") {
                    try p.fill_(1)
                } else {
                    try p.zero_()
                }
            }
        }
    }

    // MARK: Helpers

    /// Seconds of the warm-up runs together, and of each timed run.
    private func timed(warmups: Int, runs: Int, _ body: () throws -> Void) throws -> (Double, [Double]) {
        var warm = 0.0
        for _ in 0..<warmups { warm += try elapsed(body) }
        var times: [Double] = []
        for _ in 0..<runs { times.append(try elapsed(body)) }
        return (warm, times)
    }

    private func allFinite(_ t: Tensor) throws -> Bool { try t.isFinite().all().item() != 0 }

    private func millions(_ n: Int) -> String { String(format: "%.2fM params", Double(n) / 1e6) }
}

/// Wall-clock seconds of `body` (also the reward benchmark's clock).
func elapsed(_ body: () throws -> Void) throws -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

/// The upper median (the benchmarks' convention, also in the Python scripts); 0 for none.
func upperMedian(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }

/// The resident set of this process, from /proc/self/status (Linux; zeros elsewhere).
public enum ResidentMemory {
    public struct Sample: Sendable {
        /// VmRSS and VmHWM in MiB.
        public var rssMB: Double
        public var peakMB: Double
    }

    public static func read() -> Sample {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return Sample(rssMB: 0, peakMB: 0)
        }
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                  let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Double($0) })
            else { return 0 }
            return kb / 1024
        }
        return Sample(rssMB: field("VmRSS"), peakMB: field("VmHWM"))
    }

    /// Free bytes held by glibc's malloc in all its arenas (MiB); 0 where that is not known. From `malloc_info`'s
    /// closing totals (`<total type="fast" …>` + `<total type="rest" …>`), looked up at run time: malloc.h is not in
    /// Swift's Glibc module.
    public static func heapFreeMB() -> Double {
        #if canImport(Glibc)
        typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return 0 }
        let mallocInfo = unsafeBitCast(symbol, to: MallocInfo.self)
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else { return 0 }
        let status = mallocInfo(0, stream)
        fclose(stream)
        defer { free(buffer) }
        guard status == 0, let buffer else { return 0 }
        let xml = String(cString: buffer)
        // The last "fast" and "rest" totals are the process-wide ones (each heap section has its own first).
        func lastTotal(_ type: String) -> Double {
            guard let line = xml.split(separator: "\n").last(where: { $0.contains("<total type=\"\(type)\"") }),
                  let range = line.range(of: "size=\"") else { return 0 }
            return Double(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return (lastTotal("fast") + lastTotal("rest")) / 1_048_576
        #else
        return 0
        #endif
    }

    /// Resets VmHWM to the current resident set (writing "5" to /proc/self/clear_refs, Linux ≥ 4.0), so that the
    /// next `read()` gives the peak since now. False when the kernel refused.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: Data("5".utf8))
            return true
        } catch {
            return false
        }
    }
}

// MARK: - Output (the same lines and JSON keys as scripts/bench_official_pipeline.py)

extension PipelineBenchmark.StageResult {
    /// `stage | t5 | … | median 2.910 s | RSS +4912 MB (4950 after) | peak 5010 MB (+4960)`.
    public var line: String {
        let runList = runs.map { String(format: "%.3f", $0) }.joined(separator: ", ")
        var s = String(format: "stage | %@ | %@ | build %.1f s | warm-up %.1f s | runs %@ s | median %.3f s",
                       stage.rawValue, detail, buildSeconds, warmupSeconds, runList, seconds)
        if let steps { s += String(format: " (%.3f s/step)", seconds / Double(steps)) }
        s += String(format: " | RSS %+.0f MB (%.0f after, %.0f of it freed heap) | peak %.0f MB (%+.0f)%@", rssGrowthMB,
                    rssAfterMB, heapFreeMB, peakMB, peakGrowthMB, finite ? "" : " | NON-FINITE OUTPUT")
        return s
    }

    public var jsonObject: [String: Any] {
        var o: [String: Any] = [
            "detail": detail, "params": parameters, "build_seconds": buildSeconds, "warmup_seconds": warmupSeconds,
            "runs": runs, "seconds": seconds, "rss_before_mb": rssBeforeMB, "rss_after_mb": rssAfterMB,
            "rss_growth_mb": rssGrowthMB, "peak_mb": peakMB, "heap_free_mb": heapFreeMB, "peak_growth_mb": peakGrowthMB, "finite": finite,
        ]
        if let steps {
            o["steps"] = steps
            o["seconds_per_step"] = seconds / Double(steps)
        }
        return o
    }
}

extension PipelineBenchmark.Report {
    public func header(impl: String) -> String {
        "miro bench pipeline | \(impl) | threads \(threads) | torch \(torchVersion) | stages "
            + stages.map(\.stage.rawValue).joined(separator: ",")
    }

    /// `result | swift | t5 2.910 s | miro 80.200 s | vae 3.500 s | peak RSS 6800 MB`.
    public func resultLine(impl: String) -> String {
        let parts = stages.map { String(format: "%@ %.3f s", $0.stage.rawValue, $0.seconds) }
        return "result | \(impl) | " + parts.joined(separator: " | ")
            + String(format: " | peak RSS %.0f MB%@", peakMB, peakIsPerStage ? "" : " (stage peaks are process peaks so far)")
    }

    public func jsonObject(impl: String) -> [String: Any] {
        [
            "impl": impl, "threads": threads, "torch": torchVersion, "peak_rss_mb": peakMB,
            "peak_is_per_stage": peakIsPerStage,
            "stages": Dictionary(uniqueKeysWithValues: stages.map { ($0.stage.rawValue, $0.jsonObject) }),
            "order": stages.map(\.stage.rawValue),
        ]
    }
}
