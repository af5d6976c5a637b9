import Foundation

/// A problem with something the user typed or pointed at; the message names it.
public struct InputError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Prompt files: one prompt per line (LF, CRLF or CR line ends; a leading UTF-8 byte-order mark is dropped);
/// blank lines and `#` comments are skipped.
public enum PromptFile {
    public static let maxLength = 1000

    public static func read(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError("cannot read prompt file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw InputError("prompt file \(path) is not UTF-8 text")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws -> [String] {
        var prompts: [String] = []
        // Files saved on Windows: "\r\n" is one Character in Swift, so splitting on "\n" alone would keep each
        // whole file as one line; every newline Character ends a line. The BOM (U+FEFF) is not a control character
        // and would otherwise start the first prompt unseen.
        let body = text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text)
        for (i, raw) in body.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.count <= maxLength else {
                throw InputError("\(source):\(i + 1): prompt longer than \(maxLength) characters")
            }
            guard !line.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw InputError("\(source):\(i + 1): prompt contains control characters")
            }
            prompts.append(line)
        }
        guard !prompts.isEmpty else { throw InputError("prompt file \(source) has no prompts") }
        return prompts
    }
}

/// Repeated `--reward NAME=VALUE` options.
public enum RewardTargets {
    public static func parse(_ items: [String], option: String) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let value = Double(parts[1]) else {
                throw InputError("\(option) expects NAME=VALUE (e.g. \(option) quality_score=0.6), got '\(item)'")
            }
            try checkRange(value, option: "\(option) \(parts[0])=\(parts[1])")
            guard out[parts[0]] == nil else { throw InputError("\(option) names '\(parts[0])' twice") }
            out[parts[0]] = value
        }
        return out
    }

    /// Throws an `InputError` for reward names a model was not trained on (naming the valid ones, `option` first)
    /// and for values outside [0, 1]: the one check every sampler runs on the targets it is given.
    public static func validate(_ targets: [String: Double], keys: [String], option: String) throws {
        let unknown = Set(targets.keys).subtracting(keys)
        guard unknown.isEmpty else {
            throw InputError("\(option) names rewards this checkpoint was not trained on: \(unknown.sorted().joined(separator: ", ")). "
                             + "Valid: \(keys.joined(separator: ", "))")
        }
        for key in targets.keys.sorted() { try checkRange(targets[key]!, option: "\(option) \(key)=\(targets[key]!)") }
    }

    static func checkRange(_ value: Double, option: String) throws {
        guard value.isFinite, (0...1).contains(value) else {
            throw InputError("\(option): reward targets must lie in [0, 1]")
        }
    }
}
