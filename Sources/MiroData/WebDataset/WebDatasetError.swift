// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.4–§2.5, §4.1): the error cases of
// the enriched-webdataset data layer.
import Foundation

/// Every problem the webdataset layer reports. Each case names the shard (or file) and, where there is one,
/// the member or sample key, so a user who sees only `description` knows which file to look at.
///
/// Errors about *one sample* (a truncated member, malformed JSON, a bad `.npy`) never stop the loader: it skips
/// the sample, counts it in `SkipCounters` and logs the error. These cases are thrown only by the lower-level
/// readers (`TarArchive`, `EnrichedShardReader`) and by the loader for problems that concern the whole run.
public enum WebDatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file could not be opened, read or written.
    case io(path: String, reason: String)
    /// A tar archive is damaged at `offset`: bad header checksum, a header cut short, a member whose data runs
    /// past the end of the file, an unparsable size field. `member` is the member name when known.
    case tarDamaged(shard: String, member: String, offset: Int64, reason: String)
    /// A member of a sample cannot be used (malformed JSON, bad `.npy` header or size, wrong shape, …).
    case badMember(shard: String, key: String, member: String, reason: String)
    /// A `wids-index.json` (or another index/config file) is malformed.
    case malformedIndex(file: String, field: String, reason: String)
    /// No `.tar` shard where one was expected.
    case noShards(String)
    /// A configuration value is out of range or inconsistent.
    case invalidConfiguration(String)
    /// A text embedding's width D differs from the configured one (a configuration error, not a corrupt sample:
    /// reported once, at start-up, from the first sample of the first shard).
    case textDimMismatch(shard: String, key: String, found: Int, expected: Int)
    /// No text embedding (member `suffix`) could be read to learn the width D: each shard tried, and why.
    case noTextEmbedding(suffix: String, tried: [String])
    /// A resume cursor does not belong to this loader configuration or dataset.
    case cursorMismatch(field: String, cursor: String, loader: String)
    /// A sample the cursor's shuffle buffer refers to can no longer be read (the shard changed on disk).
    case resumeFailed(shard: String, key: String, reason: String)
    /// A whole epoch went by without one usable sample (every sample filtered out or corrupt).
    case noValidSamples(epoch: Int, rank: Int)
    /// `next()` was called after `close()`.
    case loaderClosed

    public var description: String {
        switch self {
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .tarDamaged(shard, member, offset, reason):
            let what = member.isEmpty ? "" : " member '\(printableName(member))'"
            return "tar shard \(shard):\(what) at byte \(offset): \(reason)"
        case let .badMember(shard, key, member, reason):
            return "shard \(shard), sample '\(printableName(key))', member '\(printableName(member))': \(reason)"
        case let .malformedIndex(file, field, reason):
            return "\(file): malformed\(field.isEmpty ? "" : " field '\(field)'"): \(reason)"
        case let .noShards(message):
            return message
        case let .invalidConfiguration(message):
            return "invalid data-loader configuration: \(message)"
        case let .textDimMismatch(shard, key, found, expected):
            return "shard \(shard), sample '\(printableName(key))': text embeddings have width D = \(found) but the loader is "
                + "configured for D = \(expected) (set textDim to \(found), or nil to take it from the data)"
        case let .noTextEmbedding(suffix, tried):
            let list = tried.isEmpty ? "no shard to try" : tried.map { "  - \($0)" }.joined(separator: "\n")
            return "cannot learn the text width D: no readable '\(suffix)' text embedding was found (textDim is not "
                + "set). Shards tried:\n\(list)"
        case let .cursorMismatch(field, cursor, loader):
            return "cannot resume: the data cursor was written with \(field) = \(cursor), this loader has \(loader)"
        case let .resumeFailed(shard, key, reason):
            return "cannot resume: buffered sample '\(printableName(key))' of shard \(shard) cannot be read back (\(reason))"
        case let .noValidSamples(epoch, rank):
            return "epoch \(epoch) of rank \(rank) produced no usable sample: every sample was filtered out or corrupt "
                + "(see the skip counters and the log)"
        case .loaderClosed:
            return "the data loader was closed"
        }
    }
}

extension WebDatasetError: LocalizedError {
    public var errorDescription: String? { description }
}

/// A member name or sample key as it may be shown in a message or a log line: names come from tar headers, which
/// can hold any bytes (a random-bytes "tar" yields binary garbage), so control characters, undecodable bytes
/// (U+FFFD after lossy UTF-8 decoding) and other unprintable scalars are escaped as `\u{…}`, and a long name is cut
/// to `limit` characters with "…".
public func printableName(_ name: String, limit: Int = 120) -> String {
    var out = ""
    var shown = 0
    for scalar in name.unicodeScalars {
        if shown == limit { out += "…"; break }
        shown += 1
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            out += "\\u{\(String(scalar.value, radix: 16))}"
        default:
            if scalar == "\u{FFFD}" { out += "\\u{fffd}" } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out
}
