import Foundation
import MiroData

/// One evaluation of one model during the experiment (EMA weights at `step`).
struct Point: Codable {
    var step: Int
    var overall: Double
    var rewards: [String: Double]
    var categories: [String: Double]

    func value(_ metric: String) -> Double { metric == "shapeseval" ? overall : rewards[metric] ?? .nan }
}

/// The two models' curves side by side: the speed-up table, convergence.csv and the plot.
struct ConvergenceReport {
    let baseline: [Point]
    let miro: [Point]
    let metrics: [String]

    init(baseline: [Point], miro: [Point]) throws {
        guard !baseline.isEmpty, !miro.isEmpty else { throw ExperimentError("no evaluations were recorded") }
        self.baseline = baseline
        self.miro = miro
        metrics = ["shapeseval"] + (baseline.first?.rewards.keys.sorted() ?? [])
    }

    /// finalStep / (first step where MIRO reaches the baseline's final value), nil if it never does.
    func speedUp(_ metric: String) -> (step: Double, factor: Double)? {
        guard let target = baseline.last?.value(metric), let final = baseline.last?.step else { return nil }
        var previous: Point? = nil
        for p in miro {
            let v = p.value(metric)
            if v >= target {
                guard let prev = previous else { return (Double(p.step), Double(final) / Double(p.step)) }
                let pv = prev.value(metric)
                let frac = v == pv ? 0 : (target - pv) / (v - pv)
                let step = Double(prev.step) + frac * Double(p.step - prev.step)
                return (step, Double(final) / step)
            }
            previous = p
        }
        return nil
    }

    func table() -> String {
        var lines = ["metric                     baseline@end   MIRO@end   MIRO reaches baseline@end at   speed-up"]
        for m in metrics {
            let b = baseline.last?.value(m) ?? .nan, r = miro.last?.value(m) ?? .nan
            let s = speedUp(m)
            let reach = s.map { String(format: "step %.0f", $0.step) } ?? "never"
            let factor = s.map { String(format: "%.1f×", $0.factor) } ?? "—"
            lines.append(m.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: " %12.4f %10.4f   ", b, r)
                         + reach.padding(toLength: 31, withPad: " ", startingAt: 0) + factor)
        }
        return lines.joined(separator: "\n")
    }

    func write(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var csv = "model,step," + metrics.joined(separator: ",") + "\n"
        for (name, points) in [("baseline", baseline), ("miro", miro)] {
            for p in points {
                csv += "\(name),\(p.step)," + metrics.map { String(format: "%.6f", p.value($0)) }.joined(separator: ",") + "\n"
            }
        }
        try Data(csv.utf8).write(to: dir.appendingPathComponent("convergence.csv"), options: .atomic)
        try Data((table() + "\n").utf8).write(to: dir.appendingPathComponent("convergence.txt"), options: .atomic)
        // One panel per metric; baseline grey, MIRO blue.
        var panels: [RGBImage] = []
        for m in metrics {
            panels.append(LinePlot.render(series: [(baseline.map { (Double($0.step), $0.value(m)) }, (0.5, 0.5, 0.5)),
                                                   (miro.map { (Double($0.step), $0.value(m)) }, (0.1, 0.3, 0.9))]))
        }
        let legend = "panels: " + metrics.joined(separator: ", ") + "; grey = baseline, blue = MIRO; x = step, y = value"
        try PNG.write(try ImageGrid.tile(panels, columns: min(3, panels.count), margin: 4), to: dir.appendingPathComponent("convergence.png"),
                      text: [PNGText("Description", legend)])
    }
}

/// A minimal line chart: axes and polylines on a white 240×160 canvas (the CSV carries the numbers).
enum LinePlot {
    static func render(series: [([(Double, Double)], (Float, Float, Float))], width: Int = 240, height: Int = 160) -> RGBImage {
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
