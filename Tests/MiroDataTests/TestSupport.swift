import MiroData
import MiroShapes

/// Small statistics helpers for the reward tests.
enum Stats {
    static func mean(_ values: [Float]) -> Float {
        values.isEmpty ? 0 : values.reduce(0, +) / Float(values.count)
    }

    /// Fraction of pairs where `better[i] > worse[i]`.
    static func winRate(_ better: [Float], _ worse: [Float]) -> Double {
        Double(zip(better, worse).filter { $0 > $1 }.count) / Double(max(better.count, 1))
    }
}

extension ShapesWorld.Configuration {
    /// A clean configuration with one change applied.
    static func only(_ change: (inout ShapesWorld.Configuration) -> Void) -> ShapesWorld.Configuration {
        var c = ShapesWorld.Configuration.clean
        change(&c)
        return c
    }
}

/// 8-bit bytes of images and captions hashed together: a fingerprint of a dataset.
func fingerprint(_ samples: [ShapesSample]) -> UInt64 {
    var text = ""
    for s in samples {
        text += s.caption + "|"
        text += s.image.rgbBytes().map { String($0) }.joined(separator: ",") + ";"
    }
    return FNV1a.hash(text)
}
