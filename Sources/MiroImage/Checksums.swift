import MiroFormats

/// The two checksums a PNG file needs (MiroFormats' `ZlibChecksums`, pure Swift, no zlib).
public enum Checksums {
    /// The CRC-32 of ISO 3309 / ITU-T V.42 (reflected polynomial 0xEDB88320), as PNG chunks and zlib's `crc32` use.
    public static func crc32<S: Sequence>(_ bytes: S, initial: UInt32 = 0) -> UInt32 where S.Element == UInt8 {
        ZlibChecksums.crc32(bytes, initial: initial)
    }

    /// Adler-32 (RFC 1950), the checksum that ends a zlib stream.
    public static func adler32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        ZlibChecksums.adler32(bytes)
    }
}
