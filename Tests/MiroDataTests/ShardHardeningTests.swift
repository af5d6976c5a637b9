import Foundation
import Logging
import Testing
import MiroData
import MiroFormats
import MiroRewards

/// "No lost work, no crash": the data layer against moved, grown, replaced and garbage shards, and against
/// values from files that used to trap (sizes, shapes, cursor positions, bin counts).
@Suite("WebDataset: hardening", .serialized)
struct ShardHardeningTests {
    var fm: FileManager { .default }
    static var fm: FileManager { .default }

    /// A writable copy of the fixture tars with the fixture's own `wids-index.json`.
    static func copyWithIndex() throws -> URL {
        let dir = try ShardFixture.writableCopy()
        try fm.copyItem(at: try ShardFixture.url(WIDSIndex.fileName), to: dir.appendingPathComponent(WIDSIndex.fileName))
        return dir
    }

    static func randomBytes(_ n: Int, seed: UInt64) -> Data {
        var g = seed
        return Data((0..<n).map { _ in
            g = g &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: g >> 33)
        })
    }

    static func isPrintable(_ s: String) -> Bool {
        !s.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F || $0 == "\u{FFFD}" }
    }

    // MARK: Case 1: the index follows its directory

    @Test("an index with absolute urls (official / old builder) in a copied root reads the copy's shards, not the original's")
    func copiedRootReadsItsOwnShards() throws {
        let original = try ShardFixture.writableCopy()
        let copy = fm.temporaryDirectory.appendingPathComponent("miro-shards-copy-\(UUID().uuidString)")
        defer { for d in [original, copy] { try? fm.removeItem(at: d) } }
        // What `_build_wids_index` writes for an absolute root: no __kind__, `os.path.join(root, name)`, no filesize.
        let tars = try WIDSIndex.tarFiles(in: original)
        let entries = try tars.map { #"{"url": "\#($0.path)", "nsamples": \#(try WIDSIndex.countSamples(in: $0))}"# }
        let official = #"{"wids_version": 1, "shardlist": ["# + entries.joined(separator: ", ") + "]}"
        try Data(official.utf8).write(to: original.appendingPathComponent(WIDSIndex.fileName))
        try fm.copyItem(at: original, to: copy)

        let shards = try WIDSIndex.shards(roots: [copy], logger: silentLogger)
        #expect(shards.count == tars.count)
        for shard in shards {
            #expect(shard.file.deletingLastPathComponent().resolvingSymlinksInPath().path == copy.resolvingSymlinksInPath().path,
                    "\(shard.file.path) is not in the copy")
        }
        // The official index was current: read as is, not rewritten.
        #expect(try String(contentsOf: copy.appendingPathComponent(WIDSIndex.fileName), encoding: .utf8) == official)
    }

    @Test("a new index lists shards relative to itself, with their sizes; the fixture (official relative layout) is not rebuilt")
    func newIndexesAreRelative() throws {
        let dir = try Self.copyWithIndex()
        defer { try? fm.removeItem(at: dir) }
        let built = try WIDSIndex.build(directory: dir)
        #expect(built.shardlist.allSatisfy { !$0.url.contains("/") && $0.filesize != nil })
        let sizes = try WIDSIndex.tarFiles(in: dir).map { try Data(contentsOf: $0).count }
        #expect(built.shardlist.map(\.filesize) == sizes)
        let before = try Data(contentsOf: dir.appendingPathComponent(WIDSIndex.fileName))
        #expect(try WIDSIndex.read(dir.appendingPathComponent(WIDSIndex.fileName)).staleness(directory: dir) == nil)
        _ = try WIDSIndex.loadOrBuild(directory: dir, logger: silentLogger)
        #expect(try Data(contentsOf: dir.appendingPathComponent(WIDSIndex.fileName)) == before)
    }

    @Test("a shard added after indexing is not ignored: the index is rebuilt, with a warning naming it")
    func addedShardRebuildsTheIndex() throws {
        let dir = try Self.copyWithIndex()
        defer { try? fm.removeItem(at: dir) }
        #expect(try WIDSIndex.shards(roots: [dir], logger: silentLogger).count == 6)
        try fm.copyItem(at: dir.appendingPathComponent("shard-000000.tar"), to: dir.appendingPathComponent("shard-000006.tar"))
        let log = CapturedLog()
        let shards = try WIDSIndex.shards(roots: [dir], logger: log.logger)
        #expect(shards.map(\.file.lastPathComponent).last == "shard-000006.tar")
        #expect(shards.last?.nsamples == 5)
        #expect(log.entries.contains { $0.level == .warning && $0.message.contains("rebuilding") && $0.message.contains("shard-000006.tar") },
                "\(log.entries.map(\.message))")
        // Written back: the next start reads it without rebuilding.
        let again = try WIDSIndex.read(dir.appendingPathComponent(WIDSIndex.fileName))
        #expect(again.shardlist.count == 7 && again.staleness(directory: dir) == nil)
    }

    @Test("a shard replaced after indexing (size changed) or a vanished shard makes the index stale; it is rebuilt")
    func replacedOrRemovedShardRebuildsTheIndex() throws {
        let dir = try ShardFixture.writableCopy()
        defer { try? fm.removeItem(at: dir) }
        _ = try WIDSIndex.loadOrBuild(directory: dir, logger: silentLogger)
        let victim = dir.appendingPathComponent("shard-000001.tar")
        try fm.removeItem(at: victim)
        try fm.copyItem(at: dir.appendingPathComponent("shard-000000.tar"), to: victim)  // 5 samples instead of 4
        let index = try WIDSIndex.read(dir.appendingPathComponent(WIDSIndex.fileName))
        let why = try #require(index.staleness(directory: dir))
        #expect(why.contains("shard-000001.tar"))
        let shards = try WIDSIndex.shards(roots: [dir], logger: silentLogger)
        #expect(shards[1].nsamples == 5)

        try fm.removeItem(at: dir.appendingPathComponent("shard-000002.tar"))
        #expect(try WIDSIndex.read(dir.appendingPathComponent(WIDSIndex.fileName)).staleness(directory: dir)?.contains("missing") == true)
        #expect(try WIDSIndex.shards(roots: [dir], logger: silentLogger).count == 5)
    }

    @Test("an index listing more samples than a shard can hold (hand-edited, or of another file) is stale")
    func implausibleCountsAreStale() throws {
        let dir = try ShardFixture.writableCopy()
        defer { try? fm.removeItem(at: dir) }
        var index = try WIDSIndex.build(directory: dir)
        index.shardlist = index.shardlist.map { WIDSShard(url: $0.url, nsamples: 1 << 40) }
        try index.write(to: dir.appendingPathComponent(WIDSIndex.fileName))
        let shards = try WIDSIndex.shards(roots: [dir], logger: silentLogger)
        #expect(shards.map(\.nsamples) == [5, 4, 4, 4, 4, 4])
    }

    // MARK: Case 2: garbage tars are skipped and counted

    @Test("random-bytes and empty tars among shards are skipped and counted while indexing, with printable messages")
    func garbageTarsAreSkipped() throws {
        let dir = try ShardFixture.writableCopy()
        defer { try? fm.removeItem(at: dir) }
        try Self.randomBytes(4096, seed: 7).write(to: dir.appendingPathComponent("garbage.tar"))
        try Data().write(to: dir.appendingPathComponent("empty.tar"))
        let log = CapturedLog()
        let report = try WIDSIndex.buildReport(directory: dir, logger: log.logger)
        #expect(report.unreadable.map { URL(fileURLWithPath: $0.shard).lastPathComponent } == ["empty.tar", "garbage.tar"])
        for (_, reason) in report.unreadable { #expect(Self.isPrintable(reason), "\(reason.debugDescription)") }
        #expect(report.unreadable[0].reason.contains("empty"))
        #expect(report.unreadable[1].reason.contains("not a tar archive"))
        let byName = Dictionary(uniqueKeysWithValues: report.index.shardlist.map { ($0.url, $0.nsamples) })
        #expect(byName["garbage.tar"] == 0 && byName["empty.tar"] == 0 && byName["shard-000000.tar"] == 5)
        let warnings = log.entries.filter { $0.level == .warning }
        #expect(warnings.contains { $0.message.contains("skipped 2 of 8") }, "\(warnings.map(\.message))")
        #expect(warnings.allSatisfy { Self.isPrintable($0.message) })
        #expect(warnings.contains { "\($0.metadata["shard"] ?? "")".hasSuffix("garbage.tar") })

        // The loader runs over them: the good shards' samples come, the garbage ones give none.
        var config = ShardLoaderTests.configuration()
        config.shuffleBufferSize = 0
        let loader = try ShardLoader(roots: [dir], bins: nil, configuration: config, logger: silentLogger)
        defer { loader.close() }
        let refs = try (0..<10).flatMap { _ in try loader.next().refs }
        #expect(Set(refs.map(\.epoch)).count >= 2)
    }

    @Test("a directory of only unreadable tars is one error naming each of them")
    func onlyGarbageIsAnError() throws {
        let dir = fm.temporaryDirectory.appendingPathComponent("miro-garbage-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        try Self.randomBytes(2048, seed: 1).write(to: dir.appendingPathComponent("a.tar"))
        try Data().write(to: dir.appendingPathComponent("b.tar"))
        do {
            _ = try WIDSIndex.build(directory: dir)
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            #expect(text.contains(dir.appendingPathComponent("a.tar").path) && text.contains(dir.appendingPathComponent("b.tar").path), "\(text)")
            #expect(Self.isPrintable(text))
        }
        #expect(!fm.fileExists(atPath: dir.appendingPathComponent(WIDSIndex.fileName).path))
    }

    @Test("member names and keys in messages are printable: control bytes and undecodable bytes are escaped")
    func printableNames() {
        #expect(printableName("abc/def.json") == "abc/def.json")
        #expect(printableName("a\u{0}b\u{7}\u{FFFD}c") == "a\\u{0}b\\u{7}\\u{fffd}c")
        #expect(printableName(String(repeating: "x", count: 500)).count == 121)
        let e = WebDatasetError.tarDamaged(shard: "/s.tar", member: "\u{1B}[2Jevil\u{FFFD}", offset: 512, reason: "r")
        #expect(Self.isPrintable(e.description) && e.description.contains("/s.tar"))
    }

    // MARK: Case 3: which shards were tried for the text width, and why

    @Test("no readable text embedding: the error names every shard tried and why each failed")
    func textDimProbeSaysWhy() throws {
        let dir = try ShardFixture.writableCopy()
        defer { try? fm.removeItem(at: dir) }
        try Self.randomBytes(1024, seed: 3).write(to: dir.appendingPathComponent("garbage.tar"))
        let shards = [ResolvedShard(file: dir.appendingPathComponent("garbage.tar"), nsamples: 3),
                      ResolvedShard(file: dir.appendingPathComponent("missing.tar"), nsamples: 3),
                      ResolvedShard(file: dir.appendingPathComponent("shard-000000.tar"), nsamples: 5)]
        var config = ShardFixture.sampleConfig
        config.textDim = nil
        config.textEmbeddingName = "no_such"
        do {
            _ = try ShardLoader.probeTextDim(shards: shards, sample: config)
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            for name in ["garbage.tar", "missing.tar", "shard-000000.tar"] { #expect(text.contains(dir.path + "/" + name), "\(text)") }
            #expect(text.contains("not a tar archive") && text.contains("cannot open") && text.contains("no_such_embeddings.npy"), "\(text)")
            #expect(text.contains("members seen: "), "\(text)")
        }
        config.textEmbeddingName = ShardFixture.sampleConfig.textEmbeddingName
        #expect(try ShardLoader.probeTextDim(shards: shards, sample: config) == 64)
    }

    // MARK: Case 6: a shuffle buffer larger than the data

    @Test("a shuffle buffer larger than the data is capped at two epochs: no cycling through epochs to fill it")
    func oversizedBufferIsCapped() throws {
        var config = ShardLoaderTests.configuration()
        config.shuffleBufferSize = 100_000
        let log = CapturedLog()
        let loader = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: config, logger: log.logger)
        defer { loader.close() }
        let batch = try loader.next()
        #expect(batch.cursor.bufferSize == 50)  // the fixture lists 25 samples
        #expect(batch.cursor.epoch <= 2, "filling read \(batch.cursor.epoch + 1) epochs")
        #expect(batch.cursor.buffer.count <= 50)
        #expect(log.entries.contains { $0.level == .warning && $0.message.contains("shuffle buffer") })
        #expect(config.bufferSize(rankSamples: 25) == 50 && config.bufferSize(rankSamples: 1) == 4)
        // The capped stream resumes exactly.
        let next = try loader.next()
        let resumed = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: config, logger: silentLogger,
                                      resumingFrom: batch.cursor)
        defer { resumed.close() }
        #expect(try resumed.next().refs == next.refs)
    }

    // MARK: Values from files that used to trap

    @Test("a cursor from a damaged checkpoint (negative or huge positions) is a cursorMismatch, not a trap")
    func damagedCursor() throws {
        let config = ShardLoaderTests.configuration()
        let loader = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: config, logger: silentLogger)
        let good = try loader.next().cursor
        loader.close()
        var cursors: [WebDatasetCursor] = []
        var c = good; c.workers[0].visit = -1; cursors.append(c)
        c = good; c.workers[1].slot = -5; cursors.append(c)
        c = good; c.batchesDelivered = -1; cursors.append(c)
        c = good; c.epoch = Int.max; cursors.append(c)
        c = good; c.samplesDelivered = Int.max; cursors.append(c)
        for bad in cursors {
            #expect(throws: WebDatasetError.self) {
                _ = try ShardLoader(shards: try ShardFixture.shards(), bins: nil, configuration: config, logger: silentLogger,
                                    resumingFrom: bad)
            }
        }
    }

    @Test(".npy header whose shape × item size overflows is a format problem, not a trap")
    func npyOverflow() {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }"
        var header = [UInt8](dict.utf8)
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        let bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header + [0, 0, 0, 0]
        #expect(throws: (any Error).self) { _ = try NPYMemberHeader.parse(bytes, memberSize: bytes.count) }
    }

    @Test("a tar header with a base-256 size near Int64.max is damage, not a trap")
    func hugeTarSize() throws {
        var block = [UInt8](repeating: 0, count: 512)
        for (i, b) in "a.json".utf8.enumerated() { block[i] = b }
        for (i, b) in "0000644\0".utf8.enumerated() { block[100 + i] = b }
        block[124] = 0x80  // GNU base-256: Int64.max - 100 in the last eight bytes
        for (i, b) in withUnsafeBytes(of: (Int64.max - 100).bigEndian, Array.init).enumerated() { block[128 + i] = b }
        block[156] = UInt8(ascii: "0")
        for (i, b) in "ustar\u{0}00".utf8.enumerated() { block[257 + i] = b }
        for i in 148..<156 { block[i] = 0x20 }
        let sum = block.reduce(0) { $0 + Int($1) }
        for (i, b) in String(format: "%06o\0 ", sum).utf8.enumerated() { block[148 + i] = b }
        let scan = TarArchive(data: Data(block + [UInt8](repeating: 0, count: 1024)), name: "huge.tar").scan()
        let damage = try #require(scan.damage)
        #expect("\(damage)".contains("huge.tar"))
    }

    @Test("a bins cache whose name claims an absurd number of bins is an error, not a trap")
    func absurdBinsInName() throws {
        let dir = fm.temporaryDirectory.appendingPathComponent("miro-bins-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        let url = dir.appendingPathComponent("coherence_bins_9223372036854775807_bins_a_synthetic_prob_0.5.json")
        try Data(#"{"a": [0.0, 1.0]}"#.utf8).write(to: url)
        #expect(throws: RewardBinsError.invalidNumBins(file: url.path, numBins: Int.max)) {
            _ = try RewardBins.readCache(url, expectedRewards: ["a"])
        }
    }

    // MARK: Case 4 (library side): the bins builder writes nothing it cannot stand behind

    @Test("the bins builder refuses a file root, a missing root and unreadable tars, naming the path, writing nothing")
    func binsBuilderRefuses() throws {
        let dir = fm.temporaryDirectory.appendingPathComponent("miro-bins-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        let file = dir.appendingPathComponent("x.tar")
        try Self.randomBytes(2048, seed: 9).write(to: file)
        for root in [file, dir.appendingPathComponent("nowhere")] {
            do { _ = try BinsCacheBuilder().build(root: root); Issue.record("expected an error for \(root.path)") } catch {
                #expect("\(error)".contains(root.path), "\(error)")
                #expect(!"\(error)".contains("error 256"))
            }
        }
        do { _ = try BinsCacheBuilder().build(root: dir); Issue.record("expected an error") } catch {
            #expect("\(error)".contains(file.path) && "\(error)".contains("nothing written") && "\(error)".contains("failed reading"), "\(error)")
        }
        #expect(try fm.contentsOfDirectory(atPath: dir.path) == ["x.tar"])
    }
}
