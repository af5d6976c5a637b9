import Testing
import MiroImage

@Suite struct LabelledGridTests {
    static let red = RGBImage(width: 4, height: 4, fill: (1, 0, 0))
    static let blue = RGBImage(width: 4, height: 4, fill: (0, 0, 1))

    /// Images land right of the row labels and under the headings, at their scale; labels are drawn as dark text.
    @Test func imagesSitBesideTheirLabels() throws {
        let grid = LabelledGrid(title: ["Title"], rowLabels: ["row one"], columnLabels: ["left", "right"],
                                columns: 2, scale: 5, fontScale: 1, margin: 2)
        let sheet = try grid.render([Self.red, Self.blue])
        // Find the red cell: a 20×20 block, left of the blue one at the same height.
        var redAt: (Int, Int)? = nil, blueAt: (Int, Int)? = nil
        for y in 0..<sheet.height { for x in 0..<sheet.width {
            let p = sheet.pixel(x, y)
            if redAt == nil && p == (1, 0, 0) { redAt = (x, y) }
            if blueAt == nil && p == (0, 0, 1) { blueAt = (x, y) }
        } }
        let r = try #require(redAt), b = try #require(blueAt)
        #expect(r.1 == b.1 && b.0 == r.0 + 20 + 2, "cells side by side, one margin apart")
        #expect(sheet.pixel(r.0 + 19, r.1 + 19) == (1, 0, 0) && sheet.pixel(r.0 + 20, r.1) == (1, 1, 1))
        #expect(r.0 >= BitmapFont.width(of: "row one"), "the row label is left of the images")
        #expect(darkPixels(sheet, width: r.0, height: sheet.height) > 20, "row label drawn")
        #expect(darkPixels(sheet, x: r.0, y: 0, width: 20, height: r.1) > 20, "title and heading drawn above the cell")
        #expect(darkPixels(sheet, x: r.0, y: r.1, width: sheet.width - r.0, height: sheet.height - r.1) == 0,
                "nothing dark under the cells without captions")
    }

    @Test func captionsAppearUnderTheirCellAndMustMatch() throws {
        let plain = try LabelledGrid(title: [], rowLabels: [], columns: 1, scale: 4, fontScale: 1).render([Self.red])
        let captioned = try LabelledGrid(title: [], rowLabels: [], captions: ["0.42"], columns: 1, scale: 4, fontScale: 1)
            .render([Self.red])
        #expect(captioned.height > plain.height)
        #expect(darkPixels(plain) == 0 && darkPixels(captioned) > 10)
        #expect(throws: ImageError.self) {
            try LabelledGrid(title: [], rowLabels: [], captions: ["a", "b"], columns: 1).render([Self.red])
        }
        #expect(throws: ImageError.self) { try LabelledGrid(title: [], rowLabels: [], columns: 0).render([Self.red]) }
        #expect(throws: ImageError.self) { try LabelledGrid(title: [], rowLabels: [], columns: 1).render([]) }
    }
}

@Suite struct LineChartTests {
    @Test func ticksAreRoundAndLabelsHaveTheDigitsTheyNeed() {
        #expect(LineChart.niceTicks(0, 1) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        #expect(LineChart.niceTicks(0, 1460) == [0, 500, 1000, 1500])
        #expect(LineChart.niceTicks(0.13, 0.14).count >= 3)
        #expect(LineChart.niceTicks(2, 2).count >= 2, "a constant series still gets an axis")
        #expect(LineChart.niceTicks(.nan, 1).isEmpty)
        #expect(LineChart.tickLabel(0.25, step: 0.05) == "0.25" && LineChart.tickLabel(1500, step: 500) == "1500")
        #expect(LineChart.tickLabel(0.6000000000000001, step: 0.2) == "0.6" && LineChart.tickLabel(0.1, step: 0.1) == "0.1")
        #expect(LineChart.tickLabel(1e-17, step: 0.2) == "0.0")
    }

    /// A rising series is drawn in its colour, lower on the left than on the right; the legend repeats the colour
    /// under the plot, and the title is dark text at the top.
    @Test func aRisingSeriesIsDrawnRisingWithALegend() {
        let colour: (Float, Float, Float) = (0.9, 0.1, 0.1)
        let chart = LineChart(title: "T", xLabel: "x", yLabel: "y",
                              series: [.init(name: "up", points: [.init(0, 0), .init(1, 1)], color: colour)],
                              width: 300, height: 240, fontScale: 1)
        let image = chart.render()
        var coloured: [(Int, Int)] = []
        for y in 0..<image.height { for x in 0..<image.width where image.pixel(x, y) == colour { coloured.append((x, y)) } }
        #expect(coloured.count > 100)
        let left = coloured.filter { $0.0 < 100 }.map(\.1), right = coloured.filter { $0.0 > 200 }.map(\.1)
        let leftY = left.reduce(0, +) / max(left.count, 1), rightY = right.reduce(0, +) / max(right.count, 1)
        #expect(!left.isEmpty && !right.isEmpty && leftY > rightY + 50, "the line rises (y grows downwards): \(leftY) → \(rightY)")
        let lowest = coloured.map(\.1).max() ?? 0
        #expect(lowest > image.height - 30, "the legend swatch sits at the bottom")
        #expect(darkPixels(image, height: 16) > 5, "title drawn")
        // Nothing to plot: a blank chart with its title, no trap.
        let empty = LineChart(title: "T", xLabel: "x", yLabel: "y", series: [.init(name: "n", points: [.init(.nan, 1)], color: colour)])
        #expect(empty.render().width == 720)
    }
}
