/// Port of `MLP` in improved-aesthetic-predictor (`simple_inference.py`, as vendored in MIRO's
/// utils/rewards/aesthetic.py @547003a) and of MIRO's `normalized`: the LAION aesthetic head
/// `sac+logos+ava1-l14-linearMSE.pth`, five linear layers with **no activations** (the ReLUs are commented out in
/// the reference) and dropouts (identities at inference) in between:
///
///     layers = Linear(768,1024), Dropout, Linear(1024,128), Dropout, Linear(128,64), Dropout,
///              Linear(64,16), Linear(16,1)          → keys layers.{0,2,4,6,7}.{weight,bias}

import Foundation
import MiroEngine
import MiroNN

/// The `layers` Sequential: only the Linear entries hold state, at indices 0, 2, 4, 6, 7.
final class AestheticLayers: Module {
    @Child(key: "0") var l0: RewardLinear
    @Child(key: "2") var l2: RewardLinear
    @Child(key: "4") var l4: RewardLinear
    @Child(key: "6") var l6: RewardLinear
    @Child(key: "7") var l7: RewardLinear

    init(inputSize: Int, source: any RewardWeightSource) throws {
        super.init()
        func linear(_ index: Int, _ i: Int, _ o: Int) throws -> RewardLinear {
            try RewardLinear("layers.\(index)", in: i, out: o, origin: "\(o) × \(i) (MLP(input_size=\(inputSize)))", source: source)
        }
        l0 = try linear(0, inputSize, 1024)
        l2 = try linear(2, 1024, 128)
        l4 = try linear(4, 128, 64)
        l6 = try linear(6, 64, 16)
        l7 = try linear(7, 16, 1)
    }
}

/// The LAION improved aesthetic predictor head (927,969 parameters at `inputSize` 768).
public final class AestheticMLP: Module {
    @Child(key: "layers") var layers: AestheticLayers
    public let inputSize: Int

    init(inputSize: Int, source: any RewardWeightSource) throws {
        guard inputSize > 0 else { throw RewardModelError.input("the aesthetic MLP's input size must be positive, got \(inputSize)") }
        self.inputSize = inputSize
        super.init()
        layers = try AestheticLayers(inputSize: inputSize, source: source)
        try freeze()
        eval()
    }

    /// Loads `sac+logos+ava1-l14-linearMSE.pth` (a torch.save zip, read by the restricted unpickler) or the same
    /// state dict as `.safetensors`. Any float dtype; float32 compute. Extra tensors are an error.
    public static func load(_ url: URL, inputSize: Int = 768) throws -> AestheticMLP {
        let weights = url.pathExtension == "safetensors"
            ? try CheckpointWeights.safeTensors(url)
            : try CheckpointWeights.torchCheckpoint(url)
        let model = try AestheticMLP(inputSize: inputSize, source: weights)
        try weights.checkAllUsed(configPath: "MLP(input_size=\(inputSize))")
        return model
    }

    /// The real shape without the weights' memory (zero-stride tensors).
    public static func shapeOnly(inputSize: Int = 768) throws -> AestheticMLP {
        try AestheticMLP(inputSize: inputSize, source: ShapeOnlyWeights())
    }

    /// Seeded random weights (matrices N(0, 1/fan_in), biases 0).
    public static func random(inputSize: Int = 768, seed: UInt64 = 0) throws -> AestheticMLP {
        try AestheticMLP(inputSize: inputSize, source: RandomWeights(generator: Generator(seed: seed)))
    }

    /// Every `(key, shape)` of the state dict, in `state_dict()` order.
    public var parameterShapes: [(key: String, shape: [Int])] { stateDict().map { ($0.0, $0.1.shape) } }

    /// The rating `[B]` (≈ 1…10 for the real head) of embeddings `[B, inputSize]` used as given.
    public func rating(_ embeddings: Tensor) throws -> Tensor {
        guard embeddings.rank == 2, embeddings.size(1) == inputSize else {
            throw RewardModelError.input("aesthetic MLP input must be [batch, \(inputSize)], got \(embeddings.shape)")
        }
        return try withoutGrad {
            let x = try embeddings.to(.float32)
            return try layers.l7(layers.l6(layers.l4(layers.l2(layers.l0(x))))).reshaped([x.size(0)])
        }
    }

    /// MIRO's `normalized(a)`: `a / ‖a‖₂` along the last axis, a norm of exactly 0 replaced by 1 (the zero
    /// embedding stays zero instead of becoming NaN).
    public static func normalized(_ embeddings: Tensor) throws -> Tensor {
        try withoutGrad {
            let l2 = try embeddings.norm([-1], keepDim: true)
            // l2[l2 == 0] = 1
            return try embeddings / (l2 + l2.eq(0).to(l2.dtype))
        }
    }
}
