/// Checks caption facts against detections: strictly (GenEval's right/wrong, for `ShapesEval`) and softly
/// (partial credit and detector confidence, for `AlignmentReward`, which should rank "nearly right" above
/// "completely wrong" the way CLIP-style alignment scores do).
public enum FactCheck {
    /// GenEval's verdict: at least one match for `exists`, exactly `n` matches for `count`, some matching pair
    /// in the relation for `relation`.
    public static func holds(_ fact: ShapeFact, in detections: [DetectedShape]) -> Bool {
        switch fact {
        case .exists(let spec):
            return detections.contains { spec.matches($0.shape, $0.color) }
        case .count(let spec, let n):
            return detections.filter { spec.matches($0.shape, $0.color) }.count == n
        case .relation(let a, let relation, let b):
            return !pairs(a, relation, b, detections).isEmpty
        }
    }

    /// The confidence a fact holds at (`holds` is true exactly when this is not nil): the best matching
    /// detection's for `exists`, the least confident of the n matches for `count`, and for `relation` the best
    /// pair's lower confidence. ShapesEval reports it per image, so a calibration can see how close to its
    /// threshold each verdict was.
    public static func matchConfidence(_ fact: ShapeFact, in detections: [DetectedShape]) -> Float? {
        switch fact {
        case .exists(let spec):
            return detections.filter { spec.matches($0.shape, $0.color) }.map(\.confidence).max()
        case .count(let spec, let n):
            let matches = detections.filter { spec.matches($0.shape, $0.color) }
            guard matches.count == n else { return nil }
            return matches.map(\.confidence).min() ?? 1  // n = 0 holds with nothing to be unsure about
        case .relation(let a, let relation, let b):
            return pairs(a, relation, b, detections).map { min($0.0.confidence, $0.1.confidence) }.max()
        }
    }

    /// A graded score in [0, 1]:
    /// - satisfied: 0.75 + 0.25 × detector confidence of the matched shapes (clean, clear shapes score higher);
    /// - `exists` with only the shape or only the colour right: 0.4;
    /// - `count` off by some: 0.5 × min(found, n) / max(found, n), or 0.2 if only a wrong-coloured one exists;
    /// - otherwise 0.
    public static func score(_ fact: ShapeFact, in detections: [DetectedShape]) -> Float {
        switch fact {
        case .exists(let spec):
            let matches = detections.filter { spec.matches($0.shape, $0.color) }
            if let best = matches.map(\.confidence).max() { return 0.75 + 0.25 * best }
            return halfMatch(spec, detections) ? 0.4 : 0
        case .count(let spec, let n):
            let matches = detections.filter { spec.matches($0.shape, $0.color) }
            if matches.count == n, n > 0 {
                return 0.75 + 0.25 * matches.map(\.confidence).reduce(0, +) / Float(n)
            }
            if !matches.isEmpty { return 0.5 * Float(min(matches.count, n)) / Float(max(matches.count, n)) }
            return halfMatch(spec, detections) ? 0.2 : 0
        case .relation(let a, let relation, let b):
            let found = pairs(a, relation, b, detections)
            guard let best = found.map({ min($0.0.confidence, $0.1.confidence) }).max() else { return 0 }
            return 0.75 + 0.25 * best
        }
    }

    /// Detections that no object of the caption accounts for (clutter, or a wrong extra object).
    public static func unexplained(_ spec: ShapesPromptSpec, _ detections: [DetectedShape]) -> Int {
        detections.filter { d in !spec.objects.contains { $0.matches(d.shape, d.color) } }.count
    }

    static func halfMatch(_ spec: ObjectSpec, _ detections: [DetectedShape]) -> Bool {
        guard let color = spec.color else { return false }
        return detections.contains { $0.shape == spec.shape || $0.color == color }
    }

    static func pairs(_ a: ObjectSpec, _ relation: SpatialRelation, _ b: ObjectSpec,
                      _ detections: [DetectedShape]) -> [(DetectedShape, DetectedShape)] {
        var found: [(DetectedShape, DetectedShape)] = []
        for (i, da) in detections.enumerated() where a.matches(da.shape, da.color) {
            for (j, db) in detections.enumerated() where j != i && b.matches(db.shape, db.color) {
                if SpatialRelation.relations(da.box, db.box).contains(relation) { found.append((da, db)) }
            }
        }
        return found
    }
}
