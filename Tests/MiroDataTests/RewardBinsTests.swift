import Foundation
import Testing
import MiroData
import MiroFormats
import MiroRewards

/// Fixtures in Fixtures/bins/, written by `scripts/make_bins_fixtures.py` (numpy 1.24.2 re-implementation of
/// the official `_compute_bins` / bucketize / cache writer, cross-checked bit for bit against torch 2.5.1).
private enum BinsFixture {
    struct Case: Decodable {
        var name: String
        var values: String
        var count: Int
        var numBins: Int
        var strategy: String
        var uniqueF32: Int
        var fallbackUniform: Bool
        var edgesF32Bits: [UInt32]
        var probesF64Hex: [String?]
        var expectedF32Bits: [UInt32]
    }
    struct Cache: Decodable {
        var file: String
        var order: [String]
        var fromCase: [String: String]
        var numBins: Int
        var synthProb: Double
    }
    struct FileName: Decodable {
        var rewards: [String]
        var numBins: Int
        var synthProbHex: String
        var strategy: String
        var expected: String
    }
    struct Expected: Decodable {
        var cases: [Case]
        var cache: Cache
        var fileNames: [FileName]
        var reprTable: [[String]]
    }

    static func directory() throws -> URL {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures resource missing")
        return root.appendingPathComponent("bins")
    }

    static func expected() throws -> Expected {
        let data = try Data(contentsOf: directory().appendingPathComponent("expected.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Expected.self, from: data)
    }

    static func values(_ file: String) throws -> [Double] {
        let data = try Data(contentsOf: directory().appendingPathComponent(file))
        #expect(data.count % 8 == 0)
        return (0..<(data.count / 8)).map { i in
            var bits: UInt64 = 0
            for b in 0..<8 { bits |= UInt64(data[data.startIndex + 8 * i + b]) << (8 * b) }
            return Double(bitPattern: bits)
        }
    }

    static func double(hex: String) -> Double { Double(bitPattern: UInt64(hex, radix: 16)!) }

    static func strategy(_ s: String) throws -> RewardBins.Strategy {
        try #require(RewardBins.Strategy(rawValue: s))
    }

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("miro-bins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Fitted bins of the four rewards of the cache fixture.
    static func cacheBins(_ exp: Expected) throws -> RewardBins {
        var vals: [String: [Double]] = [:]
        for (reward, caseName) in exp.cache.fromCase {
            let c = try #require(exp.cases.first { $0.name == caseName })
            vals[reward] = try values(c.values)
        }
        return RewardBins.fit(values: vals, numBins: exp.cache.numBins, strategy: .quantile)
    }

    static func write(_ text: String, named name: String, in dir: URL) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }
}

@Suite("RewardBins: official edges, conditioning values and cache")
struct RewardBinsTests {
    @Test("edges match the official _compute_bins bit for bit (quantile, uniform, fallback, dedupe, B=16)")
    func edgesMatch() throws {
        let exp = try BinsFixture.expected()
        #expect(exp.cases.count >= 7)
        for c in exp.cases {
            let vals = try BinsFixture.values(c.values)
            #expect(vals.count == c.count, "\(c.name)")
            let edges = try #require(
                RewardBins.computeEdges(vals, numBins: c.numBins, strategy: try BinsFixture.strategy(c.strategy)),
                "\(c.name)")
            let want = c.edgesF32Bits.map { Double(Float(bitPattern: $0)) }
            #expect(edges.count == want.count, "\(c.name): \(edges.count) edges, want \(want.count)")
            var maxRel = 0.0
            for (a, b) in zip(edges, want) {
                maxRel = max(maxRel, b == 0 ? abs(a) : abs(a - b) / abs(b))
                #expect(a.bitPattern == b.bitPattern, "\(c.name): \(a) vs \(b)")
            }
            #expect(maxRel <= 1e-12, "\(c.name)")
            // float32 values widened exactly; strictly increasing
            #expect(edges.allSatisfy { Double(Float($0)) == $0 })
            #expect(zip(edges, edges.dropFirst()).allSatisfy { $0 < $1 }, "\(c.name)")
        }
        let byName = Dictionary(uniqueKeysWithValues: exp.cases.map { ($0.name, $0) })
        #expect(byName["few_unique"]?.fallbackUniform == true)
        #expect(byName["dedupe"]?.edgesF32Bits.count == 63)
        #expect(byName["beta_reward"]?.edgesF32Bits.count == 65)
    }

    @Test("fit over several rewards equals per-reward edges; rewards without finite values are skipped")
    func fitDictionary() throws {
        let exp = try BinsFixture.expected()
        let c = try #require(exp.cases.first { $0.name == "heavy_ties" })
        let vals = try BinsFixture.values(c.values)
        #expect(vals.contains { $0.isNaN })  // NaNs in the set are dropped
        let bins = RewardBins.fit(values: ["a": vals, "empty": [], "nan_only": [.nan, .nan]], numBins: 64)
        #expect(bins.numBins == 64)
        #expect(Set(bins.edges.keys) == ["a"])
        #expect(bins.edges["a"] == RewardBins.computeEdges(vals, numBins: 64))
        #expect(RewardBins.computeEdges([], numBins: 64) == nil)
    }

    @Test("conditioning values match torch.bucketize + max(0, idx-1)/(B-1) exactly")
    func conditioningValuesMatch() throws {
        let exp = try BinsFixture.expected()
        var checked = 0
        for c in exp.cases {
            let edges = c.edgesF32Bits.map { Double(Float(bitPattern: $0)) }
            let bins = RewardBins(edges: ["r": edges], numBins: c.numBins)
            let scores = c.probesF64Hex.map { $0.map(BinsFixture.double(hex:)) }
            let got = bins.conditioningValues(scores, reward: "r")
            #expect(got.count == c.expectedF32Bits.count)
            for (i, (g, w)) in zip(got, c.expectedF32Bits).enumerated() {
                let want = Float(bitPattern: w)
                if want.isNaN {
                    #expect(g.isNaN && scores[i] == nil, "\(c.name) probe \(i)")
                } else {
                    #expect(g.bitPattern == w, "\(c.name) probe \(i): score \(String(describing: scores[i])) → \(g), want \(want)")
                }
                checked += 1
            }
        }
        #expect(checked > 900)
    }

    @Test("conditioning grid: k/63, ≤ first edge → 0, above the last edge → (E-1)/(B-1), missing → NaN")
    func conditioningSemantics() {
        let edges = (0...64).map { Double(Float($0) / 64) }
        let bins = RewardBins(edges: ["r": edges], numBins: 64)
        #expect(bins.conditioningValue(nil, reward: "r").isNaN)
        #expect(bins.conditioningValue(-3, reward: "r") == 0)
        #expect(bins.conditioningValue(0, reward: "r") == 0)
        // exactly on an edge: that edge is not strictly below → right-closed bucket
        #expect(bins.conditioningValue(Double(Float(10) / 64), reward: "r") == Float(9.0 / 63.0))
        #expect(bins.conditioningValue(Double(Float(10) / 64).nextUp, reward: "r") == Float(9.0 / 63.0))  // rounds to the edge in float32
        #expect(bins.conditioningValue(Double(Float(10) / 64) + 1e-6, reward: "r") == Float(10.0 / 63.0))
        #expect(bins.conditioningValue(1.0, reward: "r") == 1)
        #expect(bins.conditioningValue(1.5, reward: "r") == Float(64.0 / 63.0))
        #expect(bins.conditioningValue(.nan, reward: "r") == Float(64.0 / 63.0))  // torch: NaN lands past every edge
        #expect(bins.conditioningValue(0.7, reward: "unbinned") == Float(0.7))  // official pass-through
        let rec = bins.conditioningValues(record: ["r": 1.0], rewards: ["r", "s"])
        #expect(rec[0] == 1 && rec[1].isNaN)
    }

    @Test("cache bytes and file name equal json.dumps output of the official script")
    func cacheBytes() throws {
        let exp = try BinsFixture.expected()
        let bins = try BinsFixture.cacheBins(exp)
        let fixture = try Data(contentsOf: BinsFixture.directory().appendingPathComponent(exp.cache.file))
        #expect(try bins.cacheJSON(rewardOrder: exp.cache.order) == fixture)
        #expect(RewardBins.cacheFileName(rewardNames: exp.cache.order, numBins: 64, synthProb: exp.cache.synthProb)
            == exp.cache.file)
        let dir = try BinsFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // overwrite an existing file atomically; no temporary file is left behind
        try Data("stale".utf8).write(to: dir.appendingPathComponent(exp.cache.file))
        let url = try bins.writeCache(to: dir, synthProb: exp.cache.synthProb, rewardOrder: exp.cache.order)
        #expect(url.lastPathComponent == exp.cache.file)
        #expect(try Data(contentsOf: url) == fixture)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [exp.cache.file])
        // default order: sorted keys, same values
        let sortedJSON = try #require(String(data: bins.cacheJSON(), encoding: .utf8))
        #expect(sortedJSON.hasPrefix("{\"aesthetic_score\": [-0.10161028802394867, -0.012275820598006248, 0.0, "))
        #expect(sortedJSON.contains("], \"clip_score\": [0.0, 0.032662030309438705, "))
        #expect(!sortedJSON.hasSuffix("\n"))
        #expect(throws: RewardBinsError.self) { try bins.cacheJSON(rewardOrder: ["clip_score"]) }
    }

    @Test("reading the fixture cache gives the fitted edges back exactly")
    func readCache() throws {
        let exp = try BinsFixture.expected()
        let bins = try BinsFixture.cacheBins(exp)
        let url = try BinsFixture.directory().appendingPathComponent(exp.cache.file)
        let read = try RewardBins.readCache(url, expectedRewards: exp.cache.order.reversed())
        #expect(read == bins)
        #expect(read.numBins == 64)
        let explicit = try RewardBins.readCache(url, expectedRewards: exp.cache.order, numBins: 64)
        #expect(explicit == bins)
        // Codable round trip
        let again = try JSONDecoder().decode(RewardBins.self, from: JSONEncoder().encode(read))
        #expect(again == read)
    }

    @Test("cache errors name the file and the field")
    func cacheErrors() throws {
        let exp = try BinsFixture.expected()
        let url = try BinsFixture.directory().appendingPathComponent(exp.cache.file)
        let name = exp.cache.file

        do {
            _ = try RewardBins.readCache(url, expectedRewards: ["clip_score", "vqa_score"])
            Issue.record("no error")
        } catch let e as RewardBinsError {
            guard case let .rewardSetMismatch(file, expected, found) = e else { Issue.record("\(e)"); return }
            #expect(file.hasSuffix(name))
            #expect(expected == ["clip_score", "vqa_score"])
            #expect(found == ["aesthetic_score", "clip_score", "hpsv2_score", "image_reward_score"])
            #expect(e.description.contains("missing: [vqa_score]"))
            #expect(e.description.contains("unexpected: [aesthetic_score, hpsv2_score, image_reward_score]"))
        }

        #expect(throws: RewardBinsError.numBinsMismatch(file: url.path, expected: 32, inFileName: 64)) {
            try RewardBins.readCache(url, expectedRewards: exp.cache.order, numBins: 32)
        }

        let dir = try BinsFixture.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cname = "coherence_bins_4_bins_a_synthetic_prob_0.5.json"
        let bad = try BinsFixture.write("{\"a\": [0.0, 0.5, 0.25, 1.0]}", named: cname, in: dir)
        #expect(throws: RewardBinsError.nonMonotonicEdges(file: bad.path, reward: "a", index: 2, previous: 0.5, value: 0.25)) {
            try RewardBins.readCache(bad, expectedRewards: ["a"])
        }
        let dup = try BinsFixture.write("{\"a\": [0.0, 0.5, 0.5, 1.0]}", named: cname, in: dir)
        #expect(throws: RewardBinsError.nonMonotonicEdges(file: dup.path, reward: "a", index: 2, previous: 0.5, value: 0.5)) {
            try RewardBins.readCache(dup, expectedRewards: ["a"])
        }
        let many = try BinsFixture.write("{\"a\": [0.0, 0.1, 0.2, 0.3, 0.4, 1.0]}", named: cname, in: dir)
        #expect(throws: RewardBinsError.wrongEdgeCount(file: many.path, reward: "a", count: 6, numBins: 4)) {
            try RewardBins.readCache(many, expectedRewards: ["a"])
        }
        let one = try BinsFixture.write("{\"a\": [0.0]}", named: cname, in: dir)
        #expect(throws: RewardBinsError.wrongEdgeCount(file: one.path, reward: "a", count: 1, numBins: 4)) {
            try RewardBins.readCache(one, expectedRewards: ["a"])
        }
        let notNumber = try BinsFixture.write("{\"a\": [0.0, \"x\", 1.0]}", named: cname, in: dir)
        do {
            _ = try RewardBins.readCache(notNumber, expectedRewards: ["a"])
            Issue.record("no error")
        } catch let e as RewardBinsError {
            guard case let .malformed(file, field, _) = e else { Issue.record("\(e)"); return }
            #expect(file == notNumber.path)
            #expect(field == "a[1]")
        }
        let notJSON = try BinsFixture.write("{\"a\": [0.0, ", named: cname, in: dir)
        let syntax = #expect(throws: RewardBinsError.self) { try RewardBins.readCache(notJSON, expectedRewards: ["a"]) }
        #expect(syntax?.description.contains("not valid JSON: unexpected end of input (byte 12)") == true)
        // json.dumps writes NaN for a non-finite edge; json.load reads it, and it is rejected as an edge, not as JSON.
        let nonFinite = try BinsFixture.write("{\"a\": [0.0, NaN, 1.0]}", named: cname, in: dir)
        #expect(throws: RewardBinsError.nonFiniteEdge(file: nonFinite.path, reward: "a", index: 1)) {
            try RewardBins.readCache(nonFinite, expectedRewards: ["a"])
        }
        let odd = try BinsFixture.write("{\"a\": [0.0, 1.0]}", named: "bins.json", in: dir)
        #expect(throws: RewardBinsError.unknownNumBins(file: odd.path)) {
            try RewardBins.readCache(odd, expectedRewards: ["a"])
        }
        #expect(try RewardBins.readCache(odd, expectedRewards: ["a"], numBins: 8).edges == ["a": [0.0, 1.0]])
        let missing = dir.appendingPathComponent(cname + ".missing")
        do {
            _ = try RewardBins.readCache(missing, expectedRewards: ["a"], numBins: 4)
            Issue.record("no error")
        } catch let e as RewardBinsError {
            guard case let .unreadable(file, _) = e else { Issue.record("\(e)"); return }
            #expect(file == missing.path)
        }
    }

    @Test("cache file names follow the official f-string (Python float formatting of p)")
    func fileNames() throws {
        let exp = try BinsFixture.expected()
        #expect(exp.fileNames.count >= 6)
        for n in exp.fileNames {
            let got = RewardBins.cacheFileName(rewardNames: n.rewards, numBins: n.numBins,
                                               synthProb: BinsFixture.double(hex: n.synthProbHex),
                                               strategy: try BinsFixture.strategy(n.strategy))
            #expect(got == n.expected)
        }
        #expect(RewardBins.cacheFileName(rewardNames: ["vqa_score", "clip_score"], numBins: 64, synthProb: 0)
            == "coherence_bins_64_bins_clip_score-vqa_score_synthetic_prob_0.0.json")
    }

    @Test("Python float repr table")
    func pythonRepr() throws {
        let table = try BinsFixture.expected().reprTable
        #expect(table.count > 400)
        for row in table {
            let x = BinsFixture.double(hex: row[0])
            #expect(PythonFloatRepr.string(x) == row[1], "bits \(row[0])")
        }
        #expect(PythonFloatRepr.string(.nan) == "nan")
        #expect(PythonJSON.float(-.infinity).dumps() == "-Infinity")
        #expect(PythonJSON.quoted("a\"b\\c\né\u{1F600}\u{7F}") == "\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\\u007f\"")
    }
}
