import Foundation
import MiroData
import MiroDataPrep
import MiroFormats
import MiroImage
import Testing

/// The error text of `body`, nil when it does not throw.
func failure(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}

@Suite struct AnnotatorTests {
    func annotator(_ inputs: [URL], _ out: URL, _ rewards: [RewardSpec], batch: Int = 3) -> Annotator {
        var options = Annotator.Options(rewards: rewards)
        options.batchSize = batch
        return Annotator(inputs: inputs, output: out, options: options, logger: PrepFixtures.logger)
    }

    /// The JSON gains `<name>`, `synthetic_<name>` (scored on the right caption) and the synthetic captions in
    /// sorted order after the existing keys; every other member is copied byte for byte, in the same order.
    @Test func writesRewardKeysAndKeepsOtherMembers() throws {
        let dir = try PrepFixtures.scratch()
        let tars = try PrepFixtures.tarDataset(in: dir.appendingPathComponent("in"), shards: 2, perShard: 4)
        let counter = Counter()
        let out = dir.appendingPathComponent("out")
        let report = try annotator(tars, out, [TestReward.spec("b_score", .short, counter: counter),
                                               TestReward.spec("a_score", .long, counter: counter),
                                               TestReward.spec("img_score", .imageOnly, counter: counter)]).run()
        #expect(report.samples == 8 && report.written == 8 && report.skippedCount == 0 && report.shards == 2)
        #expect(counter.get("a_score.loads") == 1 && counter.get("b_score.loads") == 1)
        let input = try PrepFixtures.members(tars[0])
        let output = try PrepFixtures.members(out.appendingPathComponent("shard-000.tar"))
        #expect(input.map(\.name) == output.map(\.name))
        for (a, b) in zip(input, output) where !a.name.hasSuffix(".json") { #expect(a.data == b.data, "\(a.name)") }
        // Sample 0: synthetic_caption present (long), caption "short 0" (short).
        let json = try #require(output.first { $0.name == "00000000.json" })
        let text = String(decoding: json.data, as: UTF8.self)
        #expect(text.hasPrefix(#"{"width": 8, "height": 8, "score": 1.5, "synthetic_caption": "a long synthetic caption 0 ", "caption": "short 0", "#
                               + #""a_score": "#), "\(text)")
        let keys = try #require(try PythonJSON.parse(json.data).members).map(\.key)
        #expect(keys == ["width", "height", "score", "synthetic_caption", "caption", "a_score", "b_score", "img_score",
                         "short_synthetic_caption", "synthetic_a_score", "synthetic_b_score", "synthetic_img_score"])
        let value = try PythonJSON.parse(json.data)
        let image = try PNGReader.decode(Data(try #require(input.first { $0.name == "00000000.png" }).data)).rgbImage
        let red = stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }.reduce(0, +) / Float(image.width * image.height)
        func expected(_ caption: String) -> Double { Double(red + Float(caption.count) / 1000) }
        #expect(value["a_score"]?.double == expected("caption number 0"))
        #expect(value["synthetic_a_score"]?.double == expected("a long synthetic caption 0 "))
        #expect(value["synthetic_b_score"]?.double == expected("short 0"))
        #expect(value["synthetic_img_score"]?.double == value["img_score"]?.double)
        #expect(value["short_synthetic_caption"]?.string == "short 0")
        // Sample 1: no synthetic caption, no caption: both fall back to the cleaned original.
        let json1 = try PythonJSON.parse(try #require(output.first { $0.name == "00000001.json" }).data)
        #expect(json1["synthetic_caption"]?.string == "caption number 1" && json1["short_synthetic_caption"]?.string == "caption number 1")
        let summary = try PythonJSON.parse([UInt8](try Data(contentsOf: out.appendingPathComponent(Annotator.summaryName))))
        #expect(summary["written"]?.integer == 8)
    }

    /// Undecodable image, no caption, no image and malformed JSON: skipped, counted, left out of the output.
    @Test func corruptSamplesAreSkippedAndCounted() throws {
        let dir = try PrepFixtures.scratch()
        let good = try PrepFixtures.png(seed: 1)
        let tar = dir.appendingPathComponent("mixed.tar")
        try TarWriter.archive([
            ("ok.png", good), ("ok.txt", Array("fine".utf8)),
            ("badimg.png", Array("not a png".utf8)), ("badimg.txt", Array("x".utf8)),
            ("nocap.png", good),
            ("noimg.txt", Array("caption only".utf8)),
            ("badjson.png", good), ("badjson.txt", Array("y".utf8)), ("badjson.json", Array("{oops".utf8)),
            ("badutf.png", good), ("badutf.txt", [0xFF, 0xFE]),
        ]).write(to: tar)
        let out = dir.appendingPathComponent("out")
        let report = try annotator([tar], out, [TestReward.spec("r_score", .short, counter: Counter())]).run()
        #expect(report.samples == 6 && report.written == 1)
        #expect(report.skipped == ["undecodable_image": 1, "missing_caption": 1, "missing_image": 1, "malformed_json": 1, "bad_caption": 1])
        let names = try PrepFixtures.members(out.appendingPathComponent("mixed.tar")).map(\.name)
        #expect(names == ["ok.png", "ok.txt", "ok.json"], "a sample without JSON gets one, after its members")
        let summary = String(decoding: try Data(contentsOf: out.appendingPathComponent(Annotator.summaryName)), as: UTF8.self)
        #expect(summary.contains("mixed.tar badimg: undecodable_image"), "\(summary)")
    }

    /// A crash in the second reward's pass, then a rerun: the first reward is not recomputed (its model is not
    /// even loaded), finished units keep their markers untouched, and the output equals an uninterrupted run.
    @Test func resumesAfterACrashWithIdenticalOutput() throws {
        let dir = try PrepFixtures.scratch()
        let tars = try PrepFixtures.tarDataset(in: dir.appendingPathComponent("in"), shards: 3, perShard: 5)
        let reference = dir.appendingPathComponent("reference")
        _ = try annotator(tars, reference, [TestReward.spec("a_score", .long, counter: Counter()),
                                            TestReward.spec("b_score", .short, counter: Counter())]).run()

        let out = dir.appendingPathComponent("out")
        let crashing = Counter()
        // 5 samples, batch 3: two batches of two calls per shard; failing on call 5 stops in the second shard.
        #expect(throws: (any Error).self) {
            _ = try annotator(tars, out, [TestReward.spec("a_score", .long, counter: Counter()),
                                          TestReward.spec("b_score", .short, counter: crashing, failAfter: 4)]).run()
        }
        let markers = out.appendingPathComponent(".miro-annotate/done")
        let before = try FileManager.default.contentsOfDirectory(atPath: markers.path).sorted()
        #expect(before == ["shard-000.tar.a_score.scores", "shard-000.tar.b_score.scores",
                           "shard-001.tar.a_score.scores", "shard-002.tar.a_score.scores"])
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("shard-000.tar").path))
        let stamp = try FileManager.default.attributesOfItem(atPath: markers.appendingPathComponent(before[0]).path)[.modificationDate] as? Date
        Thread.sleep(forTimeInterval: 0.05)

        let counter = Counter()
        let report = try annotator(tars, out, [TestReward.spec("a_score", .long, counter: counter),
                                               TestReward.spec("b_score", .short, counter: counter)]).run()
        #expect(counter.get("a_score.loads") == 0, "every shard was scored with a_score before the crash")
        // two shards left, 2 batches each; a batch whose short captions all equal the originals takes one call, else two
        #expect(counter.get("b_score.loads") == 1 && (4...8).contains(counter.get("b_score.calls")), "two shards left, 2 batches × 1–2 captions")
        #expect(report.computedScores == 2 && report.computedShards == 3)
        let after = try FileManager.default.attributesOfItem(atPath: markers.appendingPathComponent(before[0]).path)[.modificationDate] as? Date
        #expect(stamp != nil && stamp == after, "a finished unit is not redone")
        #expect(try PrepFixtures.files(out) == PrepFixtures.files(reference))
        #expect(try PrepFixtures.files(out, hidden: true).count == PrepFixtures.files(reference, hidden: true).count)

        // A third run does nothing and changes nothing.
        let again = try annotator(tars, out, [TestReward.spec("a_score", .long, counter: counter),
                                              TestReward.spec("b_score", .short, counter: counter)]).run()
        #expect(again.computedScores == 0 && again.computedShards == 0 && again.written == report.written)
        #expect(try PrepFixtures.files(out) == PrepFixtures.files(reference))
    }

    /// A folder of someone else's files is refused, and so is a previous run with other options; the same
    /// options continue. Interrupted temporaries of its own outputs are removed, nothing else.
    @Test func outputFolderOwnership() throws {
        let dir = try PrepFixtures.scratch()
        let tars = try PrepFixtures.tarDataset(in: dir.appendingPathComponent("in"), shards: 1, perShard: 2)
        let foreign = dir.appendingPathComponent("foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: foreign.appendingPathComponent("notes.txt"))
        let spec = TestReward.spec("a_score", .long, counter: Counter())
        let refused = failure { _ = try annotator(tars, foreign, [spec]).run() }
        #expect(refused?.contains("notes.txt") == true && refused?.contains("not empty") == true, "\(refused ?? "accepted")")
        #expect(try Data(contentsOf: foreign.appendingPathComponent("notes.txt")) == Data("mine".utf8))

        let out = dir.appendingPathComponent("out")
        _ = try annotator(tars, out, [spec]).run()
        let other = failure { _ = try annotator(tars, out, [spec], batch: 7).run() }
        #expect(other?.contains("batch_size") == true, "\(other ?? "accepted")")
        let ownTemp = out.appendingPathComponent(".shard-000.tar.\(UUID().uuidString).tmp")
        let otherTemp = out.appendingPathComponent(".other.tar.\(UUID().uuidString).tmp")
        try Data("x".utf8).write(to: ownTemp)
        try Data("y".utf8).write(to: otherTemp)
        _ = try annotator(tars, out, [spec]).run()
        #expect(!FileManager.default.fileExists(atPath: ownTemp.path))
        #expect(FileManager.default.fileExists(atPath: otherTemp.path))
    }

    /// Folders of name.png + name.txt (+ name.json) become shards of `folderShardSize` samples, named after the
    /// folder, members in sorted suffix order.
    @Test func folderInputs() throws {
        let dir = try PrepFixtures.scratch()
        let images = dir.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for i in 0..<5 {
            try Data(try PrepFixtures.png(seed: i)).write(to: images.appendingPathComponent("img\(i).png"))
            try Data("photo \(i)".utf8).write(to: images.appendingPathComponent("img\(i).txt"))
        }
        try Data(#"{"synthetic_caption": "long 0"}"#.utf8).write(to: images.appendingPathComponent("img0.json"))
        var options = Annotator.Options(rewards: [TestReward.spec("a_score", .long, counter: Counter())])
        options.folderShardSize = 2
        let out = dir.appendingPathComponent("out")
        let report = try Annotator(inputs: [images], output: out, options: options, logger: PrepFixtures.logger).run()
        #expect(report.shards == 3 && report.written == 5)
        let first = try PrepFixtures.members(out.appendingPathComponent("photos-000000.tar"))
        #expect(first.map(\.name) == ["img0.json", "img0.png", "img0.txt", "img1.png", "img1.txt", "img1.json"])
        let json = try PythonJSON.parse(first[0].data)
        #expect(json["synthetic_caption"]?.string == "long 0")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("photos-000002.tar").path))
    }
}

@Suite struct PrepPiecesTests {
    /// `_resolve_synthetic_captions`' JSON branch and `_clean`.
    @Test func captionResolution() throws {
        func captions(_ json: String) throws -> SampleCaptions {
            SampleCaptions(text: "orig <PERSON>x", metadata: try #require(try PythonJSON.parse(Array(json.utf8)).members))
        }
        var c = try captions("{}")
        #expect(c.original == "orig x" && c.long == "orig x" && c.short == "orig x" && c.originalText == "orig <PERSON>x")
        c = try captions(#"{"synthetic_caption": "L", "caption": "C"}"#)
        #expect(c.long == "L" && c.short == "C")
        c = try captions(#"{"synthetic_caption": 3, "short_synthetic_caption": "S", "caption": "C"}"#)
        #expect(c.long == "orig x" && c.short == "S")
        c = try captions(#"{"synthetic_caption": "L <PERSON>", "short_synthetic_caption": null, "caption": "C"}"#)
        #expect(c.long == "L " && c.short == "L ", "a non-string short caption falls back to the long one")
    }

    /// `--synthetic_captions file.tsv`: short = first caption column, long = last; missing cells, pandas' NaN
    /// literals and all-number columns fall back to the original caption; a file name is matched without its
    /// extension, against the key's last path component.
    @Test func syntheticCaptionTSV() throws {
        let dir = try PrepFixtures.scratch()
        let tsv = dir.appendingPathComponent("captions.tsv")
        try Data(("a.jpg\tshort a\tmiddle\tlong <PERSON>a\n" + "b.jpg\t\tx\tNaN\n" + "c.png\t\"quoted \"\"c\"\"\"\t\t12\n").utf8).write(to: tsv)
        let table = try SyntheticCaptionTable(url: tsv)
        func captions(_ key: String) -> SampleCaptions { SampleCaptions(text: "orig", metadata: [], key: key, table: table) }
        #expect(captions("dir/a").short == "short a" && captions("dir/a").long == "long a")
        #expect(captions("b").short == "orig" && captions("b").long == "orig")
        #expect(captions("c").short == "quoted \"c\"" && captions("c").long == "12", "a number in a text column stays text")
        #expect(captions("zzz").short == "orig" && captions("zzz").long == "orig")
        let numbers = dir.appendingPathComponent("numbers.tsv")
        try Data("a.jpg\tshort\t1.5\nb.jpg\tother\t2\n".utf8).write(to: numbers)
        #expect(try SyntheticCaptionTable(url: numbers).captions(key: "a", original: "o") == (long: "o", short: "short"),
                "an all-number column is not text")
        let ragged = dir.appendingPathComponent("ragged.tsv")
        try Data("a.jpg\tshort\tlong\nb.jpg\t1\t2\t3\n".utf8).write(to: ragged)
        #expect(throws: DataPrepError.self) { try SyntheticCaptionTable(url: ragged) }
    }

    /// The writer's archives read back through `TarArchive` (long names through a pax header), are padded to
    /// 10240-byte records, and are the same bytes every time.
    @Test func tarWriterRoundTrip() throws {
        let long = String(repeating: "d/", count: 60) + "key.vae_embeddings_mean_256.npy"
        let members: [(name: String, data: [UInt8])] = [("a.txt", Array("hello".utf8)), (long, [UInt8](repeating: 7, count: 1000)),
                                                         ("empty.json", [])]
        let data = try TarWriter.archive(members)
        #expect(data.count % 10240 == 0)
        #expect(try TarWriter.archive(members) == data)
        let archive = TarArchive(data: data, name: "mem")
        let read = try archive.members()
        #expect(read.map(\.name) == members.map(\.name))
        for (m, want) in zip(read, members) { #expect(try archive.read(m) == want.data) }
        #expect(throws: (any Error).self) { try TarWriter.archive([("", [1])]) }
    }
}
