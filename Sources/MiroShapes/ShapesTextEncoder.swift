import Foundation
import MiroData

/// One encoded caption, laid out like MIRO's T5 input after collation: `maxTokens × width` embeddings
/// (row-major, zero rows for padding) and a key mask (true for real tokens, EOS included).
public struct ShapesTextEncoding: Sendable, Equatable {
    public var embeddings: [Float]
    public var mask: [Bool]
    /// Real tokens including EOS (T5's attention-mask length).
    public var tokenCount: Int
    /// The tokens, for inspection: words, `<unk>` for unknown ones, then `</s>`.
    public var tokens: [String]
}

/// The Shapes world's text encoder: a fixed, training-free stand-in for FLAN-T5 with the same interface
/// (tokens × width plus mask, EOS appended, padded to `maxTokens`).
///
/// Tokenisation is `ShapesTokenizer.words` (lower-cased, punctuation stripped); words outside the closed
/// `vocabulary` become `<unk>`. A token's embedding is a pseudo-random vector seeded by the FNV-1a hash of the
/// token (Irwin–Hall normals: bit-identical on every platform and run) plus the transformer sinusoidal code of
/// its position, so word order ("a red circle and a blue square" vs "a blue circle and a red square") is
/// visible to the model. Truncation keeps the first `maxTokens − 1` words and always ends with EOS, as T5 does.
public struct ShapesTextEncoder: Sendable {
    public static let eosToken = "</s>"
    public static let unknownToken = "<unk>"

    /// Every word the Shapes captions and benchmark prompts use, sorted.
    public static let vocabulary: [String] = {
        var words = Set(["a", "an", "and"])
        for n in 1...4 { words.insert(ShapesNumbers.word(n)) }
        for color in ShapeColor.allCases { words.insert(color.rawValue) }
        for shape in ShapeKind.allCases { words.insert(shape.rawValue); words.insert(shape.plural) }
        for relation in SpatialRelation.allCases { words.formUnion(ShapesTokenizer.words(relation.phrase)) }
        for template in ShapesTemplates.training + [ShapesTemplates.evaluation] {
            words.formUnion(ShapesTokenizer.words(template))
        }
        return words.sorted()
    }()

    public let width: Int
    public let maxTokens: Int
    private let known: Set<String>
    private let table: [String: [Float]]
    private let positions: [Float]

    public init(width: Int = 64, maxTokens: Int = 16) {
        precondition(width >= 2 && width % 2 == 0, "text embedding width must be even and at least 2")
        precondition(maxTokens >= 1, "maxTokens must be at least 1 (room for EOS)")
        self.width = width
        self.maxTokens = maxTokens
        known = Set(Self.vocabulary)
        var table: [String: [Float]] = [:]
        for token in Self.vocabulary + [Self.eosToken, Self.unknownToken] {
            var rng = SplitMix64(seed: FNV1a.hash(token))
            table[token] = (0..<width).map { _ in Float(rng.gaussian12()) }
        }
        self.table = table
        // PE(pos, 2i) = sin(pos / 10000^(2i/width)), PE(pos, 2i+1) = cos(…) — "Attention Is All You Need".
        var positions = [Float](repeating: 0, count: maxTokens * width)
        for pos in 0..<maxTokens {
            for i in 0..<(width / 2) {
                let angle = Double(pos) / pow(10000, Double(2 * i) / Double(width))
                positions[pos * width + 2 * i] = Float(sin(angle))
                positions[pos * width + 2 * i + 1] = Float(cos(angle))
            }
        }
        self.positions = positions
    }

    /// The tokens of a caption: known words or `<unk>`, truncated to `maxTokens − 1`, then EOS.
    public func tokens(_ caption: String) -> [String] {
        let words = ShapesTokenizer.words(caption).map { known.contains($0) ? $0 : Self.unknownToken }
        return Array(words.prefix(maxTokens - 1)) + [Self.eosToken]
    }

    /// The position-free embedding of one token (unknown words get `<unk>`'s).
    public func tokenEmbedding(_ token: String) -> [Float] {
        table[token] ?? table[Self.unknownToken]!
    }

    public func encode(_ caption: String) -> ShapesTextEncoding {
        let tokens = tokens(caption)
        var embeddings = [Float](repeating: 0, count: maxTokens * width)
        var mask = [Bool](repeating: false, count: maxTokens)
        for (pos, token) in tokens.enumerated() {
            let vector = tokenEmbedding(token)
            for j in 0..<width { embeddings[pos * width + j] = vector[j] + positions[pos * width + j] }
            mask[pos] = true
        }
        return ShapesTextEncoding(embeddings: embeddings, mask: mask, tokenCount: tokens.count, tokens: tokens)
    }

    /// A batch as flat arrays: embeddings `B × maxTokens × width`, mask `B × maxTokens`.
    public func encode(_ captions: [String]) -> (embeddings: [Float], mask: [Bool]) {
        var embeddings: [Float] = [], mask: [Bool] = []
        embeddings.reserveCapacity(captions.count * maxTokens * width)
        for caption in captions {
            let e = encode(caption)
            embeddings += e.embeddings
            mask += e.mask
        }
        return (embeddings, mask)
    }

    /// The unconditional text: the empty caption, i.e. EOS alone (what CFG's negative branch uses).
    public var empty: ShapesTextEncoding { encode("") }
}
