import Foundation
import MiroFormats
import MiroPipeline

/// Generated images of a prompt set on disk, in the layout of MIRO's `scripts/generate_geneval.py`, which MIRO's
/// reward scorer (`eval/rewards/score_images.py`) and GenEval read (rewards.md §7):
///
///     OUT/hparams.json                       the generation settings (a rerun with other settings is refused)
///     OUT/{idx:05d}/metadata.jsonl           one line: {"prompt": ..., the prompt file's other fields}
///     OUT/{idx:05d}/samples/{k:04d}.png      the k-th image of prompt idx
///
/// So images made here can be scored by MIRO's Python scorer, and folders it scored can be scored here.
public struct GenerationFolder: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    public struct Sample: Sendable, Equatable {
        public var promptIndex: Int
        public var prompt: String
        public var sampleIndex: Int
        public var url: URL
        /// The path under the root, as `rewards.jsonl` names it.
        public var relativePath: String
    }

    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "webp"]

    public func promptDirectory(_ index: Int) -> URL {
        root.appendingPathComponent(String(format: "%05d", index))
    }

    public func sampleURL(prompt: Int, sample: Int) -> URL {
        promptDirectory(prompt).appendingPathComponent("samples").appendingPathComponent(String(format: "%04d.png", sample))
    }

    /// Every prompt folder's images, in prompt then sample order. The prompt is the first line of its
    /// `metadata.jsonl`, as MIRO's scorer takes it.
    public func samples() throws -> [Sample] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root.path) else {
            throw InputError("cannot list the generation folder \(root.path)")
        }
        var out: [Sample] = []
        for name in names.sorted() {
            guard name.count == 5, let index = Int(name), index >= 0 else { continue }
            let directory = root.appendingPathComponent(name)
            let metadataURL = directory.appendingPathComponent("metadata.jsonl")
            guard let data = try? Data(contentsOf: metadataURL) else { continue }
            // the first line, as MIRO's scorer reads it
            let firstLine = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).first ?? []
            guard let prompt = try PromptSet.jsonLines(String(decoding: firstLine, as: UTF8.self), path: metadataURL.path).first?.prompt else {
                throw InputError("\(metadataURL.path): no prompt line")
            }
            let samplesDir = directory.appendingPathComponent("samples")
            let files = ((try? fm.contentsOfDirectory(atPath: samplesDir.path)) ?? []).filter {
                !$0.hasPrefix(".") && Self.imageExtensions.contains(($0 as NSString).pathExtension.lowercased())
            }.sorted()
            for (k, file) in files.enumerated() {
                out.append(Sample(promptIndex: index, prompt: prompt, sampleIndex: k,
                                  url: samplesDir.appendingPathComponent(file), relativePath: "\(name)/samples/\(file)"))
            }
        }
        return out
    }
}

/// Generates a prompt set into a `GenerationFolder`, resumably: a prompt whose images all exist is skipped, every
/// file is written atomically, and `hparams.json` must match to resume (other settings would mix two evaluations).
public struct PromptSetGeneration {
    public let folder: GenerationFolder
    public let perPrompt: Int
    /// The settings that make the images (model, steps, guidance, targets, seed rule ...), as `hparams.json`.
    public let hparams: PythonJSON

    public init(folder: GenerationFolder, perPrompt: Int, hparams: PythonJSON) throws {
        guard perPrompt >= 1 else { throw InputError("images per prompt must be at least 1 (got \(perPrompt))") }
        self.folder = folder
        self.perPrompt = perPrompt
        self.hparams = hparams
    }

    /// `generate(promptIndex, prompt)` returns the encoded PNG files of that prompt's `perPrompt` images.
    /// Returns how many prompts were generated and how many were already complete.
    public func run(_ prompts: PromptSet, generate: (Int, String) throws -> [Data],
                    progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> (generated: Int, skipped: Int) {
        let fm = FileManager.default
        try fm.createDirectory(at: folder.root, withIntermediateDirectories: true)
        let hparamsURL = folder.root.appendingPathComponent("hparams.json")
        let text = hparams.dumps(indent: 2, sortKeys: true) + "\n"
        if let existing = try? String(contentsOf: hparamsURL, encoding: .utf8) {
            guard existing == text else {
                throw InputError("\(folder.root.path) holds images made with other settings (hparams.json differs); "
                                 + "choose another --out, or the same settings to resume")
            }
        } else {
            try AtomicFile.write(Data(text.utf8), to: hparamsURL)
        }
        var generated = 0, skipped = 0
        for (i, entry) in prompts.entries.enumerated() {
            defer { progress?(i + 1, prompts.entries.count) }
            let urls = (0..<perPrompt).map { folder.sampleURL(prompt: i, sample: $0) }
            let metadataURL = folder.promptDirectory(i).appendingPathComponent("metadata.jsonl")
            let metadata = PythonJSON.object([(key: "prompt", value: .string(entry.prompt))] + entry.metadata)
                .dumps(ensureASCII: false) + "\n"
            if let existing = try? String(contentsOf: metadataURL, encoding: .utf8), existing != metadata {
                throw InputError("\(metadataURL.path) is for another prompt; the prompt file changed since these images "
                                 + "were made: choose another --out")
            }
            if urls.allSatisfy({ fm.fileExists(atPath: $0.path) }) {
                skipped += 1
                continue
            }
            try fm.createDirectory(at: urls[0].deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(Data(metadata.utf8), to: metadataURL)
            let files = try generate(i, entry.prompt)
            guard files.count == perPrompt else {
                throw InputError("prompt \(i): \(files.count) image(s) made, \(perPrompt) expected")
            }
            for (url, data) in zip(urls, files) { try AtomicFile.write(data, to: url) }
            generated += 1
        }
        return (generated, skipped)
    }
}
