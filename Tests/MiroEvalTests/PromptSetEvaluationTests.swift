import Foundation
import MiroEval
import MiroFormats
import MiroImage
import MiroPipeline
import MiroRewards
import Testing

/// The mean red value: a reward whose expected scores the test can compute by hand.
private struct RedReward: ImageRewardModel {
    let name = "red_score"
    func score(_ image: RGBImage) -> Float {
        stride(from: 0, to: image.pixels.count, by: 3).reduce(Float(0)) { $0 + image.pixels[$1] } / Float(image.width * image.height)
    }
}

/// 1 when the caption mentions "cat": checks that each image is scored with its own prompt.
private struct CatReward: RewardModel {
    let name = "cat_score"
    func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try checkPairing(images: images, captions: captions)
        return captions.map { $0.contains("cat") ? 1 : 0 }
    }
}

private final class Counter: @unchecked Sendable {
    var loads: [String] = []
}

@Suite struct PromptSetEvaluationTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("miro-promptset-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func promptFilesOfTheThreeKindsAreRead() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let jsonl = dir.appendingPathComponent("geneval.jsonl")
        try Data("""
        {"tag": "single_object", "include": [{"class": "cat", "count": 1}], "prompt": "a photo of a cat"}

        {"tag": "colors", "prompt": "a photo of a blue bench"}
        """.utf8).write(to: jsonl)
        let g = try PromptSet.load(jsonl)
        #expect(g.entries.map(\.prompt) == ["a photo of a cat", "a photo of a blue bench"])
        #expect(g.entries[0].metadata.map(\.key) == ["tag", "include"])

        let tsv = dir.appendingPathComponent("parti.tsv")
        try Data("Prompt\tCategory\tChallenge\tNote\nbond\tAbstract\tBasic\t\n\"a \"\"quoted\"\" sign\"\tWorld\tText\tnote\n".utf8)
            .write(to: tsv)
        let p = try PromptSet.load(tsv)
        #expect(p.entries.map(\.prompt) == ["bond", "a \"quoted\" sign"])
        #expect(p.entries[1].metadata.first?.key == "category")
        #expect(p.entries[1].metadata.first?.value.string == "World")

        let csv = dir.appendingPathComponent("drawbench.csv")
        try Data("Prompts,Category\n\"a red cube, on a table\",Colors\n".utf8).write(to: csv)
        #expect(throws: InputError.self) { try PromptSet.load(csv) }  // no Prompt column: named in the error
        try Data("prompt,Category\n\"a red cube, on a table\",Colors\n".utf8).write(to: csv)
        #expect(try PromptSet.load(csv).entries.map(\.prompt) == ["a red cube, on a table"])

        let txt = dir.appendingPathComponent("prompts.txt")
        try Data("one\n\n  two  \n".utf8).write(to: txt)
        #expect(try PromptSet.load(txt).entries.map(\.prompt) == ["one", "two"])
        try Data("{\"text\": \"x\"}\n".utf8).write(to: jsonl)
        #expect(throws: InputError.self) { try PromptSet.load(jsonl) }
    }

    /// Generates 3 prompts × 2 flat images whose red level encodes (prompt, sample), scores them, checks the numbers,
    /// then resumes: nothing is regenerated, a finished reward is not reloaded, a new one is.
    @Test func generateScoreAndResume() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = GenerationFolder(root: dir.appendingPathComponent("out"))
        let prompts = PromptSet(entries: [.init(prompt: "a cat"), .init(prompt: "a dog"), .init(prompt: "two cats")], source: "test")
        let hparams = PythonJSON.object([(key: "steps", value: .int(50))])
        var calls = 0
        func generate(_ i: Int, _ prompt: String) throws -> [Data] {
            calls += 1
            return try (0..<2).map { k in
                try PNG.encode(RGBImage(width: 4, height: 4, fill: (Float(10 * i + 40 * k) / 255, 0, 0)))
            }
        }
        let gen = try PromptSetGeneration(folder: folder, perPrompt: 2, hparams: hparams)
        #expect(try gen.run(prompts, generate: generate) == (3, 0))
        #expect(calls == 3)
        #expect(try gen.run(prompts, generate: generate) == (0, 3))
        #expect(calls == 3)
        // Other settings would mix two evaluations in one folder.
        let other = try PromptSetGeneration(folder: folder, perPrompt: 2, hparams: .object([(key: "steps", value: .int(20))]))
        #expect(throws: InputError.self) { try other.run(prompts, generate: generate) }

        let samples = try folder.samples()
        #expect(samples.map(\.relativePath) == ["00000/samples/0000.png", "00000/samples/0001.png", "00001/samples/0000.png",
                                                "00001/samples/0001.png", "00002/samples/0000.png", "00002/samples/0001.png"])
        #expect(samples.map(\.prompt) == ["a cat", "a cat", "a dog", "a dog", "two cats", "two cats"])

        let counter = Counter()
        let red = RewardScoring.Scorer(name: "red_score") { counter.loads.append("red"); return RedReward() }
        let cat = RewardScoring.Scorer(name: "cat_score") { counter.loads.append("cat"); return CatReward() }
        let scoring = try RewardScoring(folder: folder, batchSize: 4, decode: RewardScoring.decodePNG)
        let report = try scoring.run([red])
        let s = try #require(report.statistics.first)
        // red levels (0, 40, 10, 50, 20, 60) / 255
        let values = [0.0, 40, 10, 50, 20, 60].map { $0 / 255 }
        let mean = values.reduce(0, +) / 6
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 5).squareRoot()
        #expect(abs(s.mean - mean) < 1e-6)
        #expect(abs(s.standardError - sd / 6.0.squareRoot()) < 1e-6)
        #expect(abs(s.perPromptMean - mean) < 1e-6)
        #expect(s.images == 6 && s.prompts == 3)
        #expect(counter.loads == ["red"])

        let again = try scoring.run([red, cat])
        #expect(counter.loads == ["red", "cat"])  // red was already scored for every image
        #expect(again.statistics.map(\.reward) == ["red_score", "cat_score"])
        #expect(abs(again.statistics[1].mean - 4.0 / 6.0) < 1e-9)  // "a cat" ×2, "two cats" ×2
        let lines = try String(contentsOf: scoring.resultsURL, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines[0].hasPrefix("{\"filename\": \"00000/samples/0000.png\", \"prompt\": \"a cat\", \"cat_score\": 1.0, \"red_score\": 0.0"))
        let summary = try PythonJSON.parse(Array(try Data(contentsOf: scoring.summaryURL)))
        #expect(summary.members?.first(where: { $0.key == "n_images" })?.value.integer == 6)
    }

    @Test func anUnreadableImageIsCountedNotFatal() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = GenerationFolder(root: dir)
        let gen = try PromptSetGeneration(folder: folder, perPrompt: 2, hparams: .object([]))
        _ = try gen.run(PromptSet(entries: [.init(prompt: "p")], source: "t")) { _, _ in
            [try PNG.encode(RGBImage(width: 2, height: 2)), Data("not a png".utf8)]
        }
        let report = try RewardScoring(folder: folder, batchSize: 8, decode: RewardScoring.decodePNG)
            .run([.init(name: "red_score") { RedReward() }])
        #expect(report.statistics[0].images == 1)
        #expect(report.unreadable.count == 1)
        #expect(report.unreadable[0].hasPrefix("00000/samples/0001.png"))
    }
}
