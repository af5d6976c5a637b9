// Port of torch.nn.Conv2d and torch.nn.GroupNorm (PyTorch 1.13 / 2.x) as the autoencoders use them.

import MiroEngine
import MiroNN

/// `nn.Conv2d` with square kernels: weight (out, in, k, k), optional bias (out). Keys `weight`, `bias`.
///
/// The tensors are created uninitialised (`Tensor.empty`): the autoencoders are only ever run with
/// weights loaded from a file, and uninitialised storage costs no resident memory until written, so the
/// full-size architectures can be built to check their key sets and shapes.
public final class Conv2d: Module {
    @Param(key: "weight") public var weight: Tensor
    @OptionalParam(key: "bias") public var bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true) throws {
        self.stride = stride
        self.padding = padding
        super.init()
        self.weight = try Tensor.empty([outChannels, inChannels, kernel, kernel])
        if bias { self.bias = try Tensor.empty([outChannels]) }
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv2d(weight, bias: bias, stride: (stride, stride), padding: (padding, padding))
    }
}

/// `nn.GroupNorm(num_groups, num_channels, eps, affine=True)`: keys `weight`, `bias` (C).
public final class GroupNorm: Module {
    @Param(key: "weight") public var weight: Tensor
    @Param(key: "bias") public var bias: Tensor
    public let groups: Int
    public let eps: Double

    public init(groups: Int, channels: Int, eps: Double) throws {
        self.groups = groups
        self.eps = eps
        super.init()
        self.weight = try Tensor.empty([channels])
        self.bias = try Tensor.empty([channels])
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps)
    }
}
