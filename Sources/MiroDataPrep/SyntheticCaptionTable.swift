// Port of data/preprocess_data.py (nicolas-dufour/miro @547003a): `--synthetic_captions file.tsv`
// (`pd.read_csv(path, sep="\t", header=None)`, index = column 0 without its extension) and the TSV branch of
// `_resolve_synthetic_captions`.
import Foundation

/// A headerless TSV `file_name \t short … \t long`: short = the first caption column, long = the last.
///
/// What pandas' reader does that matters here, reproduced:
/// - a cell pandas reads as missing (empty, `NaN`, `NA`, `null`, `None`, `N/A`, … its default `na_values`), or any
///   cell of a column whose every present cell is a number, is not a string: the sample falls back to its
///   original caption for that column;
/// - a field in double quotes is unquoted (`""` inside is one `"`).
/// Not reproduced: quoted fields spanning lines, and pandas' handling of a repeated file name (`.loc` then
/// returns several rows); here the first row of a name wins.
public struct SyntheticCaptionTable: Sendable {
    /// file name without extension → (short, long); nil where pandas would not hold a string.
    var rows: [String: (short: String?, long: String?)]
    /// Identifies the file in the run manifest (path and size).
    public let identity: String

    static let missing: Set<String> = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                                       "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]

    public init(url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DataPrepError.input(path: url.path, reason: "cannot read the synthetic-captions TSV")
        }
        guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw DataPrepError.input(path: url.path, reason: "the synthetic-captions TSV is not UTF-8")
        }
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        let table = lines.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map { Self.unquote(String($0)) } }
        let width = table.first?.count ?? 0
        guard width >= 2 else {
            throw DataPrepError.input(path: url.path, reason: "the first line has \(width) column; expected file_name, short, …, long")
        }
        for (number, fields) in table.enumerated() where fields.count > width {
            throw DataPrepError.input(path: url.path, reason: "line \(number + 1) has \(fields.count) columns, the first has \(width)")
        }
        // pandas types a column as numbers only when every present cell of it is one; otherwise all stay strings.
        func column(_ i: Int) -> [String?] {
            let cells = table.map { i < $0.count ? $0[i] : "" }
            let numeric = cells.allSatisfy { Self.missing.contains($0) || Self.isNumber($0) }
            return cells.map { Self.missing.contains($0) || numeric ? nil : $0 }
        }
        let short = column(1), long = column(width - 1)
        var rows: [String: (short: String?, long: String?)] = [:]
        for (i, fields) in table.enumerated() {
            let name = (fields[0] as NSString).deletingPathExtension
            if rows[name] == nil { rows[name] = (short[i], long[i]) }
        }
        self.rows = rows
        identity = "\(url.standardizedFileURL.path) (\(data.count) bytes)"
    }

    static func unquote(_ field: String) -> String {
        guard field.count >= 2, field.hasPrefix("\""), field.hasSuffix("\"") else { return field }
        return String(field.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
    }

    /// A cell pandas' parser reads as a number.
    static func isNumber(_ s: String) -> Bool {
        let t = s.trimmingCharacters(in: .whitespaces)
        return !t.isEmpty && !t.lowercased().contains("x") && Double(t) != nil
    }

    /// (long, short) for a sample, uncleaned: the TSV's, else the original caption (`_resolve_synthetic_captions`).
    public func captions(key: String, original: String) -> (long: String, short: String) {
        let base = ((key.split(separator: "/").last.map(String.init) ?? key) as NSString).deletingPathExtension
        guard let row = rows[base] else { return (original, original) }
        return (row.long ?? original, row.short ?? original)
    }
}
