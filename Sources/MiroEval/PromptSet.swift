import Foundation
import MiroFormats
import MiroPipeline

/// The prompts of an evaluation, read from the files the paper's prompt sets come as (rewards.md §7):
/// - `.jsonl`: one JSON object per line with a `"prompt"` string (GenEval's `evaluation_metadata.jsonl`, MIRO's
///   `parti_prompts.jsonl`); the other fields (`tag`, `include`, `category`, ...) are kept as the prompt's metadata;
/// - `.tsv` / `.csv`: a header row with a `Prompt` or `prompt` column (PartiPrompts' `parti_prompts.tsv`,
///   DrawBench's CSV); the other columns become metadata;
/// - anything else: plain text, one prompt per line (blank lines skipped).
public struct PromptSet: Sendable {
    public struct Entry: Sendable {
        public var prompt: String
        /// The line's other fields, in file order (written back into each prompt's `metadata.jsonl`).
        public var metadata: [(key: String, value: PythonJSON)]

        public init(prompt: String, metadata: [(key: String, value: PythonJSON)] = []) {
            self.prompt = prompt
            self.metadata = metadata
        }
    }

    public var entries: [Entry]
    /// Where the prompts came from (for reports).
    public var source: String

    public init(entries: [Entry], source: String) {
        self.entries = entries
        self.source = source
    }

    public static func load(_ url: URL) throws -> PromptSet {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw InputError("cannot read the prompt file \(url.path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw InputError("the prompt file \(url.path) is not UTF-8 text")
        }
        let entries: [Entry]
        switch url.pathExtension.lowercased() {
        case "jsonl": entries = try jsonLines(text, path: url.path)
        case "tsv": entries = try table(text, separator: "\t", path: url.path)
        case "csv": entries = try table(text, separator: ",", path: url.path)
        default:
            entries = text.split(whereSeparator: \.isNewline).map { String($0).trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.map { Entry(prompt: $0) }
        }
        guard !entries.isEmpty else { throw InputError("the prompt file \(url.path) holds no prompt") }
        return PromptSet(entries: entries, source: url.path)
    }

    static func jsonLines(_ text: String, path: String) throws -> [Entry] {
        var entries: [Entry] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let value: PythonJSON
            do {
                value = try PythonJSON.parse(Array(trimmed.utf8))
            } catch {
                throw InputError("\(path) line \(number + 1): not JSON (\(error))")
            }
            guard let members = value.members else { throw InputError("\(path) line \(number + 1): not a JSON object") }
            guard let prompt = members.first(where: { $0.key == "prompt" })?.value.string else {
                throw InputError("\(path) line \(number + 1): no string field \"prompt\"")
            }
            entries.append(Entry(prompt: prompt, metadata: members.filter { $0.key != "prompt" }))
        }
        return entries
    }

    /// A header row, then one prompt per row. Quoted fields ("a, b" and "" for a quote) as CSV writers make them.
    static func table(_ text: String, separator: Character, path: String) throws -> [Entry] {
        let rows = parseRows(text, separator: separator)
        guard let header = rows.first else { throw InputError("\(path): empty table") }
        guard let column = header.firstIndex(where: { $0 == "Prompt" || $0 == "prompt" }) else {
            throw InputError("\(path): no 'Prompt' column in the header (\(header.joined(separator: ", ")))")
        }
        var entries: [Entry] = []
        for (number, row) in rows.dropFirst().enumerated() where !(row.count == 1 && row[0].isEmpty) {
            guard column < row.count else {
                throw InputError("\(path) row \(number + 2): \(row.count) field(s), the Prompt column is number \(column + 1)")
            }
            let prompt = row[column].trimmingCharacters(in: .whitespaces)
            guard !prompt.isEmpty else { continue }
            let metadata = header.indices.filter { $0 != column && $0 < row.count }
                .map { (key: header[$0].lowercased(), value: PythonJSON.string(row[$0])) }
            entries.append(Entry(prompt: prompt, metadata: metadata))
        }
        return entries
    }

    static func parseRows(_ text: String, separator: Character) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false, atFieldStart = true
        var chars = text.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? chars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    let next = chars.next()
                    if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                } else {
                    field.append(c)
                }
                continue
            }
            if c == "\"" && atFieldStart {
                quoted = true
                atFieldStart = false
            } else if c == separator {
                row.append(field)
                field = ""
                atFieldStart = true
            } else if c == "\n" || c == "\r\n" || c == "\r" {
                row.append(field)
                rows.append(row)
                row = []
                field = ""
                atFieldStart = true
            } else {
                field.append(c)
                atFieldStart = false
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
