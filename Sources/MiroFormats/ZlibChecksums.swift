/// The two checksums of the zlib family, in pure Swift: CRC-32 (gzip trailers, PNG chunks) and Adler-32 (zlib
/// streams). MiroImage's `Checksums` forwards to these.
public enum ZlibChecksums {
    /// The CRC-32 of ISO 3309 / ITU-T V.42 (reflected polynomial 0xEDB88320), as PNG chunks and zlib's `crc32` use.
    public static func crc32<S: Sequence>(_ bytes: S, initial: UInt32 = 0) -> UInt32 where S.Element == UInt8 {
        var crc = ~initial
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    /// Adler-32 (RFC 1950), the checksum that ends a zlib stream.
    public static func adler32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var a: UInt32 = 1, b: UInt32 = 0
        var pending = 0
        for byte in bytes {
            a += UInt32(byte)
            b += a
            pending += 1
            if pending == 5552 { a %= 65521; b %= 65521; pending = 0 }  // zlib's NMAX: no UInt32 overflow
        }
        return ((b % 65521) << 16) | (a % 65521)
    }

    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
