// Port of miro/models/networks/positional_embeddings.py and `TimeEmbedder` of miro/models/networks/rin.py
// (miro-t2i 0.1.4): random Fourier features and the γ / reward embedders (method §4.3).

import Foundation
import MiroEngine
import MiroNN

/// Port of `FourierEmbedding` in miro/models/networks/positional_embeddings.py (miro-t2i 0.1.4),
/// method §4.3: random Fourier features of a scalar per sample.
///
///     y = √2 · cos(x·f + φ),  f = 2π·N(0, 1)·bandwidth,  φ = 2π·U(0, 1)
///
/// `freqs` and `phases` are buffers sampled once (float32, from `generator`) and saved in the
/// checkpoint; loading a state dict replaces them, nothing ever resamples them. As officially, the
/// input is cast to float32 before the outer product and the result cast back to the input dtype.
public final class FourierEmbedding: Module {
    @Buffer(key: "freqs") public var freqs: Tensor
    @Buffer(key: "phases") public var phases: Tensor
    public let channels: Int

    public init(channels: Int, bandwidth: Double = 1, generator: Generator? = nil) throws {
        self.channels = channels
        super.init()
        // 2 * np.pi * torch.randn(num_channels, dtype=torch.float32) * bandwidth
        freqs = try Tensor.randn([channels], generator: generator) * (2 * Double.pi) * bandwidth
        // 2 * np.pi * torch.rand(num_channels, dtype=torch.float32)
        phases = try Tensor.rand([channels], generator: generator) * (2 * Double.pi)
    }

    /// - Parameter x: (B,) values. Returns (B, channels) in `x`'s dtype.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        // y = torch.outer(x.to(torch.float32), self.freqs) + self.phases
        let y = try x.to(.float32).reshaped([-1, 1]) * freqs.reshaped([1, -1]) + phases
        // (y.cos() * np.sqrt(2)).to(x.dtype)
        return try (y.cos() * 2.0.squareRoot()).to(x.dtype)
    }
}

/// Port of `TimeEmbedder` in miro/models/networks/rin.py (miro-t2i 0.1.4), method §4.3/§5.3: the
/// embedder of γ and of every reward value.
///
///     e = FourierEmbedding(t);  e ← (e − mean(e)) / std(e)   (over the `dim` channels, unbiased std)
///     out = map_time_output(SiLU(map_time_input(e)))          (dim → 4·dim → 4·dim)
///
/// Keys `encode_time.freqs/phases`, `map_time_input`, `map_time_output`.
public final class TimeEmbedder: Module {
    @Child(key: "encode_time") public var encodeTime: FourierEmbedding
    @Child(key: "map_time_input") public var mapTimeInput: Linear
    @Child(key: "map_time_output") public var mapTimeOutput: Linear

    public init(dim: Int, expansion: Int = 4, generator: Generator? = nil) throws {
        super.init()
        encodeTime = try FourierEmbedding(channels: dim, generator: generator)
        mapTimeInput = try Linear(dim, dim * expansion)
        mapTimeOutput = try Linear(dim * expansion, dim * expansion)
    }

    /// - Parameter t: (B,). Returns (B, 4·dim).
    public func callAsFunction(_ t: Tensor) throws -> Tensor {
        let time = try encodeTime(t)  // self.encode_time(t * 1.0)
        // (time - time.mean(dim=-1, keepdim=True)) / time.std(dim=-1, keepdim=True)   (torch.std: unbiased)
        let standardised = try (time - time.mean([-1], keepDim: true)) / time.std([-1], unbiased: true, keepDim: true)
        return try mapTimeOutput(mapTimeInput(standardised).silu())
    }
}

/// A string-keyed, ordered collection of child modules (`nn.ModuleDict`): the keys become path
/// components of the state dict (`coherence_embedder.clip_score_coherence.map_time_input.weight`).
///
/// MiroNN discovers children by reflection over stored properties, so a dictionary is exposed
/// through a custom `Mirror` whose children are one `Child` slot per key (each slot carries its
/// key). A native `ModuleDict` in MiroNN would make this unnecessary.
public final class ModuleDict<M: Module>: Module, CustomReflectable {
    private let entries: [(key: String, slot: Child<M>)]

    public init(_ items: [(String, M)]) {
        entries = items.map { key, module in
            let slot = Child<M>(key: key)
            slot.wrappedValue = module
            return (key, slot)
        }
        super.init()
    }

    public var keys: [String] { entries.map(\.key) }
    public var values: [M] { entries.map(\.slot.wrappedValue) }
    public var count: Int { entries.count }

    public subscript(key: String) -> M? { entries.first { $0.key == key }?.slot.wrappedValue }

    public var customMirror: Mirror {
        Mirror(self, children: entries.map { (label: $0.key, value: $0.slot as Any) }, ancestorRepresentation: .suppressed)
    }
}
