import ArgumentParser
import Foundation
import MiroEngine
import MiroEval

/// `miro bench rewards`: images/s of each reward model at full size with random weights (issue 22).
/// `scripts/bench_official_rewards.py` times the reference implementations on the same inputs;
/// `scripts/bench-rewards-vs-pytorch.sh` alternates the two.
struct BenchRewards: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewards",
        abstract: "Time the reward models (CLIP-L/14 + aesthetic MLP, CLIP-H/14 for PickScore/SciScore and HPSv2, ImageReward).",
        discussion: """
            Each model is built with random weights (nothing is read from disk), scores one untimed batch of \
            --batch preprocessed 224² images with captions of --caption-tokens tokens, then --runs timed ones; \
            images/s = batch / median seconds. Full size needs about 5 GB of memory (ViT-H/14) and a few minutes on \
            2 cores. Compare with scripts/bench_official_rewards.py (same options, same lines).
            """)

    @Option(help: "Comma-separated rewards: \(RewardBenchmark.rewards.joined(separator: ", ")).")
    var rewards = RewardBenchmark.rewards.joined(separator: ",")
    @Option(help: "Images per batch (1…256).") var batch = 4
    @Option(help: "Timed batches after one untimed (1…100).") var runs = 2
    @Option(help: "Tokens per caption, start and end included (3…35).") var captionTokens = 20
    @Option(help: "Sizes: full (the released models) or tiny (a seconds-long check of the same code).") var size = "full"
    @Option(help: "Seed of the random weights and inputs.") var seed: UInt64 = 0
    @OptionGroup var threadOptions: ThreadOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @OptionGroup var global: GlobalOptions

    func options() throws -> RewardBenchmark.Options {
        var o = RewardBenchmark.Options()
        o.rewards = rewards.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !o.rewards.isEmpty, Set(o.rewards).count == o.rewards.count else {
            throw ValidationError("--rewards: distinct names among \(RewardBenchmark.rewards.joined(separator: ", "))")
        }
        o.batch = batch
        o.runs = runs
        o.captionTokens = captionTokens
        o.tiny = size == "tiny"
        o.seed = seed
        return o
    }

    func validate() throws {
        guard ["full", "tiny"].contains(size) else { throw ValidationError("--size must be full or tiny") }
        try FlagCheck.range(batch, 1...256, "--batch")
        try FlagCheck.range(runs, 1...100, "--runs")
        try FlagCheck.range(captionTokens, 3...35, "--caption-tokens")
        _ = try FlagCheck.usage { try RewardBenchmark(options: try options()) }
    }

    func run() throws {
        threadOptions.apply()
        let bench = try RewardBenchmark(options: try options())
        if !json {
            print("miro bench rewards | swift | threads \(Engine.threads) | torch \(Engine.torchVersion) | batch \(batch) | size \(size)"
                  + Engine.benchHeaderTail)
        }
        let results = try bench.run { r in
            guard !json else { return }
            print(r.reward.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " %7.2f images/s | batch %d in %.3f s (runs %@) | %.1fM params | %@",
                         r.imagesPerSecond, r.batch, r.seconds, r.runs.map { String(format: "%.3f", $0) }.joined(separator: ", ") as NSString,
                         Double(r.parameters) / 1e6, r.detail as NSString))
            fflush(nil)
        }
        if json {
            var rewards: [String: Any] = [:]
            for r in results {
                rewards[r.reward] = ["seconds": r.seconds, "runs": r.runs, "warmup_seconds": r.warmupSeconds,
                                     "build_seconds": r.buildSeconds, "parameters": r.parameters,
                                     "images_per_second": r.imagesPerSecond, "detail": r.detail, "finite": r.finite,
                                     "batch": r.batch]
            }
            let object: [String: Any] = ["impl": "swift", "threads": Engine.threads, "torch": Engine.torchVersion, "batch": batch,
                                         "size": size, "rewards": rewards, "order": results.map(\.reward)]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
        if results.contains(where: { !$0.finite }) {
            throw ValidationError("a reward gave non-finite scores (see the lines above)")
        }
    }
}
