import Foundation
import Testing
import MiroFormats

@Suite
struct HuggingFaceCacheTests {
    let home = URL(fileURLWithPath: "/home/someone")

    @Test("the cache root follows huggingface_hub's order of environment variables")
    func root() {
        func root(_ env: [String: String]) -> String { HuggingFaceCache(environment: env, home: home).root.path }
        #expect(root([:]) == "/home/someone/.cache/huggingface/hub")
        #expect(root(["XDG_CACHE_HOME": "/xdg"]) == "/xdg/huggingface/hub")
        #expect(root(["HF_HOME": "/data/hf", "XDG_CACHE_HOME": "/xdg"]) == "/data/hf/hub")
        #expect(root(["HF_HOME": "~/hf"]) == "/home/someone/hf/hub")
        #expect(root(["HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/data/hf"]) == "/legacy")
        #expect(root(["HF_HUB_CACHE": "/hub", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HOME": "/data/hf"]) == "/hub")
        #expect(root(["HF_HUB_CACHE": ""]) == "/home/someone/.cache/huggingface/hub")
    }

    /// A fake cache: `models--google--flan-t5-xl` with the given snapshots and refs.
    func makeCache(snapshots: [String], refs: [String: String]) throws -> HuggingFaceCache {
        let root = try temporaryDirectory()
        let repo = root.appendingPathComponent("models--google--flan-t5-xl")
        let fm = FileManager.default
        for (i, name) in snapshots.enumerated() {
            let folder = repo.appendingPathComponent("snapshots/\(name)")
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
            // Distinct modification times, in creation order.
            try fm.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000 + Double(i) * 100)],
                                 ofItemAtPath: folder.path)
        }
        for (name, commit) in refs {
            let file = repo.appendingPathComponent("refs/\(name)")
            try fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data((commit + "\n").utf8).write(to: file)
        }
        return HuggingFaceCache(environment: ["HF_HUB_CACHE": root.path], home: home)
    }

    @Test("refs/main picks the snapshot; a branch, a commit hash, and the newest snapshot without refs")
    func snapshots() throws {
        let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40), c = String(repeating: "c", count: 40)
        let cache = try makeCache(snapshots: [a, b, c], refs: ["main": a, "dev": b])
        #expect(try cache.repositoryFolder(repoId: "google/flan-t5-xl").lastPathComponent == "models--google--flan-t5-xl")
        #expect(try cache.snapshot(repoId: "google/flan-t5-xl").lastPathComponent == a)
        #expect(try cache.snapshot(repoId: "google/flan-t5-xl", revision: "dev").lastPathComponent == b)
        #expect(try cache.snapshot(repoId: "google/flan-t5-xl", revision: c).lastPathComponent == c)

        let noRefs = try makeCache(snapshots: [b, c, a], refs: [:])
        #expect(try noRefs.snapshot(repoId: "google/flan-t5-xl").lastPathComponent == a)  // created last = newest
        let single = try makeCache(snapshots: [c], refs: [:])
        #expect(try single.snapshot(repoId: "google/flan-t5-xl").lastPathComponent == c)
    }

    @Test("missing repositories, revisions and snapshots, and unsafe names, are errors that say what was looked at")
    func errors() throws {
        let a = String(repeating: "a", count: 40)
        let cache = try makeCache(snapshots: [a], refs: ["main": String(repeating: "d", count: 40)])
        #expect(thrownDescription { _ = try cache.snapshot(repoId: "google/flan-t5-xxl") }?
            .contains("'google/flan-t5-xxl' is not in the Hugging Face cache") == true)
        #expect(thrownDescription { _ = try cache.snapshot(repoId: "google/flan-t5-xl") }?
            .contains("refs/main names commit dddd") == true)
        #expect(thrownDescription { _ = try cache.snapshot(repoId: "google/flan-t5-xl", revision: "v2") }?
            .contains("no refs/v2 and no snapshots/v2") == true)
        for bad in ["../etc", "a/b/c", "", "google/..", "~/x"] {
            #expect(thrownDescription { _ = try cache.repositoryFolder(repoId: bad) }?.contains("must look like") == true, "\(bad)")
        }
        #expect(thrownDescription { _ = try cache.snapshot(repoId: "google/flan-t5-xl", revision: "../../x") }?
            .contains("is not a branch") == true)
        let empty = try makeCache(snapshots: [], refs: [:])
        try FileManager.default.createDirectory(at: empty.root.appendingPathComponent("models--google--flan-t5-xl"),
                                                withIntermediateDirectories: true)
        #expect(thrownDescription { _ = try empty.snapshot(repoId: "google/flan-t5-xl") }?.contains("no refs/main and no snapshot folders") == true)
    }
}

/// The description of the error `body` throws, or nil.
private func thrownDescription(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}
