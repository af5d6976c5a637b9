/// Port of the cache-path logic of huggingface_hub 0.23.0 (`constants.py`: `HF_HUB_CACHE`;
/// `file_download.py`: `repo_folder_name`, `try_to_load_from_cache`): where a model downloaded with
/// `huggingface-cli download` / `from_pretrained` lives on disk, without any network access.
///
///     <cache>/models--google--flan-t5-xl/refs/main               → the commit hash of the branch
///     <cache>/models--google--flan-t5-xl/snapshots/<hash>/...    → the files (symlinks into ../../blobs)
///
/// The cache root is `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub` — huggingface_hub's order.
/// Pure path logic with its own error type, so that other loaders (the VAE's) can use it too.

import Foundation

/// Why a repository could not be found in the local cache.
public enum HuggingFaceCacheError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The repository id or revision is not a plain `namespace/name` (or contains `..`, backslashes, ...).
    case invalidName(String)
    /// Nothing usable in the cache for this repository / revision; the message says what was looked at.
    case notFound(path: String, message: String)

    public var description: String {
        switch self {
        case .invalidName(let message): message
        case .notFound(let path, let message): "\(path): \(message)"
        }
    }
}

public struct HuggingFaceCache: Sendable, Equatable {
    /// The hub cache directory (`HF_HUB_CACHE`).
    public let root: URL

    /// The cache root as huggingface_hub resolves it from `environment` (the process environment by default) and
    /// `home` (the user's home directory, for `~`).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                home: URL = FileManager.default.homeDirectoryForCurrentUser) {
        func expand(_ path: String) -> URL {
            if path == "~" { return home }
            if path.hasPrefix("~/") { return home.appendingPathComponent(String(path.dropFirst(2))) }
            return URL(fileURLWithPath: path)
        }
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let hub = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE") {
            root = expand(hub)
        } else if let hfHome = env("HF_HOME") {
            root = expand(hfHome).appendingPathComponent("hub")
        } else {
            let cacheHome = env("XDG_CACHE_HOME").map(expand) ?? home.appendingPathComponent(".cache")
            root = cacheHome.appendingPathComponent("huggingface").appendingPathComponent("hub")
        }
    }

    /// A cache rooted at `root` directly.
    public init(root: URL) { self.root = root }

    /// `models--{namespace}--{name}` under the root (`repo_folder_name`).
    public func repositoryFolder(repoId: String, repoType: String = "model") throws -> URL {
        let parts = repoId.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count),
              parts.allSatisfy({ Self.isPlainComponent($0) }) else {
            throw HuggingFaceCacheError.invalidName(
                "repository id '\(repoId)' must look like 'namespace/name' (letters, digits, '-', '_', '.'; no '..')")
        }
        return root.appendingPathComponent((["\(repoType)s"] + parts).joined(separator: "--"))
    }

    /// The snapshot folder of `repoId` at `revision` (a branch or tag resolved through `refs/`, or a commit hash).
    ///
    /// For the default `main`, a cache without `refs/main` (files copied by hand, or refs pruned) falls back to
    /// its only snapshot, or the most recently modified one when there are several.
    public func snapshot(repoId: String, revision: String = "main", repoType: String = "model") throws -> URL {
        let repo = try repositoryFolder(repoId: repoId, repoType: repoType)
        let revisionParts = revision.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !revisionParts.isEmpty, revisionParts.allSatisfy({ Self.isPlainComponent($0) }) else {
            throw HuggingFaceCacheError.invalidName("revision '\(revision)' is not a branch, tag or commit name")
        }
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: repo.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw HuggingFaceCacheError.notFound(
                path: repo.path, message: "'\(repoId)' is not in the Hugging Face cache (download it first, e.g. "
                    + "`huggingface-cli download \(repoId)`, or set HF_HUB_CACHE / HF_HOME)")
        }
        let snapshots = repo.appendingPathComponent("snapshots")
        let ref = repo.appendingPathComponent("refs").appendingPathComponent(revision)
        if let text = try? String(contentsOf: ref, encoding: .utf8) {
            let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard Self.isPlainComponent(commit) else {
                throw HuggingFaceCacheError.notFound(path: ref.path, message: "does not hold a commit hash (found '\(commit.prefix(80))')")
            }
            let folder = snapshots.appendingPathComponent(commit)
            guard isDirectoryPath(folder) else {
                throw HuggingFaceCacheError.notFound(
                    path: folder.path, message: "refs/\(revision) names commit \(commit), whose snapshot folder is missing")
            }
            return folder
        }
        let direct = snapshots.appendingPathComponent(revision)
        if revisionParts.count == 1, isDirectoryPath(direct) { return direct }
        guard revision == "main" else {
            throw HuggingFaceCacheError.notFound(
                path: repo.path, message: "no refs/\(revision) and no snapshots/\(revision) for revision '\(revision)'")
        }
        let candidates = ((try? fm.contentsOfDirectory(at: snapshots, includingPropertiesForKeys: [.contentModificationDateKey])) ?? [])
            .filter { isDirectoryPath($0) && !$0.lastPathComponent.hasPrefix(".") }
        func modified(_ url: URL) -> Date {
            (try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
        }
        // Newest first; ties broken by name so the choice does not depend on directory order.
        let latest = candidates.max { a, b in
            let (ma, mb) = (modified(a), modified(b))
            return ma != mb ? ma < mb : a.lastPathComponent > b.lastPathComponent
        }
        guard let newest = latest else {
            throw HuggingFaceCacheError.notFound(path: snapshots.path, message: "no refs/main and no snapshot folders")
        }
        return newest
    }

    /// A path component that cannot climb out of its folder.
    private static func isPlainComponent(_ s: String) -> Bool {
        !s.isEmpty && s != "." && s != ".." && !s.contains("\\") && !s.contains("\0") && !s.hasPrefix("~")
            && !s.contains("/")
    }

    private func isDirectoryPath(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
