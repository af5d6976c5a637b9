import Testing
import MiroData
import MiroImage

@Suite("Image grid")
struct ImageGridTests {
    @Test("layout: rows × columns of scaled cells with margins")
    func layout() throws {
        let red = RGBImage(width: 2, height: 2, fill: (1, 0, 0)), blue = RGBImage(width: 2, height: 2, fill: (0, 0, 1))
        let grid = try ImageGrid.tile([red, blue, red], columns: 2, margin: 1, scale: 3, background: (0, 1, 0))
        #expect(grid.width == 2 * 6 + 3 && grid.height == 2 * 6 + 3)
        #expect(grid.pixel(0, 0) == (0, 1, 0))                  // margin
        #expect(grid.pixel(1, 1) == (1, 0, 0) && grid.pixel(6, 6) == (1, 0, 0))  // first cell, all 6×6
        #expect(grid.pixel(7, 1) == (0, 1, 0))                  // margin between cells
        #expect(grid.pixel(8, 1) == (0, 0, 1))                  // second cell
        #expect(grid.pixel(1, 8) == (1, 0, 0))                  // second row
        #expect(grid.pixel(8, 8) == (0, 1, 0))                  // empty last cell stays background
    }

    @Test("nearest-neighbour upscaling repeats pixels")
    func upscale() {
        let image = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 1, 1, 1])
        let big = image.upscaled(by: 2)
        #expect(big.width == 4 && big.height == 2)
        #expect(big.pixels == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    }

    @Test("invalid grids throw")
    func invalid() {
        #expect(throws: ImageError.self) { try ImageGrid.tile([], columns: 2) }
        #expect(throws: ImageError.self) { try ImageGrid.tile([RGBImage(width: 1, height: 1)], columns: 0) }
    }
}
