import Foundation
import Testing
import MiroFormats

@Suite("float conversions")
struct ConversionTests {
    @Test("float → bfloat16 matches torch 1.13 (NaN: any NaN)")
    func bfloat16Table() throws {
        let table = try Fixtures.expected().conversions.bf16
        #expect(table.count > 200)
        for pair in table {
            let input = Float(bitPattern: pair[0])
            let got = FloatConversions.bfloat16(from: input)
            if input.isNaN {
                #expect(FloatConversions.float(fromBFloat16: got).isNaN)
            } else {
                #expect(UInt32(got) == pair[1], "input 0x\(String(pair[0], radix: 16))")
            }
        }
        #expect(FloatConversions.bfloat16(from: .nan) == 0x7FC0)
    }

    @Test("float → half matches numpy 1.24 astype(float16)")
    func halfTable() throws {
        for pair in try Fixtures.expected().conversions.f16 {
            let input = Float(bitPattern: pair[0])
            let got = FloatConversions.half(from: input)
            if input.isNaN {
                #expect(got & 0x7C00 == 0x7C00 && got & 0x3FF != 0)
            } else {
                #expect(UInt32(got) == pair[1], "input 0x\(String(pair[0], radix: 16))")
            }
        }
    }

    @Test("FP8 decoding matches the reference tables for all 256 bytes")
    func fp8Tables() throws {
        let tables = try Fixtures.expected().conversions.fp8
        #expect(tables.count == 5)
        for (name, values) in tables {
            let dtype = try #require(SafeTensorsDType(rawValue: name))
            #expect(values.count == 256)
            for (byte, text) in values.enumerated() {
                let expected = try pythonFloat(text)
                let got = try #require(FloatConversions.float(fromFP8: UInt8(byte), dtype: dtype))
                #expect(sameDouble(Double(got), expected), "\(name) byte 0x\(String(byte, radix: 16)): \(got) vs \(text)")
            }
        }
        #expect(FloatConversions.float(fromFP8: 0, dtype: .f32) == nil)
    }

    #if !(os(macOS) && arch(x86_64))
    @Test("half widening is exact for all 65536 bit patterns; narrowing agrees with Swift's Float16")
    func halfExhaustive() {
        for bits in 0...UInt16.max {
            let reference = Float(Float16(bitPattern: bits))
            let got = FloatConversions.float(fromHalf: bits)
            #expect(got.bitPattern == reference.bitPattern || (got.isNaN && reference.isNaN))
            if !got.isNaN { #expect(FloatConversions.half(from: got) == bits) }
        }
        // Narrowing across the float range, stepping through mantissas to hit ties and subnormals.
        var bits: UInt32 = 0
        while bits < 0x8000_0000 {
            let value = Float(bitPattern: bits)
            if !value.isNaN {
                #expect(FloatConversions.half(from: value) == Float16(value).bitPattern, "0x\(String(bits, radix: 16))")
                #expect(FloatConversions.half(from: -value) == Float16(-value).bitPattern)
            }
            bits &+= 0x0000_0FFF
        }
    }
    #endif
}
