import Foundation

/// A minimal line chart: axes and polylines on a white 240×160 canvas (the CSV carries the numbers).
public enum LinePlot {
    public static func render(series: [([(Double, Double)], (Float, Float, Float))], width: Int = 240, height: Int = 160) -> RGBImage {
        var image = RGBImage(width: width, height: height, fill: (1, 1, 1))
        let points = series.flatMap(\.0).filter { $0.1.isFinite }
        guard let x0 = points.map(\.0).min(), let x1 = points.map(\.0).max(),
              var y0 = points.map(\.1).min(), var y1 = points.map(\.1).max() else { return image }
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let pad = 12
        func px(_ x: Double) -> Int { pad + Int(Double(width - 2 * pad) * (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5)) }
        func py(_ y: Double) -> Int { height - pad - Int(Double(height - 2 * pad) * (y - y0) / (y1 - y0)) }
        func set(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = 3 * (y * width + x)
            image.pixels[i] = c.0; image.pixels[i + 1] = c.1; image.pixels[i + 2] = c.2
        }
        for x in pad...(width - pad) { set(x, height - pad, (0, 0, 0)) }
        for y in pad...(height - pad) { set(pad, y, (0, 0, 0)) }
        for (line, color) in series {
            let pts = line.filter { $0.1.isFinite }
            for (a, b) in zip(pts, pts.dropFirst()) {
                let (ax, ay, bx, by) = (px(a.0), py(a.1), px(b.0), py(b.1))
                let n = max(abs(bx - ax), abs(by - ay), 1)
                for k in 0...n {
                    let x = ax + (bx - ax) * k / n, y = ay + (by - ay) * k / n
                    set(x, y, color); set(x, y + 1, color)
                }
            }
            for p in pts { for dx in -2...2 { for dy in -2...2 { set(px(p.0) + dx, py(p.1) + dy, color) } } }
        }
        return image
    }
}

/// A line chart that reads on its own: title, axis names, tick marks with labels at round values, and a
/// legend under the plot (never over the curves), all in the built-in bitmap font. The demo's loss curve and
/// reward-sweep curves are drawn with it.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [Point]
        public var color: (Float, Float, Float)

        public init(name: String, points: [Point], color: (Float, Float, Float)) {
            self.name = name
            self.points = points
            self.color = color
        }
    }

    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width: Int
    public var height: Int
    /// Size of all text (2 → 10×14-pixel glyphs); the title is one step larger.
    public var fontScale: Int
    /// A fixed y range (e.g. 0…1 for rewards); nil fits the data.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [Series], width: Int = 720, height: Int = 480,
                fontScale: Int = 2, yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.width = width
        self.height = height
        self.fontScale = fontScale
        self.yRange = yRange
    }

    /// Colours that stay distinct on white and for the common colour-vision deficiencies (Okabe–Ito).
    public static let palette: [(Float, Float, Float)] = [
        (0.00, 0.45, 0.70), (0.90, 0.62, 0.00), (0.00, 0.62, 0.45), (0.80, 0.47, 0.65),
        (0.84, 0.37, 0.00), (0.34, 0.71, 0.91), (0.50, 0.50, 0.50),
    ]

    /// Round tick values (1, 2 or 5 × 10ᵏ apart, whichever gives the count nearest `count`) covering lo…hi;
    /// the ends are widened to ticks. Empty for non-finite input.
    public static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        var (a, b) = (min(lo, hi), max(lo, hi))
        if b - a < 1e-12 { a -= max(abs(a) * 0.1, 0.5); b += max(abs(b) * 0.1, 0.5) }
        let raw = (b - a) / Double(max(count, 2) - 1)
        guard raw.isFinite, raw > 0 else { return [a, b] }
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        func ticks(_ step: Double) -> Double { (b / step).rounded(.up) - (a / step).rounded(.down) + 1 }
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.min { abs(ticks($0) - Double(count)) < abs(ticks($1) - Double(count)) }
            ?? magnitude
        let first = (a / step).rounded(.down), last = (b / step).rounded(.up)
        guard last - first < 1000 else { return [a, b] }
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// A tick value with as many decimals as the tick spacing needs ("0.25", "1500", "-0.1").
    public static func tickLabel(_ value: Double, step: Double) -> String {
        // −log10 of a power of ten can land a hair above the integer; the 1e-9 keeps 0.1 at one decimal.
        let decimals = step > 0 && step.isFinite ? max(0, min(6, Int((-log10(step) - 1e-9).rounded(.up)))) : 2
        let v = abs(value) < step * 1e-6 ? 0 : value
        return String(format: "%.\(decimals)f", v)
    }

    public func render() -> RGBImage {
        let f = max(fontScale, 1)
        var image = RGBImage(width: width, height: height, fill: (1, 1, 1))
        let ink: (Float, Float, Float) = (0.1, 0.1, 0.1), grid: (Float, Float, Float) = (0.88, 0.88, 0.88)
        let pad = 6 * f
        image.draw(text: title, x: pad, y: pad, scale: f + 1, color: ink)
        let titleH = BitmapFont.height(lines: 1, scale: f + 1) + 2 * pad
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = Self.niceTicks(points.map(\.x).min() ?? 0, points.map(\.x).max() ?? 1)
        let ys = yRange.map { Self.niceTicks($0.lowerBound, $0.upperBound) }
            ?? Self.niceTicks(points.map(\.y).min() ?? 0, points.map(\.y).max() ?? 1)
        guard let x0 = xs.first, let x1 = xs.last, let y0 = ys.first, let y1 = ys.last, x1 > x0, y1 > y0 else { return image }
        let yStep = ys.count > 1 ? ys[1] - ys[0] : 1, xStep = xs.count > 1 ? xs[1] - xs[0] : 1
        let yTickLabels = ys.map { Self.tickLabel($0, step: yStep) }
        let tickW = yTickLabels.map { BitmapFont.width(of: $0, scale: f) }.max() ?? 0
        let legendLines = Self.legendRows(series.map(\.name), width: width - 2 * pad, scale: f)
        let textH = BitmapFont.height(lines: 1, scale: f)
        // Plot area: y-axis name above it, tick labels left, x tick labels and x-axis name below, then the legend.
        let left = pad + tickW + 2 * f + 4 * f
        let right = width - pad - BitmapFont.width(of: xs.map { Self.tickLabel($0, step: xStep) }.last ?? "", scale: f) / 2
        let top = titleH + textH + pad
        let bottom = height - pad - legendLines.count * (BitmapFont.lineHeight * f) - (legendLines.isEmpty ? 0 : pad)
            - 2 * textH - 3 * pad
        guard right - left > 10, bottom - top > 10 else { return image }
        func px(_ x: Double) -> Int { left + Int((Double(right - left) * (x - x0) / (x1 - x0)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int((Double(bottom - top) * (y - y0) / (y1 - y0)).rounded()) }

        image.draw(text: yLabel, x: pad, y: titleH, scale: f, color: ink)
        for (v, label) in zip(ys, yTickLabels) {
            let y = py(v)
            image.fill(x: left, y: y, width: right - left + 1, height: 1, color: grid)
            image.fill(x: left - 4 * f, y: y, width: 4 * f, height: max(1, f / 2), color: ink)
            image.draw(text: label, x: left - 6 * f - BitmapFont.width(of: label, scale: f), y: y - textH / 2, scale: f, color: ink)
        }
        for v in xs {
            let x = px(v), label = Self.tickLabel(v, step: xStep)
            image.fill(x: x, y: top, width: 1, height: bottom - top, color: grid)
            image.fill(x: x, y: bottom, width: max(1, f / 2), height: 4 * f, color: ink)
            image.draw(text: label, x: x - BitmapFont.width(of: label, scale: f) / 2, y: bottom + 6 * f, scale: f, color: ink)
        }
        image.fill(x: left, y: top, width: max(1, f / 2), height: bottom - top + 1, color: ink)
        image.fill(x: left, y: bottom, width: right - left + 1, height: max(1, f / 2), color: ink)
        let xNameY = bottom + 6 * f + textH + pad
        image.draw(text: xLabel, x: left + (right - left - BitmapFont.width(of: xLabel, scale: f)) / 2, y: xNameY, scale: f, color: ink)

        for s in series {
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            for (a, b) in zip(pts, pts.dropFirst()) { Self.line(&image, px(a.x), py(a.y), px(b.x), py(b.y), thickness: f, s.color) }
            if pts.count <= 40 {
                for p in pts { image.fill(x: px(p.x) - 2 * f, y: py(p.y) - 2 * f, width: 4 * f + 1, height: 4 * f + 1, color: s.color) }
            }
        }
        // Legend: a colour swatch and the name per series, packed into rows under the x-axis name.
        var y = xNameY + textH + pad
        var index = 0
        for row in legendLines {
            var x = pad
            for name in row {
                image.fill(x: x, y: y + textH / 2 - f, width: 6 * f, height: 2 * f + 1, color: series[index].color)
                x += 8 * f
                x += image.draw(text: name, x: x, y: y, scale: f, color: ink) + 6 * f
                index += 1
            }
            y += BitmapFont.lineHeight * f
        }
        return image
    }

    /// Legend entries packed greedily into rows that fit `width`.
    static func legendRows(_ names: [String], width: Int, scale: Int) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], used = 0
        for name in names {
            let w = 8 * scale + BitmapFont.width(of: name, scale: scale) + 6 * scale
            if !row.isEmpty && used + w > width { rows.append(row); row = []; used = 0 }
            row.append(name)
            used += w
        }
        if !row.isEmpty { rows.append(row) }
        return rows
    }

    /// A straight line `thickness` pixels wide (square brush), clipped to the image.
    static func line(_ image: inout RGBImage, _ ax: Int, _ ay: Int, _ bx: Int, _ by: Int, thickness: Int,
                     _ color: (Float, Float, Float)) {
        let n = max(abs(bx - ax), abs(by - ay), 1)
        let half = thickness / 2
        for k in 0...n {
            let x = ax + (bx - ax) * k / n, y = ay + (by - ay) * k / n
            image.fill(x: x - half, y: y - half, width: thickness, height: thickness, color: color)
        }
    }
}
