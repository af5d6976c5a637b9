// Port of data/preprocess_data.py (nicolas-dufour/miro @547003a): `decode_sample`, `_clean` and
// `_resolve_synthetic_captions` (the JSON branch; rewards.md §2).
import Foundation
import MiroData
import MiroFormats

/// Which caption a reward scores for its `synthetic_<name>` key (rewards.md §1): its `<name>` key always scores
/// the cleaned original caption.
public enum SyntheticCaption: String, Sendable, Codable, CaseIterable {
    /// `short_synthetic_caption` (ImageReward, PickScore, HPSv2, SciScore).
    case short
    /// `synthetic_caption` (Jina-CLIP, VQAScore; also what T5 encodes).
    case long
    /// The reward looks at the image only: `synthetic_<name>` is a copy of `<name>` (aesthetic).
    case imageOnly = "image_only"
}

/// The captions of one sample, as the official stages use them.
public struct SampleCaptions: Sendable, Equatable {
    /// The `.txt` bytes as written back to the output (uncleaned).
    public var originalText: String
    /// `_clean(txt)`.
    public var original: String
    /// `_clean(synthetic_caption)`: the long synthetic caption.
    public var long: String
    /// `_clean(short_synthetic_caption)`.
    public var short: String

    /// `_clean`: the one literal replace the official script does (no trimming, no whitespace collapsing).
    public static func clean(_ text: String) -> String { text.replacingOccurrences(of: "<PERSON>", with: "") }

    /// `_resolve_synthetic_captions` without a TSV: long = JSON `synthetic_caption` when it is a string, else the
    /// original; short = `short_synthetic_caption`, else `caption`, else the original — and when that value is not
    /// a string, the long one. With a TSV (`--synthetic_captions`), its row for the sample's file name instead
    /// (`key`'s last component without extension), the original caption where it has none. Both cleaned.
    public init(text: String, metadata: [(key: String, value: PythonJSON)], key: String = "", table: SyntheticCaptionTable? = nil) {
        func get(_ key: String) -> PythonJSON? { metadata.last { $0.key == key }?.value }
        originalText = text
        original = Self.clean(text)
        if let table {
            let (long, short) = table.captions(key: key, original: text)
            self.long = Self.clean(long)
            self.short = Self.clean(short)
            return
        }
        let long = get("synthetic_caption")?.string ?? text
        let shortValue = get("short_synthetic_caption") ?? get("caption")
        let short = shortValue == nil ? text : (shortValue?.string ?? long)
        self.long = Self.clean(long)
        self.short = Self.clean(short)
    }

    /// The caption a reward scores for its synthetic key (`imageOnly` gets the original: it is not read).
    public func synthetic(_ kind: SyntheticCaption) -> String {
        switch kind {
        case .short: return short
        case .long: return long
        case .imageOnly: return original
        }
    }
}

/// Why a sample is skipped by `miro annotate` / `miro prepare` (the official `decode_sample` returns None for
/// all of these: the sample is left out of every stage and of the output).
public enum PrepSkipReason: String, Sendable, Codable, CaseIterable {
    case missingImage = "missing_image"
    case undecodableImage = "undecodable_image"
    case missingCaption = "missing_caption"
    case badCaption = "bad_caption"
    case malformedJSON = "malformed_json"
}

/// A sample whose image, caption and metadata are readable (the image still undecoded).
public struct CheckedSample: Sendable {
    public var raw: RawSample
    public var imageSuffix: String
    public var imageBytes: [UInt8]
    public var captions: SampleCaptions
    /// The JSON object's members in order (empty when the sample has no `.json`).
    public var metadata: [(key: String, value: PythonJSON)]
    public var hasJSON: Bool

    /// Checks the members `decode_sample` needs, or says why the sample is skipped. The official script also
    /// requires a `.json`; here a sample without one is annotated with a fresh object (folders rarely have one).
    public static func check(_ raw: RawSample, table: SyntheticCaptionTable? = nil) -> Result<CheckedSample, SkippedSample> {
        func skip(_ reason: PrepSkipReason, _ detail: String) -> Result<CheckedSample, SkippedSample> {
            .failure(SkippedSample(key: raw.key, reason: reason, detail: detail))
        }
        guard let image = raw.image else { return skip(.missingImage, "no jpg, jpeg, png or webp member") }
        guard let txt = raw.member("txt") else { return skip(.missingCaption, "no txt member") }
        // Python's `.decode("utf-8")` raises on invalid UTF-8.
        guard let text = String(validating: txt, as: UTF8.self) else { return skip(.badCaption, "the txt member is not UTF-8") }
        var metadata: [(key: String, value: PythonJSON)] = []
        let json = raw.member("json")
        if let json {
            guard let value = try? PythonJSON.parse(json), let members = value.members else {
                return skip(.malformedJSON, "the json member is not a JSON object")
            }
            metadata = members
        }
        return .success(CheckedSample(raw: raw, imageSuffix: image.suffix, imageBytes: image.data,
                                      captions: SampleCaptions(text: text, metadata: metadata, key: raw.key, table: table), metadata: metadata,
                                      hasJSON: json != nil))
    }
}

/// A sample left out, and why.
public struct SkippedSample: Error, Sendable, Equatable {
    public var key: String
    public var reason: PrepSkipReason
    public var detail: String

    public init(key: String, reason: PrepSkipReason, detail: String) {
        self.key = key
        self.reason = reason
        self.detail = detail
    }
}
