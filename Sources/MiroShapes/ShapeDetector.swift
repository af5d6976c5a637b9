import Foundation
import MiroImage

/// One shape found in an image.
public struct DetectedShape: Sendable, Hashable {
    public var shape: ShapeKind
    public var color: ShapeColor
    /// Pixel bounding box (`max` edges exclusive), in the coordinates the scenes use.
    public var box: Box
    public var centroidX: Float
    public var centroidY: Float
    /// Pixels in the shape's mask.
    public var area: Int
    /// How far the colour and shape features sit from the decision boundaries, and how much the component looks
    /// like one whole shape rather than a fragment of one, in [0, 1] (the lowest of these terms).
    public var confidence: Float
}

/// A small classical detector for the Shapes world — the stand-in for GenEval's Mask2Former + CLIP colour
/// classifier, and the eyes of `AlignmentReward`:
///
/// 1. background: a plane per channel fitted to the border pixels (outliers dropped), so ramps and tints vanish;
/// 2. foreground: distance to that background of the 3×3-smoothed image, thresholded above the noise floor
///    measured on the border, split into 4-connected components;
/// 3. each component's mask is re-cut at half its peak contrast (where an edge really is, blurred or not), on
///    the unsmoothed distances unless the image is noisy;
/// 4. colour: the hue angle of the core pixels' median colour in the opponent plane (rg = R−G, yb = (R+G)/2−B),
///    nearest palette hue; washing-out and blur towards a grey background scale chroma but keep that angle;
/// 5. shape: the ideal circle, square, triangle or diamond stretched over the mask's bounding box that has the
///    highest IoU with the mask (box-fill ratio alone confuses small triangles, diamonds and circles).
/// Components that are too small, too large, elongated, sparse (strokes) or of mixed hue (noise) are dropped.
/// Confidence is the weakest of: the shape margin (best template IoU over the runner-up), the colour margin and
/// chroma, hue coherence, and *wholeness* — a component narrower than the smallest shape the world draws, or whose
/// outline no template fits well, is a fragment (a patch mosaic's pieces: 4×4 tiles read as tiny squares, tiles
/// glued into L- and T-shaped blobs) and gets a confidence near 0, which `ShapesEval.minConfidence` drops.
public enum ShapeDetector {
    public struct Options: Sendable, Hashable {
        public var minArea = 9
        /// Components covering more of the image than this are background failures, not shapes.
        public var maxAreaFraction: Float = 0.4
        /// Foreground threshold floor, in RGB distance units.
        public var minThreshold: Float = 0.12
        /// Minimum chroma (opponent-plane length) of a shape's colour; greys are not palette colours.
        public var minChroma: Float = 0.06
        /// The smallest box side of a whole shape, in pixels: the world draws objects of 6 px and more (at 32 px).
        /// Wholeness is 0 two pixels below it (one 4×4 tile of a mosaic) and 1 from it on.
        public var minShapeSide: Float = 6
        /// Best-template soft IoU at which wholeness starts to rise (it reaches 1 at +0.2). Whole shapes fit at
        /// ≥ 0.84 clean and ≥ 0.72 blurred with radius 2; glued mosaic tiles at a median 0.55.
        public var minTemplateFit: Float = 0.6
        public init() {}
    }

    /// The palette hue angles in degrees, computed from `ShapeColor.rgb`.
    static let paletteAngles: [(ShapeColor, Float)] = ShapeColor.allCases.map { color in
        let c = color.rgb
        return (color, hueAngle(c.0, c.1, c.2))
    }

    @inlinable static func hueAngle(_ r: Float, _ g: Float, _ b: Float) -> Float {
        let rg = r - g, yb = (r + g) / 2 - b
        let degrees = atan2(yb, rg) * 180 / .pi
        return degrees < 0 ? degrees + 360 : degrees
    }

    /// The nearest palette colour to a hue angle, and the distances to the nearest and second nearest.
    static func classifyHue(_ angle: Float) -> (ShapeColor, Float, Float) {
        var best = (ShapeColor.red, Float.infinity), second = Float.infinity
        for (color, a) in paletteAngles {
            var d = abs(angle - a)
            if d > 180 { d = 360 - d }
            if d < best.1 { second = best.1; best = (color, d) } else if d < second { second = d }
        }
        return (best.0, best.1, second)
    }

    public static func detect(_ image: RGBImage, options: Options = Options()) -> [DetectedShape] {
        let w = image.width, h = image.height
        guard w >= 4, h >= 4 else { return [] }
        let background = fitBackground(image)
        let smooth = image.binomialBlurred(radius: 1)
        var dist = [Float](repeating: 0, count: w * h), raw = dist
        for p in 0..<(w * h) {
            let bg = background(p % w, p / w)
            let s0 = smooth.pixels[3 * p] - bg.0, s1 = smooth.pixels[3 * p + 1] - bg.1, s2 = smooth.pixels[3 * p + 2] - bg.2
            dist[p] = (s0 * s0 + s1 * s1 + s2 * s2).squareRoot()
            let r0 = image.pixels[3 * p] - bg.0, r1 = image.pixels[3 * p + 1] - bg.1, r2 = image.pixels[3 * p + 2] - bg.2
            raw[p] = (r0 * r0 + r1 * r1 + r2 * r2).squareRoot()
        }
        // Noise floor: the border is mostly background, so its median distance measures the noise.
        func borderMedian(_ d: [Float]) -> Float {
            var border: [Float] = []
            for x in 0..<w { border.append(d[x]); border.append(d[(h - 1) * w + x]) }
            for y in 1..<(h - 1) { border.append(d[y * w]); border.append(d[y * w + w - 1]) }
            return median(border)
        }
        // Raw distances where noise allows (exact anti-aliased edges, no smoothing bias, no bridged gaps),
        // smoothed ones otherwise.
        let cut = borderMedian(raw) < 0.04 ? raw : dist
        let threshold = max(options.minThreshold, 2.8 * borderMedian(cut))

        var labels = [Int32](repeating: -1, count: w * h)
        var found: [DetectedShape] = []
        var stack: [Int] = []
        var component: [Int] = []
        var nextLabel: Int32 = 0
        for start in 0..<(w * h) where labels[start] < 0 && cut[start] > threshold {
            // Flood fill one 4-connected component.
            nextLabel += 1
            let label = nextLabel
            component.removeAll(keepingCapacity: true)
            stack.append(start)
            labels[start] = label
            while let p = stack.popLast() {
                component.append(p)
                let x = p % w, y = p / w
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                    let q = ny * w + nx
                    if labels[q] < 0 && cut[q] > threshold { labels[q] = label; stack.append(q) }
                }
            }
            guard component.count >= options.minArea / 2,
                  Float(component.count) <= options.maxAreaFraction * Float(w * h) else { continue }
            if let shape = classify(component, image: image, dist: cut, labels: labels, label: label, options: options) {
                found.append(shape)
            }
        }
        return found
    }

    /// Measures one component and names it, or returns nil when it is not a plausible shape.
    static func classify(_ component: [Int], image: RGBImage, dist: [Float], labels: [Int32], label: Int32,
                         options: Options) -> DetectedShape? {
        let w = image.width, h = image.height
        let peak = percentile(component.map { dist[$0] }, 0.85)
        // Re-cut at half the peak contrast, inside the component grown by one pixel.
        var mask: [Int] = []  // kept sorted, so every sum below runs in one order (bit-reproducible scores)
        var inMask = [Bool](repeating: false, count: w * h)
        for p in component {
            let x = p % w, y = p / w
            for (nx, ny) in [(x, y), (x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                let q = ny * w + nx
                if !inMask[q] && dist[q] > 0.5 * peak && (labels[q] == label || labels[q] < 0) { inMask[q] = true; mask.append(q) }
            }
        }
        mask.sort()
        guard mask.count >= options.minArea else { return nil }
        var minX = w, maxX = -1, minY = h, maxY = -1
        for p in mask {
            let x = p % w, y = p / w
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
        }
        let bw = maxX - minX + 1, bh = maxY - minY + 1
        let aspect = Float(bw) / Float(bh)
        let fill = Float(mask.count) / Float(bw * bh)
        guard min(bw, bh) >= 3, aspect >= 0.6, aspect <= 1.67, fill >= 0.3 else { return nil }

        // Colour from the core (the pixels at ≥ 80 % of peak contrast).
        var core = mask.filter { dist[$0] >= 0.8 * peak }
        if core.count < 3 { core = mask }
        let channel = { (c: Int) in median(core.map { image.pixels[3 * $0 + c] }) }
        let (r, g, b) = (channel(0), channel(1), channel(2))
        let chroma = ((r - g) * (r - g) + ((r + g) / 2 - b) * ((r + g) / 2 - b)).squareRoot()
        guard chroma >= options.minChroma else { return nil }
        let (color, nearest, second) = classifyHue(hueAngle(r, g, b))
        // Hue coherence: noise blobs have core pixels of every hue; a painted shape has one.
        let agreeing = core.filter { p in
            classifyHue(hueAngle(image.pixels[3 * p], image.pixels[3 * p + 1], image.pixels[3 * p + 2])).0 == color
        }.count
        let coherence = Float(agreeing) / Float(core.count)
        guard coherence >= 0.4 else { return nil }

        // Soft coverage (distance / peak) over the box and a one-pixel frame: anti-aliased or blurred edges keep
        // their partial coverage instead of being cut one way or the other at exactly half.
        let (pw, ph) = (bw + 2, bh + 2)
        var soft = [Float](repeating: 0, count: pw * ph)
        var softArea: Float = 0, softX: Float = 0, softY: Float = 0
        for p in mask {
            let x = p % w, y = p / w
            for (nx, ny) in [(x, y), (x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                let q = ny * w + nx, f = (ny - minY + 1) * pw + nx - minX + 1
                guard soft[f] == 0, labels[q] == label || labels[q] < 0 else { continue }
                soft[f] = min(dist[q] / peak, 1)
                softArea += soft[f]; softX += soft[f] * (Float(nx) + 0.5); softY += soft[f] * (Float(ny) + 0.5)
            }
        }
        let cx = softX / softArea, cy = softY / softArea
        // Shape: the ideal shape, centred on the centroid, that overlaps the soft mask best (soft IoU). Sizes from
        // one pixel under to two over the binary box: tips of triangles and diamonds fall below half coverage.
        let origin = (Float(minX - 1), Float(minY - 1))
        let ious = ShapeKind.allCases.map { shape in
            (shape, [-1, 0, 1, 2].map { grow -> Float in
                let tw = Float(bw + grow), th = Float(bh + grow)
                // An apex-up triangle's centroid sits h/6 below its box centre.
                let centre = (cx - origin.0, cy - origin.1 - (shape == .triangle ? th / 6 : 0))
                return templateIoU(shape, center: centre, width: tw, height: th, soft: soft, pw: pw, ph: ph)
            }.max()!)
        }.sorted { $0.1 > $1.1 }
        let box = Box(minX: Float(minX), minY: Float(minY), maxX: Float(maxX + 1), maxY: Float(maxY + 1))
        let shape = ious[0].0
        let shapeMargin = (ious[0].1 - ious[1].1) / 0.1
        let clamp01 = { (v: Float) in min(max(v, 0), 1) }
        let colorConfidence = clamp01((second - nearest) / 20) * clamp01(chroma / 0.2)
        // Wholeness: wide enough to be a shape of this world, and outlined like one (shuffled-patch fragments have
        // the right colour but ragged, partial outlines; docs/shapeseval-calibration.md).
        let wholeness = min(clamp01((Float(min(bw, bh)) - (options.minShapeSide - 2)) / 2),
                            clamp01((ious[0].1 - options.minTemplateFit) / 0.2))
        let confidence = min(clamp01(shapeMargin), colorConfidence, clamp01((coherence - 0.4) / 0.4), wholeness)
        return DetectedShape(shape: shape, color: color, box: box, centroidX: cx, centroidY: cy, area: mask.count, confidence: confidence)
    }

    /// Soft intersection over union, Σ min / Σ max, of a coverage map (`pw × ph`, row-major) with the ideal
    /// `shape` of the given box size and centre (frame coordinates), its coverage from 4×4 subsamples per pixel.
    static func templateIoU(_ shape: ShapeKind, center: (Float, Float), width: Float, height: Float,
                            soft: [Float], pw: Int, ph: Int) -> Float {
        let hx = width / 2, hy = height / 2
        var intersection: Float = 0, union: Float = 0
        for y in 0..<ph {
            for x in 0..<pw {
                var hits = 0
                for sy in 0..<4 {
                    let v = (Float(y) + (Float(sy) + 0.5) / 4 - center.1) / hy  // the ideal spans [-1, 1]²
                    for sx in 0..<4 {
                        let u = (Float(x) + (Float(sx) + 0.5) / 4 - center.0) / hx
                        let inside: Bool
                        switch shape {
                        case .circle: inside = u * u + v * v <= 1
                        case .square: inside = abs(u) <= 1 && abs(v) <= 1
                        case .diamond: inside = abs(u) + abs(v) <= 1
                        case .triangle: inside = v >= -1 && v <= 1 && abs(u) <= (v + 1) / 2
                        }
                        if inside { hits += 1 }
                    }
                }
                let t = Float(hits) / 16, m = soft[y * pw + x]
                intersection += min(t, m)
                union += max(t, m)
            }
        }
        return union > 0 ? intersection / union : 0
    }

    /// A per-channel plane a + b·x + c·y fitted by least squares to the border pixels that lie near the border
    /// median (objects touching the border are ignored); a constant if too few remain.
    static func fitBackground(_ image: RGBImage) -> (Int, Int) -> (Float, Float, Float) {
        let w = image.width, h = image.height
        var points: [(Int, Int)] = []
        for x in 0..<w { points.append((x, 0)); points.append((x, h - 1)) }
        for y in 1..<(h - 1) { points.append((0, y)); points.append((w - 1, y)) }
        let medians = (0..<3).map { c in median(points.map { image.pixels[3 * ($0.1 * w + $0.0) + c] }) }
        let kept = points.filter { pt in
            (0..<3).allSatisfy { abs(image.pixels[3 * (pt.1 * w + pt.0) + $0] - medians[$0]) < 0.12 }
        }
        guard kept.count >= 16 else { return { _, _ in (medians[0], medians[1], medians[2]) } }
        // Normal equations of [1, x, y] · (a, b, c) ≈ v, solved by Cramer's rule in Double.
        let mx = Double(w - 1) / 2, my = Double(h - 1) / 2
        var m = [[Double]](repeating: [0, 0, 0], count: 3)
        var rhs = [[Double]](repeating: [0, 0, 0], count: 3)
        for (x, y) in kept {
            let f = [1, Double(x) - mx, Double(y) - my]
            for i in 0..<3 {
                for j in 0..<3 { m[i][j] += f[i] * f[j] }
                for c in 0..<3 { rhs[c][i] += f[i] * Double(image.pixels[3 * (y * w + x) + c]) }
            }
        }
        func det(_ a: [[Double]]) -> Double {
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        }
        let d = det(m)
        guard abs(d) > 1e-9 else { return { _, _ in (medians[0], medians[1], medians[2]) } }
        let coefficients: [[Float]] = (0..<3).map { c in
            (0..<3).map { k in
                var mk = m
                for i in 0..<3 { mk[i][k] = rhs[c][i] }
                return Float(det(mk) / d)
            }
        }
        let (fx, fy) = (Float(mx), Float(my))
        return { x, y in
            let dx = Float(x) - fx, dy = Float(y) - fy
            let v = coefficients.map { $0[0] + $0[1] * dx + $0[2] * dy }
            return (v[0], v[1], v[2])
        }
    }
}

/// The median (mean of the middle two for even counts); 0 for an empty array.
func median(_ values: [Float]) -> Float {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let n = sorted.count
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

/// The `q`-quantile by nearest rank; 0 for an empty array.
func percentile(_ values: [Float], _ q: Float) -> Float {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(Int(q * Float(sorted.count - 1) + 0.5), sorted.count - 1)]
}
