import Foundation
import MiroFormats
import MiroImage
import MiroPipeline
import MiroRewards

/// Scores the images of a `GenerationFolder` with reward models, as MIRO's `eval/rewards/score_images.py` does:
/// one model in memory at a time, each making a full pass over the images in batches; `rewards.jsonl` (one line per
/// image: `{"filename", "prompt", <reward>: score, ...}`) rewritten after each model, so a killed run keeps what
/// the finished models scored and a rerun scores only the missing rewards. The summary gives, per reward, the
/// mean over images with its standard error and the mean over prompts of their per-prompt means.
///
/// The scores are the values MIRO *stores* for training (`aesthetic_score` = rating/10, `image_reward_score` =
/// (r+2)/4, ...; rewards.md §1), not the raw scales of MIRO's evaluation scorer (rewards.md §7).
public struct RewardScoring {
    /// A reward by its name and how to load it (loaded only when its turn comes).
    public struct Scorer {
        public var name: String
        public var load: () throws -> any RewardModel

        public init(name: String, load: @escaping () throws -> any RewardModel) {
            self.name = name
            self.load = load
        }
    }

    public struct Statistic: Sendable, Equatable {
        public var reward: String
        public var images: Int
        public var prompts: Int
        public var mean: Double
        /// Sample standard deviation over images.
        public var standardDeviation: Double
        /// standardDeviation / √images.
        public var standardError: Double
        /// The mean over prompts of each prompt's mean (MIRO's `per_prompt_mean`).
        public var perPromptMean: Double
    }

    public struct Report: Sendable {
        public var folder: String
        public var statistics: [Statistic]
        public var images: Int
        public var prompts: Int
        /// Images that could not be read, with the reason (they get no score and count in no statistic).
        public var unreadable: [String]

        public var json: PythonJSON {
            .object([
                (key: "folder", value: .string(folder)), (key: "n_images", value: .int(images)),
                (key: "n_prompts", value: .int(prompts)),
                (key: "unreadable", value: .array(unreadable.map { .string($0) })),
                (key: "rewards", value: .object(statistics.map { s in
                    (key: s.reward, value: .object([
                        (key: "mean", value: .float(s.mean)), (key: "std", value: .float(s.standardDeviation)),
                        (key: "standard_error", value: .float(s.standardError)),
                        (key: "per_prompt_mean", value: .float(s.perPromptMean)),
                        (key: "n_images", value: .int(s.images)), (key: "n_prompts", value: .int(s.prompts)),
                    ]))
                })),
            ])
        }

        /// A plain table: reward, mean ± s.e., per-prompt mean, images.
        public var table: [String] {
            let width = max(6, statistics.map(\.reward.count).max() ?? 6)
            var lines = ["\("reward".padding(toLength: width, withPad: " ", startingAt: 0))   mean ± s.e.           per-prompt mean   images"]
            for s in statistics {
                lines.append(s.reward.padding(toLength: width, withPad: " ", startingAt: 0)
                             + String(format: "   %.4f ± %.4f      %.4f            %d", s.mean, s.standardError, s.perPromptMean, s.images))
            }
            return lines
        }
    }

    public let folder: GenerationFolder
    public let batchSize: Int
    /// Reads one image file (PNG here; the CLI passes a decoder that also reads JPEG).
    public let decode: (URL) throws -> RGBImage

    public init(folder: GenerationFolder, batchSize: Int, decode: @escaping (URL) throws -> RGBImage) throws {
        guard batchSize >= 1 else { throw InputError("--batch-size must be at least 1 (got \(batchSize))") }
        self.folder = folder
        self.batchSize = batchSize
        self.decode = decode
    }

    public static func decodePNG(_ url: URL) throws -> RGBImage {
        try PNGReader.decode(try Data(contentsOf: url)).rgbImage
    }

    public var resultsURL: URL { folder.root.appendingPathComponent("rewards.jsonl") }
    public var summaryURL: URL { folder.root.appendingPathComponent("rewards_summary.json") }

    /// `progress(reward, done, total)` after each batch.
    public func run(_ scorers: [Scorer], progress: ((String, Int, Int) -> Void)? = nil) throws -> Report {
        let samples = try folder.samples()
        guard !samples.isEmpty else { throw InputError("no images under \(folder.root.path) (expected NNNNN/samples/*.png)") }
        var scores = try previousScores(for: samples)
        var unreadable: [String: String] = [:]
        for scorer in scorers where samples.contains(where: { scores[$0.relativePath]?[scorer.name] == nil }) {
            let model = try scorer.load()
            let todo = samples.filter { scores[$0.relativePath]?[scorer.name] == nil && unreadable[$0.relativePath] == nil }
            var done = 0
            for start in stride(from: 0, to: todo.count, by: batchSize) {
                let batch = Array(todo[start..<min(start + batchSize, todo.count)])
                var images: [RGBImage] = [], captions: [String] = [], kept: [GenerationFolder.Sample] = []
                for sample in batch {
                    do {
                        images.append(try decode(sample.url))
                        captions.append(sample.prompt)
                        kept.append(sample)
                    } catch {
                        unreadable[sample.relativePath] = "\(error)"
                    }
                }
                if !images.isEmpty {
                    let values = try model.score(images: images, captions: captions)
                    guard values.count == kept.count else {
                        throw InputError("\(scorer.name) returned \(values.count) scores for \(kept.count) images")
                    }
                    for (sample, value) in zip(kept, values) { scores[sample.relativePath, default: [:]][scorer.name] = Double(value) }
                }
                done += batch.count
                progress?(scorer.name, done, todo.count)
            }
            try writeResults(samples: samples, scores: scores)
        }
        let names = scorers.map(\.name)
        let report = Report(folder: folder.root.path, statistics: names.map { statistic($0, samples: samples, scores: scores) },
                            images: samples.count, prompts: Set(samples.map(\.promptIndex)).count,
                            unreadable: unreadable.keys.sorted().map { "\($0): \(unreadable[$0] ?? "")" })
        try AtomicFile.write(Data((report.json.dumps(indent: 2) + "\n").utf8), to: summaryURL)
        return report
    }

    /// Scores an earlier run wrote for these same files (by file name); anything else in the file is dropped.
    func previousScores(for samples: [GenerationFolder.Sample]) throws -> [String: [String: Double]] {
        guard let data = try? Data(contentsOf: resultsURL) else { return [:] }
        let known = Set(samples.map(\.relativePath))
        var out: [String: [String: Double]] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let members = (try? PythonJSON.parse(Array(line)))?.members,
                  let name = members.first(where: { $0.key == "filename" })?.value.string, known.contains(name) else { continue }
            for (key, value) in members where key != "filename" && key != "prompt" {
                if let v = value.double { out[name, default: [:]][key] = v }
            }
        }
        return out
    }

    func writeResults(samples: [GenerationFolder.Sample], scores: [String: [String: Double]]) throws {
        var text = ""
        for sample in samples {
            let values = scores[sample.relativePath, default: [:]].sorted { $0.key < $1.key }
            let line = PythonJSON.object([(key: "filename", value: .string(sample.relativePath)),
                                          (key: "prompt", value: .string(sample.prompt))]
                                         + values.map { (key: $0.key, value: .float($0.value)) })
            text += line.dumps(ensureASCII: false) + "\n"
        }
        try AtomicFile.write(Data(text.utf8), to: resultsURL)
    }

    func statistic(_ reward: String, samples: [GenerationFolder.Sample], scores: [String: [String: Double]]) -> Statistic {
        var values: [Double] = []
        var perPrompt: [Int: [Double]] = [:]
        for sample in samples {
            guard let v = scores[sample.relativePath]?[reward] else { continue }
            values.append(v)
            perPrompt[sample.promptIndex, default: []].append(v)
        }
        let n = Double(values.count)
        let mean = values.isEmpty ? 0 : values.reduce(0, +) / n
        let variance = values.count < 2 ? 0 : values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        let promptMeans = perPrompt.values.map { $0.reduce(0, +) / Double($0.count) }
        return Statistic(reward: reward, images: values.count, prompts: perPrompt.count, mean: mean,
                         standardDeviation: variance.squareRoot(),
                         standardError: values.isEmpty ? 0 : (variance / n).squareRoot(),
                         perPromptMean: promptMeans.isEmpty ? 0 : promptMeans.reduce(0, +) / Double(promptMeans.count))
    }
}
