// Port of ResnetBlock2D (diffusers/models/resnet.py), Downsample2D (downsampling.py), Upsample2D
// (upsampling.py), DownEncoderBlock2D and UpDecoderBlock2D (unets/unet_2d_blocks.py) of diffusers 0.27.2,
// as AutoencoderKL builds them: no time embedding, eps 1e-6, output_scale_factor 1, SiLU.

import MiroEngine
import MiroNN

/// `ResnetBlock2D` without time embedding:
///
///     h = conv1(silu(norm1(x))); h = conv2(silu(norm2(h)))     (dropout 0)
///     out = shortcut(x) + h,  shortcut = 1×1 `conv_shortcut` when the channels change, identity otherwise
///
/// Keys `norm1`, `conv1`, `norm2`, `conv2`, `conv_shortcut`.
public final class ResnetBlock2D: Module {
    @Child(key: "norm1") var norm1: GroupNorm
    @Child(key: "conv1") var conv1: Conv2d
    @Child(key: "norm2") var norm2: GroupNorm
    @Child(key: "conv2") var conv2: Conv2d
    @Child(key: "conv_shortcut") var convShortcut: Conv2d?

    public init(inChannels: Int, outChannels: Int, groups: Int, eps: Double = 1e-6) throws {
        super.init()
        self.norm1 = try GroupNorm(groups: groups, channels: inChannels, eps: eps)
        self.conv1 = try Conv2d(inChannels, outChannels, kernel: 3, padding: 1)
        self.norm2 = try GroupNorm(groups: groups, channels: outChannels, eps: eps)
        self.conv2 = try Conv2d(outChannels, outChannels, kernel: 3, padding: 1)
        if inChannels != outChannels { self.convShortcut = try Conv2d(inChannels, outChannels, kernel: 1) }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try conv1(norm1(x).silu())
        h = try conv2(norm2(h).silu())
        let shortcut = try convShortcut.map { try $0(x) } ?? x
        // (input_tensor + hidden_states) / output_scale_factor, with output_scale_factor = 1
        return try shortcut + h
    }
}

/// `Downsample2D(use_conv=True, padding=0)`: `F.pad(x, (0, 1, 0, 1))` (one zero column on the right, one
/// zero row at the bottom), then a 3×3 convolution with stride 2 and no padding. Key `conv`.
public final class Downsample2D: Module {
    @Child(key: "conv") var conv: Conv2d

    public init(channels: Int) throws {
        super.init()
        self.conv = try Conv2d(channels, channels, kernel: 3, stride: 2, padding: 0)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv(x.padded([0, 1, 0, 1]))
    }
}

/// `Upsample2D(use_conv=True)`: `F.interpolate(x, scale_factor=2.0, mode="nearest")`, then a 3×3
/// convolution with padding 1. Key `conv`.
public final class Upsample2D: Module {
    @Child(key: "conv") var conv: Conv2d

    public init(channels: Int) throws {
        super.init()
        self.conv = try Conv2d(channels, channels, kernel: 3, padding: 1)
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        // An exact ×2 output size selects the same source pixel as scale_factor=2 (floor(i / 2)).
        try conv(x.interpolate(height: x.size(2) * 2, width: x.size(3) * 2, mode: .nearest))
    }
}

/// `DownEncoderBlock2D`: `layers` resnets (the first changes the channels), then an optional
/// `Downsample2D`. Keys `resnets.{j}`, `downsamplers.0`.
public final class DownEncoderBlock2D: Module {
    @Child(key: "resnets") var resnets: [ResnetBlock2D]
    @Child(key: "downsamplers") var downsamplers: [Downsample2D]

    public init(inChannels: Int, outChannels: Int, layers: Int, groups: Int, downsample: Bool) throws {
        super.init()
        self.resnets = try (0..<layers).map {
            try ResnetBlock2D(inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels, groups: groups)
        }
        self.downsamplers = downsample ? [try Downsample2D(channels: outChannels)] : []
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        for resnet in resnets { h = try resnet(h) }
        for down in downsamplers { h = try down(h) }
        return h
    }
}

/// `UpDecoderBlock2D`: `layers` resnets (layers_per_block + 1; the first changes the channels), then an
/// optional `Upsample2D`. Keys `resnets.{j}`, `upsamplers.0`.
public final class UpDecoderBlock2D: Module {
    @Child(key: "resnets") var resnets: [ResnetBlock2D]
    @Child(key: "upsamplers") var upsamplers: [Upsample2D]

    public init(inChannels: Int, outChannels: Int, layers: Int, groups: Int, upsample: Bool) throws {
        super.init()
        self.resnets = try (0..<layers).map {
            try ResnetBlock2D(inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels, groups: groups)
        }
        self.upsamplers = upsample ? [try Upsample2D(channels: outChannels)] : []
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = x
        for resnet in resnets { h = try resnet(h) }
        for up in upsamplers { h = try up(h) }
        return h
    }
}
