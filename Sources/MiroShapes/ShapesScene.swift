/// The structured description of a Shapes image, and its rasteriser. `render()` is a pure function of the
/// scene (grain noise included, through `grainSeed`), so a scene stored as JSON reproduces its image exactly.

import MiroData
import MiroImage

/// One drawn shape.
public struct ShapesObject: Codable, Sendable, Hashable {
    public var shape: ShapeKind
    public var color: ShapeColor
    /// The colour actually drawn: the palette value with a small per-object jitter.
    public var rgb: [Float]
    public var centerX: Float
    public var centerY: Float
    /// Side of the square box the shape fills (circle diameter, triangle base and height, diamond diagonal).
    public var size: Float

    public init(shape: ShapeKind, color: ShapeColor, rgb: [Float]? = nil, centerX: Float, centerY: Float, size: Float) {
        self.shape = shape
        self.color = color
        let nominal = color.rgb
        self.rgb = rgb ?? [nominal.0, nominal.1, nominal.2]
        self.centerX = centerX
        self.centerY = centerY
        self.size = size
    }

    public var box: Box {
        Box(minX: centerX - size / 2, minY: centerY - size / 2, maxX: centerX + size / 2, maxY: centerY + size / 2)
    }

    /// Whether the point (x, y) lies inside the shape.
    @inlinable func contains(_ x: Float, _ y: Float) -> Bool {
        let h = size / 2
        let dx = x - centerX, dy = y - centerY
        switch shape {
        case .circle: return dx * dx + dy * dy <= h * h
        case .square: return abs(dx) <= h && abs(dy) <= h
        case .diamond: return abs(dx) + abs(dy) <= h
        case .triangle:
            // Apex up: the half-width grows linearly from 0 at the top edge to h at the base.
            let t = (dy + h) / size
            return t >= 0 && t <= 1 && abs(dx) <= t * h
        }
    }
}

/// A thin straight line (clutter).
public struct ShapesStroke: Codable, Sendable, Hashable {
    public var x0: Float, y0: Float, x1: Float, y1: Float
    public var rgb: [Float]

    public init(x0: Float, y0: Float, x1: Float, y1: Float, rgb: [Float]) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1; self.rgb = rgb
    }

    /// Distance from (x, y) to the segment.
    func distance(_ x: Float, _ y: Float) -> Float {
        let vx = x1 - x0, vy = y1 - y0
        let len2 = max(vx * vx + vy * vy, 1e-6)
        let t = min(max(((x - x0) * vx + (y - y0) * vy) / len2, 0), 1)
        let px = x0 + t * vx - x, py = y0 + t * vy - y
        return (px * px + py * py).squareRoot()
    }
}

/// A near-neutral background: a grey level with a slight tint, a linear brightness ramp and faint grain.
public struct ShapesBackground: Codable, Sendable, Hashable {
    public var rgb: [Float]
    /// Brightness change from the left edge to the right edge, and from top to bottom.
    public var rampX: Float
    public var rampY: Float
    /// Standard deviation of the per-pixel sensor grain (≈ 0–0.012: present in "clean" images too, as in photos).
    public var grain: Float
    public var grainSeed: UInt64

    public init(rgb: [Float], rampX: Float = 0, rampY: Float = 0, grain: Float = 0, grainSeed: UInt64 = 0) {
        self.rgb = rgb
        self.rampX = rampX
        self.rampY = rampY
        self.grain = grain
        self.grainSeed = grainSeed
    }
}

public struct ShapesScene: Codable, Sendable, Hashable {
    public var size: Int
    public var background: ShapesBackground
    /// The objects the (faithful) caption talks about.
    public var objects: [ShapesObject]
    /// Extra small shapes added as clutter; drawn below `objects`.
    public var distractors: [ShapesObject]
    public var strokes: [ShapesStroke]

    public init(size: Int, background: ShapesBackground, objects: [ShapesObject],
                distractors: [ShapesObject] = [], strokes: [ShapesStroke] = []) {
        self.size = size
        self.background = background
        self.objects = objects
        self.distractors = distractors
        self.strokes = strokes
    }

    /// Rasterises the scene with 4×4 supersampled coverage (anti-aliased edges, as a photo of a shape has).
    public func render() -> RGBImage {
        var image = RGBImage(width: size, height: size)
        let bg = background
        let scale = 1 / Float(max(size - 1, 1))
        var grainRNG = SplitMix64(seed: bg.grainSeed)
        for y in 0..<size {
            for x in 0..<size {
                let ramp = bg.rampX * (Float(x) * scale - 0.5) + bg.rampY * (Float(y) * scale - 0.5)
                let grain = bg.grain > 0 ? bg.grain * Float(grainRNG.gaussian4()) : 0
                let i = 3 * (y * size + x)
                for c in 0..<3 { image.pixels[i + c] = bg.rgb[c] + ramp + grain }
            }
        }
        for stroke in strokes {
            let box = Box(minX: min(stroke.x0, stroke.x1) - 1, minY: min(stroke.y0, stroke.y1) - 1,
                          maxX: max(stroke.x0, stroke.x1) + 1, maxY: max(stroke.y0, stroke.y1) + 1)
            paint(&image, box: box, rgb: stroke.rgb) { stroke.distance($0, $1) <= 0.5 }
        }
        for object in distractors + objects {
            paint(&image, box: object.box, rgb: object.rgb) { object.contains($0, $1) }
        }
        image.clamp()
        return image
    }

    /// Blends `rgb` into every pixel of `box` by the fraction of its 16 subsamples that `inside` accepts.
    private func paint(_ image: inout RGBImage, box: Box, rgb: [Float], inside: (Float, Float) -> Bool) {
        let x0 = max(Int(box.minX.rounded(.down)), 0), x1 = min(Int(box.maxX.rounded(.up)), size - 1)
        let y0 = max(Int(box.minY.rounded(.down)), 0), y1 = min(Int(box.maxY.rounded(.up)), size - 1)
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                var hits = 0
                for sy in 0..<4 {
                    for sx in 0..<4 where inside(Float(x) + (Float(sx) + 0.5) / 4, Float(y) + (Float(sy) + 0.5) / 4) {
                        hits += 1
                    }
                }
                guard hits > 0 else { continue }
                let a = Float(hits) / 16
                let i = 3 * (y * size + x)
                for c in 0..<3 { image.pixels[i + c] = image.pixels[i + c] * (1 - a) + rgb[c] * a }
            }
        }
    }
}
