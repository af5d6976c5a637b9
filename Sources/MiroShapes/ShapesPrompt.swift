/// What a Shapes caption says, as data: its GenEval category, the objects it names, a count and a relation.
/// Captions are written from a spec (`text`) and read back into one (`parse`), so the generator, the
/// alignment reward and the benchmark all agree on a caption's meaning.
public struct ShapesPromptSpec: Codable, Sendable, Hashable {
    public var category: ShapesCategory
    /// One object (single_object, colors, counting) or two (two_object, color_attr, position).
    public var objects: [ObjectSpec]
    /// How many of `objects[0]` a counting caption asks for; 1 otherwise.
    public var count: Int
    /// The relation "objects[0] <relation> objects[1]" of a position caption.
    public var relation: SpatialRelation?

    public init(category: ShapesCategory, objects: [ObjectSpec], count: Int = 1, relation: SpatialRelation? = nil) {
        self.category = category
        self.objects = objects
        self.count = count
        self.relation = relation
    }

    /// The canonical description, e.g. "a blue circle to the left of a red triangle".
    public var text: String {
        switch category {
        case .singleObject, .colors: return objects[0].phrase()
        case .counting: return objects[0].phrase(count: count)
        case .twoObject, .colorAttr: return "\(objects[0].phrase()) and \(objects[1].phrase())"
        case .position: return "\(objects[0].phrase()) \((relation ?? .leftOf).phrase) \(objects[1].phrase())"
        }
    }

    /// The statements an image must satisfy for this caption to be true of it.
    public var facts: [ShapeFact] {
        switch category {
        case .singleObject, .colors: return [.exists(objects[0])]
        case .counting: return [.count(objects[0], count)]
        case .twoObject, .colorAttr: return [.exists(objects[0]), .exists(objects[1])]
        case .position: return [.exists(objects[0]), .exists(objects[1]), .relation(objects[0], relation ?? .leftOf, objects[1])]
        }
    }

    /// A key equal for captions that mean the same thing: "A and B" ≡ "B and A", "A right of B" ≡ "B left of A".
    /// The held-out split of `ShapesEval` is decided on this key, so a held-out meaning cannot leak into training
    /// through a reordered sentence.
    public var semanticKey: String {
        switch category {
        case .twoObject, .colorAttr:
            let names = objects.map(\.description).sorted()
            return "\(category.rawValue)|\(names.joined(separator: "|"))"
        case .position:
            let rel = relation ?? .leftOf
            let (a, b, r) = (rel == .rightOf || rel == .below) ? (objects[1], objects[0], rel.inverse) : (objects[0], objects[1], rel)
            return "\(category.rawValue)|\(a)|\(r.rawValue)|\(b)"
        default:
            return "\(category.rawValue)|\(text)"
        }
    }

    /// Reads a caption back into a spec, leniently: template words and unknown words are skipped, noun phrases
    /// are `[a|an|one|two…] [colour] shape[s]`, a relation word between the first two noun phrases makes it a
    /// position caption. Returns nil when the caption names no shape.
    public static func parse(_ caption: String) -> ShapesPromptSpec? {
        let words = ShapesTokenizer.words(caption)
        var phrases: [(spec: ObjectSpec, count: Int?)] = []
        var relation: SpatialRelation?
        var pendingColor: ShapeColor?
        var pendingCount: Int?
        for word in words {
            if let color = ShapeColor(rawValue: word) {
                pendingColor = color
            } else if word == "a" || word == "an" {
                pendingCount = 1
            } else if let n = ShapesNumbers.value(word) {
                pendingCount = n
            } else if let shape = ShapeKind(rawValue: word) ?? ShapeKind.allCases.first(where: { $0.plural == word }) {
                phrases.append((ObjectSpec(shape, pendingColor), pendingCount))
                pendingColor = nil
                pendingCount = nil
            } else if phrases.count == 1, relation == nil {
                switch word {
                case "left": relation = .leftOf
                case "right": relation = .rightOf
                case "above": relation = .above
                case "below": relation = .below
                default: break
                }
            }
        }
        guard let first = phrases.first else { return nil }
        if phrases.count == 1 {
            let n = first.count ?? 1
            if n > 1 { return ShapesPromptSpec(category: .counting, objects: [first.spec], count: n) }
            return ShapesPromptSpec(category: first.spec.color == nil ? .singleObject : .colors, objects: [first.spec])
        }
        let pair = [first.spec, phrases[1].spec]
        if let relation { return ShapesPromptSpec(category: .position, objects: pair, relation: relation) }
        let colored = pair.allSatisfy { $0.color != nil }
        return ShapesPromptSpec(category: colored ? .colorAttr : .twoObject, objects: pair)
    }
}

/// The sentence frames captions come in. Training captions use `training`; benchmark prompts use GenEval's own
/// frame "a photo of …", which training never emits, so every benchmark prompt string is unseen in training
/// (its words are not: "photo" and "of" occur in training frames and relations).
public enum ShapesTemplates {
    /// `{}` stands for the description. The bare description is listed thrice so it is the common case.
    public static let training = ["{}", "{}", "{}", "a picture of {}", "an image of {}", "{} on a plain background",
                                  "a photo showing {}"]
    public static let evaluation = "a photo of {}"

    public static func apply(_ template: String, _ description: String) -> String {
        template.replacingOccurrences(of: "{}", with: description)
    }
}

/// Lower-cased words with punctuation stripped: the one tokenisation shared by the parser and the text encoder.
public enum ShapesTokenizer {
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for scalar in text.lowercased().unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
