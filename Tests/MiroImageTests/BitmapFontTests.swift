import Testing
import MiroImage

/// Dark pixels (every channel below 0.5: text, not a saturated colour) of `image` inside the rectangle.
func darkPixels(_ image: RGBImage, x: Int = 0, y: Int = 0, width: Int? = nil, height: Int? = nil) -> Int {
    var n = 0
    for yy in y..<min(y + (height ?? image.height), image.height) {
        for xx in x..<min(x + (width ?? image.width), image.width) {
            let p = image.pixel(xx, yy)
            if max(p.0, p.1, p.2) < 0.5 { n += 1 }
        }
    }
    return n
}

@Suite struct BitmapFontTests {
    /// "A" is 0E 11 11 11 1F 11 11: the top row lights columns 1–3, the crossbar (row 4) all five.
    @Test func aGlyphRendersItsRows() {
        var image = RGBImage(width: 8, height: 8, fill: (1, 1, 1))
        let drawn = image.draw(text: "A", x: 1, y: 0)
        #expect(drawn == 5)
        let row0 = (0..<8).map { image.pixel($0, 0).0 < 0.5 }
        #expect(row0 == [false, false, true, true, true, false, false, false])
        let row4 = (0..<8).map { image.pixel($0, 4).0 < 0.5 }
        #expect(row4 == [false, true, true, true, true, true, false, false])
        #expect(darkPixels(image, y: 7) == 0, "nothing below the 7 rows")
        // A descender hangs one row lower: "g" reaches row 7, where "a" stops at row 6.
        var g = RGBImage(width: 6, height: 9, fill: (1, 1, 1)), a = g
        g.draw(text: "g", x: 0, y: 0)
        a.draw(text: "a", x: 0, y: 0)
        #expect(darkPixels(g, y: 7, height: 1) > 0 && darkPixels(a, y: 7, height: 1) == 0)
        #expect(darkPixels(g, y: 0, height: 2) == 0, "its bowl starts at the x-height, like 'a'")
    }

    @Test func scaleDrawsBlocks() {
        var one = RGBImage(width: 20, height: 20, fill: (1, 1, 1)), two = one
        one.draw(text: "k", x: 0, y: 0)
        two.draw(text: "k", x: 0, y: 0, scale: 2)
        #expect(darkPixels(two) == 4 * darkPixels(one) && darkPixels(one) > 0)
        #expect(BitmapFont.width(of: "ab", scale: 2) == 22 && BitmapFont.height(lines: 2, scale: 2) == 34)
    }

    @Test func everyPrintableCharacterHasItsOwnGlyph() {
        let printable = (0x20...0x7E).map { Character(Unicode.Scalar(UInt8($0))) }
        #expect(printable.allSatisfy(BitmapFont.hasGlyph))
        let glyphs = printable.map(BitmapFont.glyph)
        #expect(Set(glyphs.map { $0.map(String.init).joined(separator: ",") }).count == printable.count, "two characters share a glyph")
        #expect(glyphs.allSatisfy { $0.count == 7 && $0.allSatisfy { $0 < 32 } })
        #expect(!glyphs.contains(BitmapFont.replacement))
        #expect(glyphs.dropFirst().allSatisfy { $0.contains { $0 != 0 } }, "only the space is blank")
    }

    /// Unknown characters are drawn as a visible box and take one cell; typographic ones become ASCII.
    @Test func unknownCharactersAreBoxesAndLookAlikesAreMapped() {
        #expect(BitmapFont.glyph("é") == BitmapFont.replacement && BitmapFont.glyph("\u{1F600}") == BitmapFont.replacement)
        #expect(BitmapFont.width(of: "é") == BitmapFont.width(of: "e"))
        var image = RGBImage(width: 8, height: 8, fill: (1, 1, 1))
        image.draw(text: "é", x: 0, y: 0)
        #expect(darkPixels(image) == 5 + 5 + 5 * 2, "a hollow 5×7 box")
        #expect(BitmapFont.normalized("a — b × c ≥ d") == "a - b x c >= d")
        // Drawing outside the image clips instead of trapping.
        image.draw(text: "far away", x: -100, y: 500, scale: 3)
        image.draw(text: "edge", x: 6, y: 6, scale: 2)
    }

    @Test func wrappingKeepsLinesInsideTheWidth() {
        let text = "a purple triangle to the left of a red square"
        let lines = BitmapFont.wrap(text, maxWidth: 128, scale: 2)   // 10 characters per line
        #expect(lines.allSatisfy { BitmapFont.width(of: $0, scale: 2) <= 128 }, "\(lines)")
        #expect(lines.joined(separator: " ") == text)
        #expect(BitmapFont.wrap("supercalifragilistic", maxWidth: 30, scale: 1) == ["super", "calif", "ragil", "istic"])
        #expect(BitmapFont.wrap("two\nlines", maxWidth: 1000) == ["two", "lines"])
    }
}
