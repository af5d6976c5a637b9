import Foundation
import MiroData
import MiroImage

/// One evaluation of one model during the experiment (EMA weights at `step`).
public struct ConvergencePoint: Codable, Sendable, Equatable {
    public var step: Int
    public var overall: Double
    public var rewards: [String: Double]
    public var categories: [String: Double]

    public init(step: Int, overall: Double, rewards: [String: Double], categories: [String: Double]) {
        self.step = step
        self.overall = overall
        self.rewards = rewards
        self.categories = categories
    }

    /// "shapeseval" (ShapesEval overall) or a reward's mean.
    public func value(_ metric: String) -> Double { metric == "shapeseval" ? overall : rewards[metric] ?? .nan }
}

/// The two models' curves side by side: the speed-up table, convergence.csv and the plot.
public struct ConvergenceReport: Sendable {
    public let baseline: [ConvergencePoint]
    public let miro: [ConvergencePoint]
    public let metrics: [String]

    public init(baseline: [ConvergencePoint], miro: [ConvergencePoint]) throws {
        guard !baseline.isEmpty, !miro.isEmpty else { throw ExperimentError("no evaluations were recorded") }
        self.baseline = baseline
        self.miro = miro
        metrics = ["shapeseval"] + (baseline.first?.rewards.keys.sorted() ?? [])
    }

    /// finalStep / (first step where MIRO reaches the baseline's final value), nil if it never does.
    public func speedUp(_ metric: String) -> (step: Double, factor: Double)? {
        guard let target = baseline.last?.value(metric), let final = baseline.last?.step else { return nil }
        var previous: ConvergencePoint? = nil
        for p in miro {
            let v = p.value(metric)
            if v >= target {
                guard let prev = previous else { return (Double(p.step), Double(final) / Double(p.step)) }
                let pv = prev.value(metric)
                let frac = v == pv ? 0 : (target - pv) / (v - pv)
                let step = Double(prev.step) + frac * (Double(p.step) - Double(prev.step))  // steps read from evaluations.json
                return (step, Double(final) / step)
            }
            previous = p
        }
        return nil
    }

    public func table() -> String {
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

    public func write(to dir: URL) throws {
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

