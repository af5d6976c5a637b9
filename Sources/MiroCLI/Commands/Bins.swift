import ArgumentParser
import Foundation
import MiroData

/// `miro bins ROOT`: the reward bins cache of a directory of enriched shards, as
/// miro/scripts/build_coherence_bins_cache.py builds it (method §4.1): same record sampling, same
/// edges, same file name and JSON.
struct Bins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the reward bins cache (coherence_bins_64_bins_….json) of a directory of enriched shards.",
        discussion: "Reads only the .json members: up to max-samples // n_tars + 1 records per tar, synthetic scores "
            + "(synthetic_<name>) with probability --synthetic-prob, 64 quantile bins per reward on unique values with "
            + "the ends forced to 0 and 1. The file goes into ROOT, where `miro train --data ROOT` looks for it.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Directory of enriched .tar shards (the first training root).") var root: String
    @Option(help: "Comma-separated reward keys (default: the seven of the release).") var rewards: String?
    @Option(help: "Probability of taking a record's synthetic-caption scores.") var syntheticProb = 0.5
    @Option(help: "Records to estimate the bins from.") var maxSamples = 100_000
    @Option(help: "Bins per reward.") var numBins = 64
    @Option(help: "Records read per tar (default: max-samples // n_tars + 1).") var samplesPerTar: Int?
    @Option(help: "Seed of the record sampling (official: 42).") var seed = 42

    func validate() throws {
        guard numBins >= 2 else { throw ValidationError("--num-bins must be at least 2") }
        guard maxSamples >= 1 else { throw ValidationError("--max-samples must be positive") }
        guard (0...1).contains(syntheticProb) else { throw ValidationError("--synthetic-prob must be in [0, 1]") }
        if let samplesPerTar, samplesPerTar < 1 { throw ValidationError("--samples-per-tar must be positive") }
    }

    func run() throws {
        let logger = global.makeLogger("miro.bins")
        var builder = BinsCacheBuilder()
        builder.rewardNames = ShardOptions.rewardList(rewards)
        builder.syntheticProb = syntheticProb
        builder.maxSamples = maxSamples
        builder.numBins = numBins
        builder.samplesPerTar = samplesPerTar
        builder.seed = seed
        let (bins, file) = try builder.build(root: URL(fileURLWithPath: root), logger: logger)
        for name in builder.rewardNames {
            guard let edges = bins.edges[name] else { print("\(name): no values"); continue }
            let inner = edges.dropFirst().dropLast()
            print("\(name): \(edges.count) edges, inner range " + String(format: "%.4f … %.4f", inner.first ?? 0, inner.last ?? 0))
        }
        print("wrote \(file.path)")
    }
}
