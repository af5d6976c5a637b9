/// gzip files (`.gz`) for the tokenizers (open_clip's `bpe_simple_vocab_16e6.txt.gz`): MiroFormats' `Inflate`, with
/// its errors reported as `TokenizerError`s naming the file.
import Foundation
import MiroFormats

/// gzip files (`.gz`), as Python's `gzip.open(path).read()` reads them.
public enum GzipFile {
    /// The decompressed bytes of `path` (every member; CRC-32 and length checked).
    public static func decompress(path: String) throws -> [UInt8] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.io(path: path, message: "cannot be read (\(error.localizedDescription))")
        }
        return try decompress([UInt8](data), path: path)
    }

    /// The decompressed bytes of an in-memory gzip stream; errors name `path`.
    public static func decompress(_ bytes: [UInt8], path: String = "<memory>") throws -> [UInt8] {
        do {
            return try Inflate.gunzip(bytes, path: path)
        } catch let error as FormatError {
            // FormatError's description starts with the path, which TokenizerError adds again.
            let text = error.description, prefix = path + ": "
            throw TokenizerError.invalidFile(path: path, message: text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
        }
    }
}
