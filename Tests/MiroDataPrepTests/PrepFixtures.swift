import Foundation
import Logging
import MiroData
import MiroDataPrep
import MiroFormats
import MiroImage
import MiroRewards

/// Small generated datasets and a counting test reward for the MiroDataPrep suites.
enum PrepFixtures {
    static func scratch(_ name: String = #function) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("miro-prep-\(ProcessInfo.processInfo.processIdentifier)")
            .appendingPathComponent(name.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static let logger = Logger(label: "test.prep")

    /// A simulated crash.
    struct Crash: Error {}

    /// A `side`×`side` PNG whose colours depend on `seed`.
    static func png(seed: Int, width: Int = 8, height: Int = 8) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for i in 0..<(width * height) {
            bytes += [UInt8(truncatingIfNeeded: seed * 37 + i * 3), UInt8(truncatingIfNeeded: seed * 11 + i), UInt8(truncatingIfNeeded: 200 - seed)]
        }
        return [UInt8](try PNG.encode(bytes: bytes, width: width, height: height, alpha: false))
    }

    /// `shards` tars of `perShard` samples (`png`, `txt`, `json` with `caption` / `synthetic_caption` on some, and an
    /// extra `cls` member), written into `dir`; returns their URLs.
    @discardableResult
    static func tarDataset(in dir: URL, shards: Int, perShard: Int, side: Int = 8) throws -> [URL] {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var urls: [URL] = []
        for s in 0..<shards {
            var members: [(name: String, data: [UInt8])] = []
            for i in 0..<perShard {
                let key = String(format: "%05d%03d", s, i)
                let n = s * perShard + i
                members.append(("\(key).cls", Array("\(n % 3)".utf8)))
                members.append(("\(key).png", try png(seed: n, width: side, height: side)))
                var json = #"{"width": \#(side), "height": \#(side), "score": 1.50"#
                if n % 2 == 0 { json += #", "synthetic_caption": "a long synthetic caption \#(n) <PERSON>""# }
                if n % 3 == 0 { json += #", "caption": "short \#(n)""# }
                json += "}"
                members.append(("\(key).json", Array(json.utf8)))
                members.append(("\(key).txt", Array("caption <PERSON>number \(n)".utf8)))
            }
            let url = dir.appendingPathComponent(String(format: "shard-%03d.tar", s))
            try TarWriter.archive(members).write(to: url)
            urls.append(url)
        }
        return urls
    }

    /// Every regular file under `dir` (relative path → bytes), hidden work files included or not.
    static func files(_ dir: URL, hidden: Bool = false) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let base = dir.resolvingSymlinksInPath().path
        guard let e = FileManager.default.enumerator(atPath: base) else { return out }
        for case let rel as String in e {
            if !hidden, rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            var isDir: ObjCBool = false
            let path = base + "/" + rel
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: path)
            }
        }
        return out
    }

    /// Members of a tar as (name, bytes), in order.
    static func members(_ url: URL) throws -> [(name: String, data: [UInt8])] {
        let archive = try TarArchive(url: url)
        return try archive.members().map { ($0.name, try archive.read($0)) }
    }
}

/// Counts model loads and calls across a run (the factories are `@Sendable`).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Int] = [:]
    func add(_ key: String, _ n: Int = 1) { lock.lock(); values[key, default: 0] += n; lock.unlock() }
    func get(_ key: String) -> Int { lock.lock(); defer { lock.unlock() }; return values[key] ?? 0 }
}

/// A deterministic reward of image and caption: the mean red value plus the caption length / 1000. It can be told
/// to fail after `failAfter` calls (a crash mid-run).
struct TestReward: RewardModel {
    let name: String
    let counter: Counter
    var failAfter: Int? = nil

    struct Crash: Error {}

    func score(images: [RGBImage], captions: [String]) throws -> [Float] {
        try checkPairing(images: images, captions: captions)
        counter.add(name + ".calls")
        if let failAfter, counter.get(name + ".calls") > failAfter { throw Crash() }
        return zip(images, captions).map { image, caption in
            let reds = stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }
            return reds.reduce(0, +) / Float(max(1, reds.count)) + Float(caption.count) / 1000
        }
    }

    static func spec(_ name: String, _ kind: SyntheticCaption, counter: Counter, failAfter: Int? = nil) -> RewardSpec {
        RewardSpec(name: name, syntheticCaption: kind) {
            counter.add(name + ".loads")
            return TestReward(name: name, counter: counter, failAfter: failAfter)
        }
    }
}
