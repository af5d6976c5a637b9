/// The closed vocabulary of the built-in Shapes world: what can be drawn, named and checked.

/// The shapes: axis-aligned and convex (the triangle points up), distinct enough at 32×32 for `ShapeDetector`
/// to tell apart from 8 px up by fitting each ideal outline to a blob.
public enum ShapeKind: String, CaseIterable, Codable, Sendable, Hashable {
    case circle, square, triangle, diamond

    public var plural: String { rawValue + "s" }
}

/// The colours: six saturated hues, at least 29° apart in the opponent-colour plane (rg = R−G, yb = (R+G)/2−B),
/// the plane in which the detector classifies. Backgrounds are near-neutral, so hue alone separates objects
/// from the background and from each other, and it survives washing-out and blur (both only scale chroma).
public enum ShapeColor: String, CaseIterable, Codable, Sendable, Hashable {
    case red, orange, yellow, green, blue, purple

    /// The nominal sRGB value in [0, 1].
    public var rgb: (Float, Float, Float) {
        switch self {
        case .red: return (0.90, 0.12, 0.10)
        case .orange: return (0.98, 0.52, 0.05)
        case .yellow: return (0.95, 0.90, 0.10)
        case .green: return (0.12, 0.70, 0.20)
        case .blue: return (0.15, 0.30, 0.95)
        case .purple: return (0.60, 0.20, 0.80)
        }
    }

    /// The article a colour-first noun phrase takes ("an orange square").
    var article: String { self == .orange ? "an" : "a" }
}

/// GenEval's spatial relations, read "A <relation> B".
public enum SpatialRelation: String, CaseIterable, Codable, Sendable, Hashable {
    case leftOf = "left of", rightOf = "right of", above, below

    /// The caption phrase ("to the left of").
    public var phrase: String {
        switch self {
        case .leftOf: return "to the left of"
        case .rightOf: return "to the right of"
        case .above: return "above"
        case .below: return "below"
        }
    }

    public var inverse: SpatialRelation {
        switch self {
        case .leftOf: return .rightOf
        case .rightOf: return .leftOf
        case .above: return .below
        case .below: return .above
        }
    }

    /// The relations that hold between two boxes, exactly as GenEval's `relative_position` decides them:
    /// centre offset, shrunk by 0.1 × the summed box sizes per axis, normalised by the raw offset length;
    /// a component beyond ±0.5 names the relation (image y grows downwards, so "above" is negative dy).
    public static func relations(_ a: Box, _ b: Box, tolerance: Float = 0.1) -> Set<SpatialRelation> {
        let offset = (a.centerX - b.centerX, a.centerY - b.centerY)
        let length = (offset.0 * offset.0 + offset.1 * offset.1).squareRoot()
        guard length > 1e-6 else { return [] }
        func revise(_ o: Float, _ dims: Float) -> Float {
            let shrunk = max(abs(o) - tolerance * dims, 0)
            return o < 0 ? -shrunk : shrunk
        }
        let dx = revise(offset.0, a.width + b.width) / length
        let dy = revise(offset.1, a.height + b.height) / length
        var found: Set<SpatialRelation> = []
        if dx < -0.5 { found.insert(.leftOf) }
        if dx > 0.5 { found.insert(.rightOf) }
        if dy < -0.5 { found.insert(.above) }
        if dy > 0.5 { found.insert(.below) }
        return found
    }
}

/// An axis-aligned box in pixel coordinates (x grows right, y grows down); `max` edges are exclusive.
public struct Box: Codable, Sendable, Hashable {
    public var minX: Float, minY: Float, maxX: Float, maxY: Float

    public init(minX: Float, minY: Float, maxX: Float, maxY: Float) {
        self.minX = minX; self.minY = minY; self.maxX = maxX; self.maxY = maxY
    }

    public var width: Float { maxX - minX }
    public var height: Float { maxY - minY }
    public var centerX: Float { (minX + maxX) / 2 }
    public var centerY: Float { (minY + maxY) / 2 }

    /// The gap between two boxes along the axis where they are furthest apart (negative when they overlap).
    public func gap(to other: Box) -> Float {
        max(max(other.minX - maxX, minX - other.maxX), max(other.minY - maxY, minY - other.maxY))
    }
}

/// GenEval's six prompt categories; the raw values are GenEval's tags.
public enum ShapesCategory: String, CaseIterable, Codable, Sendable, Hashable {
    case singleObject = "single_object"
    case twoObject = "two_object"
    case counting
    case colors
    case position
    case colorAttr = "color_attr"
}

/// An object as a caption names it: a shape, with a colour when the caption gives one.
public struct ObjectSpec: Codable, Sendable, Hashable, CustomStringConvertible {
    public var shape: ShapeKind
    public var color: ShapeColor?

    public init(_ shape: ShapeKind, _ color: ShapeColor? = nil) {
        self.shape = shape
        self.color = color
    }

    /// "red circle", or "circle" without a colour.
    public var description: String { color.map { "\($0.rawValue) \(shape.rawValue)" } ?? shape.rawValue }

    /// The noun phrase for `count` objects: "a circle", "an orange square", "three red circles".
    public func phrase(count: Int = 1) -> String {
        if count == 1 {
            let article = color?.article ?? (shape.rawValue.first.map { "aeiou".contains($0) } == true ? "an" : "a")
            return "\(article) \(description)"
        }
        let noun = shape.plural
        return "\(ShapesNumbers.word(count)) \(color.map { "\($0.rawValue) " } ?? "")\(noun)"
    }

    /// Whether a detection satisfies this spec (a spec without colour accepts any colour).
    public func matches(_ shape: ShapeKind, _ color: ShapeColor) -> Bool {
        self.shape == shape && (self.color == nil || self.color == color)
    }
}

/// One checkable statement a caption makes about its image.
public enum ShapeFact: Codable, Sendable, Hashable {
    /// At least one object matching the spec (GenEval's `count >= 1`).
    case exists(ObjectSpec)
    /// Exactly `n` objects matching the spec (GenEval's counting: include `n`, exclude `n + 1`).
    case count(ObjectSpec, Int)
    /// Some object matching the first spec stands in `relation` to some object matching the second.
    case relation(ObjectSpec, SpatialRelation, ObjectSpec)
}

/// Number words the captions use (GenEval counts 2–4; "one" is accepted when parsing).
enum ShapesNumbers {
    static let words = ["zero", "one", "two", "three", "four", "five", "six"]
    static func word(_ n: Int) -> String { n >= 0 && n < words.count ? words[n] : String(n) }
    static func value(_ word: String) -> Int? { words.firstIndex(of: word) ?? Int(word).flatMap { $0 >= 0 && $0 < 100 ? $0 : nil } }
}
