import MiroImage

/// What a reward model does to an image before its vision tower: resize, crop, scale, normalise — each reward
/// as its reference does it (PIL bicubic with antialias for CLIP/PickScore/SciScore/ImageReward, torchvision's
/// tensor resize for HPSv2; rewards.md §3). The implementations live with the images (MiroImage); the models only
/// see this contract, so they are tested on the reference's own pixel tensors.
public protocol RewardImagePreprocessor: Sendable {
    /// The side of the square the vision tower takes (224 for every reward here).
    var size: Int { get }
    /// One image as `3 × size × size` floats, channel-major, normalised: the reference's `pixel_values[i]`.
    func pixelValues(_ image: RGBImage) throws -> [Float]
}

// MiroImage's Pillow-exact preprocessors provide exactly these members.
extension CLIPImagePreprocessing: RewardImagePreprocessor {}
extension HPSv2Preprocessing: RewardImagePreprocessor {}
