// Port of miro/models/preconditioning.py (miro-t2i 0.1.4): FlowPrecond (method §5.4).

import Foundation
import MiroEngine
import MiroNN

/// Port of `FlowPrecond` in miro/models/preconditioning.py (miro-t2i 0.1.4), method §5.4.
///
///     c_in(γ) = 1 / √((γ·σ_d)² + (1 − γ)²)     c_out = √(1 + σ_d²)
///     v̂ = c_out · F(c_in · y, γ, cond, z_prev)     (z_prev = 0 when none is given)
///     u(γ) = logvar_proj(γ) = Linear(128 → 1)(FourierEmbedding₁₂₈(γ))   (no standardisation)
///
/// Keys: `logvar_proj.0.freqs`, `logvar_proj.0.phases`, `logvar_proj.1.weight`, `logvar_proj.1.bias`.
public final class FlowPrecond: Module {
    public let config: FlowPrecondConfig
    @Child(key: "logvar_proj") public var logvarProjection: LogVarHead?

    /// The log-variance head keeps PyTorch's default Linear initialisation (it is not part of the
    /// network's Xavier pass); Fourier features and weights come from `generator`.
    public init(config: FlowPrecondConfig, generator: Generator? = nil) throws {
        guard config.logvarMLPLayers == 0 else {
            throw MIROModelError.unsupported("logvar_mlp_layers = \(config.logvarMLPLayers) (only 0, the release, is ported)")
        }
        self.config = config
        super.init()
        if config.doGradnormReweighting {
            logvarProjection = try LogVarHead(channels: config.logvarChannels, generator: generator)
        }
    }

    /// (c_in, c_out), each (B, 1, …, 1) with `rank` dimensions, in γ's dtype.
    public func scaling(gamma: Tensor, rank: Int = 4) throws -> (cIn: Tensor, cOut: Tensor) {
        let shape = [-1] + Array(repeating: 1, count: rank - 1)
        guard config.doNormalization else {
            let ones = try Tensor.ones([gamma.count] + shape.dropFirst(), dtype: gamma.dtype, device: gamma.device)
            return (ones, ones)
        }
        let s = config.sigmaData
        // c_in = 1 / torch.sqrt((gamma * sigma_data) ** 2 + (1 - gamma) ** 2).reshape(-1, 1, 1, 1)
        let cIn = try (1 / ((gamma * s).pow(2) + (1 - gamma).pow(2)).sqrt()).reshaped(shape)
        // c_out = torch.ones_like(c_in) * math.sqrt(1 + sigma_data ** 2)
        let cOut = try Tensor.full(cIn.shape, (1 + s * s).squareRoot(), dtype: cIn.dtype, device: cIn.device)
        return (cIn, cOut)
    }

    /// u(γ) for γ (B,): (B, 1, 1, 1) (`rank` dimensions).
    public func logvar(gamma: Tensor, rank: Int = 4) throws -> Tensor {
        guard let head = logvarProjection else {
            throw MIROModelError.unsupported("this preconditioner has no log-variance head (do_gradnorm_reweighting = false)")
        }
        // self.logvar_proj(gamma.flatten()).reshape(-1, 1, 1, 1)
        return try head(gamma.flattened()).reshaped([-1] + Array(repeating: 1, count: rank - 1))
    }

    /// The preconditioned prediction v̂ = c_out·F(c_in·y, …), the network's latents and (on
    /// request) u(γ). `y` and `gamma` are cast to the network's parameter dtype first (the
    /// official code has them in one dtype already).
    public func callAsFunction(_ network: MIRONetwork, y: Tensor, gamma: Tensor, conditioning: MIROConditioning,
                               previousLatents: Tensor? = nil, returnLogvar: Bool = false,
                               dropoutGenerator: Generator? = nil) throws -> PrecondOutput {
        let input = try networkInput(network, y: y, gamma: gamma, previousLatents: previousLatents)
        let (f, z) = try network(input.x, gamma: input.gamma, conditioning: conditioning, previousLatents: input.previous,
                                 dropoutGenerator: dropoutGenerator)
        let logvar = returnLogvar ? try self.logvar(gamma: input.gamma, rank: y.rank) : nil
        return PrecondOutput(prediction: try f * input.cOut, latents: z, logvar: logvar)
    }

    /// The latents `callAsFunction` returns, without computing the prediction (the self-conditioning pass).
    public func latents(_ network: MIRONetwork, y: Tensor, gamma: Tensor, conditioning: MIROConditioning,
                        previousLatents: Tensor? = nil, dropoutGenerator: Generator? = nil) throws -> Tensor {
        let input = try networkInput(network, y: y, gamma: gamma, previousLatents: previousLatents)
        return try network.latents(input.x, gamma: input.gamma, conditioning: conditioning,
                                   previousLatents: input.previous, dropoutGenerator: dropoutGenerator)
    }

    /// c_in·y, γ as (B,), the previous latents (zeros when missing) and c_out, in the network's dtype.
    private func networkInput(_ network: MIRONetwork, y: Tensor, gamma: Tensor, previousLatents: Tensor?) throws
        -> (x: Tensor, gamma: Tensor, previous: Tensor, cOut: Tensor)
    {
        let dtype = network.parameterDType
        let y = try y.to(dtype)
        var g = try gamma.to(dtype).flattened()
        if g.count == 1 && y.size(0) != 1 { g = try g.expanded([y.size(0)]) }
        let (cIn, cOut) = try scaling(gamma: g, rank: y.rank)
        // batch["previous_latents"] = torch.zeros(B, num_latents, latents_dim) when missing
        let previous = try previousLatents
            ?? Tensor.zeros([y.size(0), config.numLatents, config.latentsDim], dtype: dtype, device: y.device)
        return (try y * cIn, g, previous, cOut)
    }
}

/// What `FlowPrecond` returns: the velocity prediction (B, C, H, W), the latents (B, L, D) and,
/// when asked for, the log-variance (B, 1, 1, 1).
public struct PrecondOutput: Sendable {
    public var prediction: Tensor
    public var latents: Tensor
    public var logvar: Tensor?
}

/// `nn.Sequential(FourierEmbedding(128), nn.Linear(128, 1))`, keys `0.freqs`, `0.phases`, `1.weight`, `1.bias`.
public final class LogVarHead: Module {
    @Child(key: "0") public var fourier: FourierEmbedding
    @Child(key: "1") public var linear: Linear

    public init(channels: Int, generator: Generator? = nil) throws {
        super.init()
        fourier = try FourierEmbedding(channels: channels, generator: generator)
        linear = try Linear(channels, 1, generator: generator)
    }

    /// (B,) → (B, 1).
    public func callAsFunction(_ gamma: Tensor) throws -> Tensor { try linear(fourier(gamma)) }
}

/// A complete MIRO denoiser as released: the network and its preconditioner, with exactly the
/// `network.*` / `preconditioning.*` keys of a released `model.safetensors` (that file also holds
/// `data_preprocessing.*` / `postprocessing.*` normalisation buffers, which belong elsewhere).
public final class MIROModel: Module {
    @Child(key: "network") public var network: MIRONetwork
    @Child(key: "preconditioning") public var preconditioning: FlowPrecond

    public init(network config: MIROConfig, preconditioning: FlowPrecondConfig? = nil, generator: Generator? = nil) throws {
        let pre = preconditioning ?? FlowPrecondConfig(network: config)
        guard pre.numLatents == config.numLatents, pre.latentsDim == config.latentsDim else {
            throw MIROModelError.invalidConfig("preconditioning latents \(pre.numLatents)×\(pre.latentsDim) do not match "
                                               + "the network's \(config.numLatents)×\(config.latentsDim)")
        }
        super.init()
        network = try MIRONetwork(config: config, generator: generator)
        self.preconditioning = try FlowPrecond(config: pre, generator: generator)
    }

    public convenience init(config: MIROPipelineConfig, generator: Generator? = nil) throws {
        try self.init(network: config.network, preconditioning: config.preconditioning, generator: generator)
    }

    public var config: MIROConfig { network.config }

    /// The latents of `FlowPrecond(network, batch)` without its prediction (the self-conditioning pass).
    public func latents(_ y: Tensor, gamma: Tensor, conditioning: MIROConditioning,
                        dropoutGenerator: Generator? = nil) throws -> Tensor {
        try preconditioning.latents(network, y: y, gamma: gamma, conditioning: conditioning,
                                    dropoutGenerator: dropoutGenerator)
    }

    /// `FlowPrecond(network, batch, return_logvar)`.
    public func callAsFunction(_ y: Tensor, gamma: Tensor, conditioning: MIROConditioning, previousLatents: Tensor? = nil,
                               returnLogvar: Bool = false, dropoutGenerator: Generator? = nil) throws -> PrecondOutput {
        try preconditioning(network, y: y, gamma: gamma, conditioning: conditioning, previousLatents: previousLatents,
                            returnLogvar: returnLogvar, dropoutGenerator: dropoutGenerator)
    }
}
