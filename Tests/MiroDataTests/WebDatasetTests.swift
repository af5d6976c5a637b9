import Foundation
import Testing
import MiroData
import MiroFormats

/// The tar / index / JSON / `.npy` / Python-random layers under the loader, against the fixtures of
/// `scripts/make_shard_fixtures.py` (Fixtures/shards/: PAX, ustar, GNU and PAX-with-global-header shards, a
/// truncated one, and CPython reference draws).
@Suite("WebDataset: tar, keys, index")
struct WebDatasetTests {
    // MARK: Keys

    @Test("the key is the path up to the basename's first dot; the suffix is the rest")
    func keyRule() {
        #expect(WebDatasetKey.split("000000042.vae_embeddings_mean_256.npy")! == ("000000042", "vae_embeddings_mean_256.npy"))
        #expect(WebDatasetKey.split("a/b/000.json")! == ("a/b/000", "json"))
        #expect(WebDatasetKey.split("dir.v2/000.json")! == ("dir.v2/000", "json"))  // dots in directories stay in the key
        #expect(WebDatasetKey.split("key.")! == ("key", ""))
        #expect(WebDatasetKey.split("README") == nil)
        #expect(WebDatasetKey.split("dir/.hidden.json") == nil)
        #expect(WebDatasetKey.split("dir.x/noext") == nil)
    }

    // MARK: Tar formats

    @Test("PAX, ustar (name prefix), GNU long names and PAX global/x headers all give the written keys",
          arguments: [0, 1, 2, 3, 4])
    func tarFormats(shard: Int) throws {
        let expected = try ShardFixture.expected()["shards"]!.array![shard]
        let archive = try TarArchive(url: try ShardFixture.url(expected["file"]!.string!))
        let members = try archive.members()
        #expect(!members.contains { $0.name.contains("@") || $0.name.contains("PaxHeader") })
        let index = ShardIndex(archive: archive)
        #expect(index.damage == nil)
        #expect(index.samples.map(\.key) == expected["keys"]!.array!.map { $0.string! })
        #expect(index.count == expected["nsamples"]!.integer!)
        // Long names survive each format's long-name mechanism.
        let longest = index.samples.map(\.key.count).max()!
        if [1, 2, 3].contains(shard) { #expect(longest > 100) }
        // Member data by offset: the JSON of the first sample parses and carries its width.
        let first = index.samples[0]
        let meta = try PythonJSON.parse(try archive.read(first.members["json"]!))
        #expect(meta["width"]?.integer == expected["samples"]!.array![0]["width"]!.integer)
    }

    @Test("a truncated shard: scan keeps the samples, the last member is incomplete, members() names shard and member")
    func truncatedShard() throws {
        let url = try ShardFixture.url("shard-000005.tar")
        let archive = try TarArchive(url: url)
        let scan = archive.scan()
        #expect(scan.endsInsideMember)
        let last = try #require(scan.members.last)
        #expect(last.name == "000000053.vae_embeddings_std_256.npy")
        #expect(!last.isComplete)
        #expect(ShardIndex(archive: archive).count == 4)
        do {
            _ = try archive.members()
            Issue.record("expected an error")
        } catch let WebDatasetError.tarDamaged(shard, member, _, reason) {
            #expect(shard == url.path)
            #expect(member == "000000053.vae_embeddings_std_256.npy")
            #expect(reason.contains("cut short"))
        }
        #expect(throws: WebDatasetError.self) { _ = try archive.read(last) }
    }

    @Test("a bad header checksum stops the scan there, keeps the members before it and names the member")
    func badChecksum() throws {
        var bytes = [UInt8](try Data(contentsOf: try ShardFixture.url("shard-000000.tar")))
        let archive0 = TarArchive(data: Data(bytes), name: "mem.tar")
        let members = try archive0.members()
        let victim = members[3]
        bytes[Int(victim.headerOffset) + 10] ^= 0x01  // flip a bit of the name: the checksum no longer matches
        let damaged = TarArchive(data: Data(bytes), name: "mem.tar")
        let scan = damaged.scan()
        #expect(scan.members == Array(members[0..<3]))
        #expect(!scan.endsInsideMember)
        guard case let .tarDamaged(shard, _, offset, reason)? = scan.damage else {
            Issue.record("expected damage, got \(String(describing: scan.damage))")
            return
        }
        #expect(shard == "mem.tar")
        #expect(offset == victim.headerOffset)
        #expect(reason.contains("checksum"))
        #expect(throws: WebDatasetError.self) { _ = try damaged.members() }
    }

    // MARK: WIDS index

    @Test("wids-index.json: read, rebuild from the tars (distinct keys), write and read back")
    func widsIndex() throws {
        let dir = try ShardFixture.directory()
        let index = try WIDSIndex.read(dir.appendingPathComponent(WIDSIndex.fileName))
        let expected = try ShardFixture.expected()["shards"]!.array!
        #expect(index.shardlist.map(\.url) == expected.map { $0["file"]!.string! })
        #expect(index.shardlist.map(\.nsamples) == expected.map { $0["nsamples"]!.integer! })
        let rebuilt = try WIDSIndex.build(directory: dir)  // relative urls, plus each shard's filesize
        #expect(rebuilt.shardlist.map(\.url) == index.shardlist.map(\.url))
        #expect(rebuilt.shardlist.map(\.nsamples) == index.shardlist.map(\.nsamples))
        let absolute = try WIDSIndex.build(directory: dir, relativeURLs: false)
        #expect(absolute.shardlist.allSatisfy { $0.url.hasPrefix(dir.path + "/") })

        let text = String(decoding: index.jsonData(), as: UTF8.self)
        #expect(text.hasPrefix(#"{"__kind__": "wids-shard-index-v1", "wids_version": 1, "shardlist": [{"url": "shard-000000.tar", "nsamples": 5}, "#))
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("wids-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try index.write(to: tmp)
        #expect(try WIDSIndex.read(tmp) == index)

        // MIRO's own builder writes no __kind__; such an index reads the same.
        let official = #"{"wids_version": 1, "shardlist": [{"url": "/data/a.tar", "nsamples": 3}]}"#
        try Data(official.utf8).write(to: tmp)
        #expect(try WIDSIndex.read(tmp).shardlist == [WIDSShard(url: "/data/a.tar", nsamples: 3)])
        try Data(#"{"shardlist": [{"url": "a.tar", "nsamples": -1}]}"#.utf8).write(to: tmp)
        #expect(throws: WebDatasetError.self) { try WIDSIndex.read(tmp) }

        let resolved = index.resolvedShards(indexDirectory: dir)
        #expect(resolved.allSatisfy { FileManager.default.fileExists(atPath: $0.file.path) })
    }

    // MARK: Python json / npy / random

    @Test("json.loads dialect: NaN and Infinity literals, int vs float, last duplicate wins, strict errors")
    func pythonJSON() throws {
        let v = try PythonJSON.parse(Array(#" {"a": NaN, "b": -Infinity, "c": 2, "d": 2.0, "e": true, "c": 3, "s": "\u00e9\ud83d\ude00\n"} "#.utf8))
        #expect(v["a"]!.number!.isNaN)
        #expect(v["b"] == .float(-.infinity))
        #expect(v["c"] == .int(3))
        #expect(v["d"] == .float(2))
        #expect(v["e"]?.number == 1)
        #expect(v["s"]?.string == "é😀\n")
        for bad in [#"{"a": 1,}"#, #"{"a": 01}"#, "[1 2]", #"{"a": "x\u{01}"}"#, "{", #"{"a": 1} x"#, "nan", "1."] {
            #expect(throws: PythonJSONError.self, "\(bad)") { _ = try PythonJSON.parse(Array(bad.utf8)) }
        }
    }

    @Test(".npy member headers: versions, dtypes, shapes and sizes are validated without reading the data")
    func npyHeaders() throws {
        func npy(_ header: String, version: UInt8 = 1, payload: Int) -> [UInt8] {
            var h = Array(header.utf8)
            let pre = version == 1 ? 10 : 12
            while (pre + h.count + 1) % 64 != 0 { h.append(0x20) }
            h.append(0x0A)
            var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
            if version == 1 { out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] } else { out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8), 0, 0] }
            return out + h + [UInt8](repeating: 0, count: payload)
        }
        let good = npy("{'descr': '<f2', 'fortran_order': False, 'shape': (4, 32, 32), }", payload: 8192)
        let h = try NPYMemberHeader.parse(good, memberSize: good.count)
        #expect(h.shape == [4, 32, 32] && h.itemSize == 2 && h.dataOffset == 128)  // numpy pads the header to 64-byte multiples
        let v2 = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", version: 2, payload: 12)
        #expect(try NPYMemberHeader.parse(v2, memberSize: v2.count).shape == [3])
        let trailing = npy("{'shape': (2, 2), 'fortran_order': False, 'descr': '<f2'}", payload: 10)
        #expect(try NPYMemberHeader.parse(trailing, memberSize: trailing.count).shape == [2, 2])  // np.load ignores extra bytes
        for bad in [npy("{'descr': '<f2', 'fortran_order': False, 'shape': (4, 32, 32), }", payload: 8190),
                    npy("{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }", payload: 4),
                    npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", payload: 16),
                    npy("{'descr': '<f2', 'fortran_order': True, 'shape': (2, 3), }", payload: 12),
                    npy("{'descr': '<f2', 'shape': (2,), }", payload: 4),
                    Array("not an npy file at all".utf8)] {
            #expect(throws: (any Error).self) { _ = try NPYMemberHeader.parse(bad, memberSize: bad.count) }
        }
    }

    @Test("PythonRandom reproduces CPython 3.11 random.Random draws exactly")
    func pythonRandom() throws {
        for entry in try ShardFixture.expected()["python_random"]!.array! {
            var r = PythonRandom(seed: entry["seed"]!.integer!)
            #expect((0..<5).map { _ in r.random() } == entry["random"]!.array!.map { $0.number! })
            let bits = [1, 7, 32, 33, 64].map { r.getrandbits($0) }
            // expected.json holds Python ints; compare through Double for the 64-bit one's magnitude only.
            #expect(bits.prefix(4).map { Double($0) } == entry["getrandbits"]!.array!.prefix(4).map { $0.number! })
            #expect(Double(bits[4]) == entry["getrandbits"]!.array![4].number!)
            #expect([1, 2, 3, 10, 1000, 2_147_483_659].map { r.randbelow($0) } == entry["randbelow"]!.array!.map { $0.integer! })
            #expect(r.sampleIndices(100, 10) == entry["sample_small"]!.array!.map { $0.integer! })
            #expect(r.sampleIndices(1_000_000, 10) == entry["sample_large"]!.array!.map { $0.integer! })
            #expect(r.sampleIndices(40, 40) == entry["sample_k"]!.array!.map { $0.integer! })
            var x = Array(0..<30)
            r.shuffle(&x)
            #expect(x == entry["shuffle"]!.array!.map { $0.integer! })
            #expect(r.random() == entry["after"]!.number!)
        }
    }

    @Test("EpochPlan equals the official ShardExclusiveSampler's shard groups and sample orders")
    func samplerPlan() throws {
        let sizes = try ShardFixture.expected()["shards"]!.array!.map { $0["nsamples"]!.integer! }
        for case_ in try ShardFixture.expected()["sampler"]!.array! {
            let plan = EpochPlan(epoch: case_["epoch"]!.integer!, shardSizes: sizes, rank: case_["rank"]!.integer!,
                                 worldSize: case_["world_size"]!.integer!, numWorkers: case_["num_workers"]!.integer!,
                                 seed: case_["seed"]!.integer!, shuffle: case_["shuffle"] == .bool(true))
            let want = case_["workers"]!.array!.map { w in
                w.array!.map { ($0["shard"]!.integer!, $0["order"]!.array!.map { $0.integer! }) }
            }
            #expect(plan.workers.count == want.count)
            for (got, exp) in zip(plan.workers, want) {
                #expect(got.map(\.shard) == exp.map(\.0))
                #expect(got.map { $0.order() } == exp.map(\.1))
            }
        }
    }
}
