import Foundation
import MiroFormats
import MiroImage
import Testing

/// The fixtures scripts/make_image_fixtures.py writes: `cases.json` (cases + blob index) and `cases.bin`.
struct ImageFixtures: Decodable {
    struct Blob: Decodable {
        let offset: Int?
        let count: Int
        let dtype: String
        let shape: [Int]
        let crc32: UInt32
    }
    struct Resample: Decodable { let source: String, filter: String, width: Int, height: Int, expected: String }
    struct Torchvision: Decodable {
        let source: String, op: String, expected: String
        let size: Int?, filter: String?, width: Int?, height: Int?
    }
    struct Preprocessing: Decodable { let source: String, size: Int, expected: String }
    struct Bicubic: Decodable {
        let input: String, expected: String
        let out_height: Int, out_width: Int
    }
    struct File: Decodable { let file: String, pillow_mode: String, expected: String }
    struct Damaged: Decodable { let file: String }

    let blobs: [String: Blob]
    let resample: [Resample]
    let torchvision: [Torchvision]
    let openai_clip: [Preprocessing]
    let hf_clip: [Preprocessing]
    let hpsv2: [Preprocessing]
    let bicubic: [Bicubic]
    let jpeg: [File]
    let png: [File]
    let errors: [Damaged]
    /// cases.bin
    var data = Data()

    enum CodingKeys: String, CodingKey {
        case blobs, resample, torchvision, openai_clip, hf_clip, hpsv2, bicubic, jpeg, png, errors
    }

    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil) ?? URL(fileURLWithPath: "/missing-Fixtures")
    static let shared: ImageFixtures? = try? load()

    static func load() throws -> ImageFixtures {
        var fixtures = try JSONDecoder().decode(ImageFixtures.self, from: Data(contentsOf: directory.appendingPathComponent("cases.json")))
        fixtures.data = try Data(contentsOf: directory.appendingPathComponent("cases.bin"))
        return fixtures
    }

    static func get() throws -> ImageFixtures { try #require(shared, "Fixtures/cases.json could not be read") }

    static func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func blob(_ name: String) throws -> Blob { try #require(blobs[name], "no blob \(name)") }

    func bytes(_ name: String) throws -> [UInt8] {
        let b = try blob(name)
        let offset = try #require(b.offset, "blob \(name) is stored as a CRC only")
        return [UInt8](data[offset..<(offset + b.count)])
    }

    func floats(_ name: String) throws -> [Float] {
        let b = try blob(name)
        let offset = try #require(b.offset)
        return data[offset..<(offset + 4 * b.count)].withUnsafeBytes { raw in
            (0..<b.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    func image(_ name: String) throws -> RGBImage8 {
        let b = try blob(name)
        return try RGBImage8(width: b.shape[1], height: b.shape[0], pixels: try bytes(name))
    }

    /// Whether `image` is exactly the blob: its bytes where stored, else its CRC-32 (and shape).
    func matches(_ image: RGBImage8, _ name: String) throws -> Bool {
        let b = try blob(name)
        guard b.shape == [image.height, image.width, 3] else { return false }
        if b.offset != nil { return image.pixels == (try bytes(name)) }
        return ZlibChecksums.crc32(image.pixels) == b.crc32
    }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
