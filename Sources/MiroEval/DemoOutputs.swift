import Foundation
import Logging
import MiroImage
import MiroPipeline
import MiroShapes
import MiroTraining

/// Everything `miro demo` writes after training, for one evaluation tier: the labelled sample grid, the
/// training sheet, ShapesEval (JSON and a labelled sheet), the reward-target sweeps (JSON and a plot), the
/// loss plot and the conditioning-use probe. Files are written atomically, each as soon as it is ready, so
/// an interrupted demo keeps what it finished.
public struct DemoOutputs: Sendable {
    public var evaluation: ShapesEvaluation
    public var sweep: RewardSweep
    public var isolated: RewardSweep?
    public var conditioningUse: ConditioningUse?
    /// Paths written, relative to the run directory, in the order of `DemoReport.descriptions`.
    public var files: [String]

    public static func write(_ pipeline: ShapesPipeline, settings: ShapesPipeline.Settings, tier: DemoEvaluation,
                             trainingSet: ShapesTrainingSet?, run: URL, logger: Logger) throws -> DemoOutputs {
        func url(_ path: String) -> URL { run.appendingPathComponent(path) }
        // What training left (its metrics, checkpoints and configuration) is part of the demo's output too.
        var files = ["metrics.jsonl", "checkpoints/", "run.json"].filter { FileManager.default.fileExists(atPath: url($0).path) }
        func save(_ text: String, _ path: String) throws {
            try FileManager.default.createDirectory(at: url(path).deletingLastPathComponent(), withIntermediateDirectories: true)
            try PNG.writeAtomically(Data(text.utf8), to: url(path))
            files.append(path)
        }

        // What a newcomer looks at first: samples per reward setting, and what the rewards mean on real data.
        try SampleGrid.write(pipeline, settings: settings, to: url("samples/final.png"))
        files.append("samples/final.png")
        logger.info("sample grid \(url("samples/final.png").path)")
        if let trainingSet {
            try TrainingSheet.write(trainingSet, to: url("samples/training_by_reward.png"))
            files.append("samples/training_by_reward.png")
        }
        if let loss = try lossChart(metrics: url("metrics.jsonl")) {
            try FileManager.default.createDirectory(at: url("plots"), withIntermediateDirectories: true)
            try PNG.write(loss.render(), to: url("plots/loss.png"), text: [PNGText("Description", loss.title)])
            files.append("plots/loss.png")
        }

        // ShapesEval with every reward at its maximum.
        let (eval, images) = try ShapesEvaluation.run(pipeline, settings: settings, perPrompt: tier.perPrompt)
        try save(try eval.json(), "eval.json")
        try PNG.write(try evalSheet(eval, images: images, perPrompt: tier.perPrompt), to: url("samples/shapeseval.png"),
                      text: [PNGText("Description", "ShapesEval samples, one row per prompt; ok/miss: the detector's verdict")])
        files.append("samples/shapeseval.png")
        logger.info("ShapesEval \(String(format: "%.3f", eval.overall)) (\(eval.images) images)")

        // One reward's target at 0, 0.5, 1 with the others at 1: its measured mean should follow; then the same
        // with per-reward isolation (negative: the others at 1 too), the paper's way to see one reward alone.
        let targets = [0, 0.5, 1]
        let sweep = try RewardSweep.run(pipeline, settings: settings, targets: targets, images: tier.sweepImages)
        try save(try sweep.json(), "reward_sweep.json")
        var isolated: RewardSweep? = nil
        if tier.isolatedSweep {
            let s = try RewardSweep.run(pipeline, settings: settings, targets: targets, images: tier.sweepImages, isolated: true)
            try save(try s.json(), "reward_sweep_isolated.json")
            isolated = s
        }
        let charts = sweepCharts(sweep, isolated: isolated, images: tier.sweepImages, guidance: settings.guidance)
        try PNG.write(try ImageGrid.tile(charts.map { $0.render() }, columns: charts.count, margin: 8),
                      to: url("plots/reward_sweep.png"), text: [PNGText("Description", charts.map(\.title).joined(separator: "; "))])
        files.append("plots/reward_sweep.png")
        logger.info("reward sweeps done (\(tier.sweepImages) images per target)")

        // Which conditioning inputs the network reads at all (a reward it ignores cannot follow its target).
        var use: ConditioningUse? = nil
        if tier.probeImages > 0 {
            var quiet = logger
            quiet.logLevel = .warning
            use = try ConditioningUse.measure(pipeline, images: tier.probeImages, logger: quiet)
        }
        return DemoOutputs(evaluation: eval, sweep: sweep, isolated: isolated, conditioningUse: use, files: files)
    }

    /// ShapesEval's images in reading order, several prompts per row, each captioned with the detector's
    /// verdict (OK / MISS) and its prompt (without the "a photo of" every evaluation prompt starts with).
    static func evalSheet(_ eval: ShapesEvaluation, images: [RGBImage], perPrompt: Int) throws -> RGBImage {
        let prompts = ShapesEval.prompts()
        let verdicts = eval.perImage?.correct ?? []
        let captions = images.indices.map { i -> String in
            let verdict = i < verdicts.count ? (verdicts[i] ? "OK" : "MISS") : "?"
            let prompt = prompts[min(i / max(perPrompt, 1), prompts.count - 1)].prompt
            return verdict + ": " + (prompt.hasPrefix("a photo of ") ? String(prompt.dropFirst("a photo of ".count)) : prompt)
        }
        // 8 cells a row, a whole number of prompts per row, so one prompt's images never break across rows.
        let columns = max(perPrompt, (8 / max(perPrompt, 1)) * perPrompt)
        return try LabelledGrid(
            title: ["ShapesEval samples (overall \(String(format: "%.3f", eval.overall)))",
                    "\(prompts.count) held-out prompts x \(perPrompt) image(s), all reward targets at 1, in prompt order;",
                    "under each: OK = the detector found what the prompt asks, MISS = it did not"],
            rowLabels: [], captions: captions, captionFontScale: 1, columns: columns, scale: 3, fontScale: 2, margin: 4)
            .render(images)
    }

    /// The loss per logged step from `metrics.jsonl`: the raw flow-matching MSE and the trained objective
    /// (weighted by the learned log-variance); nil when the file has fewer than two logged steps.
    static func lossChart(metrics: URL) throws -> LineChart? {
        guard let text = try? String(contentsOf: metrics, encoding: .utf8) else { return nil }
        var raw: [LineChart.Point] = []
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = (object["step"] as? NSNumber)?.doubleValue,
                  let value = (object["raw_loss"] as? NSNumber)?.doubleValue, value.isFinite else { continue }
            raw.append(LineChart.Point(step, value))
        }
        guard raw.count >= 2 else { return nil }
        return LineChart(title: "Training loss", xLabel: "training step",
                         yLabel: "raw loss (MSE of the predicted velocity)",
                         series: [LineChart.Series(name: "raw loss", points: raw, color: LineChart.palette[0])])
    }

    /// One chart per sweep: each reward's measured mean against its target.
    static func sweepCharts(_ sweep: RewardSweep, isolated: RewardSweep?, images: Int, guidance: Double) -> [LineChart] {
        func chart(_ s: RewardSweep, _ title: String) -> LineChart {
            let series = s.means.keys.sorted().enumerated().map { i, key in
                LineChart.Series(name: SampleGrid.displayName(key),
                                 points: zip(s.targets, s.means[key] ?? []).map { LineChart.Point($0, $1) },
                                 color: LineChart.palette[i % LineChart.palette.count])
            }
            return LineChart(title: title, xLabel: "target of the swept reward (others at 1)",
                             yLabel: "measured mean of that reward (\(images) images, guidance \(guidance))", series: series)
        }
        var charts = [chart(sweep, "Reward sweep: negative all 0")]
        if let isolated { charts.append(chart(isolated, "Reward sweep: isolated")) }
        return charts
    }

    /// The result tables for `summary.txt`.
    public func tables(settings: ShapesPipeline.Settings) -> [String] {
        var out = [evaluation.table(title: "ShapesEval and rewards (all rewards at 1, guidance \(settings.guidance), \(settings.steps) steps)"),
                   sweep.table()]
        if let isolated { out.append(isolated.table()) }
        if let conditioningUse { out.append(conditioningUse.table()) }
        return out
    }
}
