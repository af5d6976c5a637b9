import MiroEngine

/// Patch (un)flattening with einops' `(p1 p2 c)` channel order: the network's data tokens before the patch
/// extractor and after `TokensToPatches`. Token n holds the patch in row n / w, column n % w of the patch
/// grid; the entries of a token run over the patch's rows, then its columns, then the channels.
public enum Patches {
    /// "b c (h p1) (w p2) -> b (h w) (p1 p2 c)": (B, C, h·p, w·p) → (B, h·w, p·p·C).
    public static func patchify(_ x: Tensor, patch p: Int) throws -> Tensor {
        let s = x.shape
        let (b, c, h, w) = (s[0], s[1], s[2] / p, s[3] / p)
        return try x.reshaped([b, c, h, p, w, p]).permuted(0, 2, 4, 3, 5, 1).reshaped([b, h * w, p * p * c])
    }

    /// "b (h w) (p1 p2 c) -> b c (h p1) (w p2)": (B, h·w, p·p·C) → (B, C, h·p, w·p), the inverse of `patchify`.
    public static func unpatchify(_ x: Tensor, patch p: Int, channels c: Int, height h: Int, width w: Int) throws -> Tensor {
        let b = x.size(0)
        return try x.reshaped([b, h, w, p, p, c]).permuted(0, 5, 1, 3, 2, 4).reshaped([b, c, h * p, w * p])
    }
}
