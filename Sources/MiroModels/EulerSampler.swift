// Port of miro/models/sampler.py (miro-t2i 0.1.4): the Euler sampler with multi-reward CFG (method §7.1–§7.2).

import MiroEngine
import MiroNN

/// Port of `flow_euler_sampler` (`FlowEulerSampler` / `Sampler` in miro/models/sampler.py,
/// miro-t2i 0.1.4) as `MiroPipeline.__call__` uses it, method §7.1–§7.2.
///
///     γ_i = scheduler(1 − i/N) (float32: γ₀ = 1e-9, γ_i = i/N),  x₀ = noise
///     guided step:   v = (1 + w)·v̂(x, c⁺, s⁺) − w·v̂(x, c⁻, s⁻)   (both rows of one stacked batch)
///     unguided step: v = v̂(x, c⁺, s⁺)
///     x ← x − v·(γ_{i+1} − γ_i)
///
/// w is `guidanceScale` (constant) or 2·w·i/N (linear). Step i is guided when its w > 0 and
/// `guidanceStartStep ≤ i ≤ guidanceEndStep` (end inclusive, nil = no end); other steps run the
/// conditional branch only. Each branch carries its own self-conditioning latents from step to
/// step (zeros at the first step).
///
/// Switching between guided and unguided steps crashes the official sampler (it passes the list
/// [z⁺, z⁻] to the network, or `torch.cat`s a tensor), so linear guidance (w = 0 at step 0) and
/// any window other than the full one are extensions here: entering the window, both branches
/// start from the conditional latents (as the official code duplicates given initial latents);
/// leaving it, the conditional latents continue.
///
/// The text of the two branches is padded to a common length as officially: the shorter one with
/// zero tokens whose mask is false. The sampler is a `Sequence` of `Result<EulerStep, Error>`, so a
/// CLI can show progress; `run()` iterates to the end and returns the final x.
public struct EulerSampler: Sequence {
    public enum GuidanceType: String, Sendable, Codable, CaseIterable {
        case constant, linear
    }

    public let model: MIROModel
    public let noise: Tensor
    /// The positive (conditional) branch and the negative one, padded to the same text length.
    public let positive: MIROConditioning
    public let negative: MIROConditioning
    /// What the steps feed the network, prepared once: the stacked CFG batch (guided steps) and the positive branch
    /// alone (unguided steps), text padding trimmed and, in eval mode, condition tokens computed (they do not
    /// depend on x or γ). Only the ones some step uses.
    let guidedBatch: MIROConditioning?
    let unguidedBatch: MIROConditioning?
    public var steps: Int
    public var guidanceScale: Double
    public var guidanceType: GuidanceType
    public var guidanceStartStep: Int
    public var guidanceEndStep: Int?
    public var scheduler: LinearScheduler

    /// - Parameters:
    ///   - noise: the initial x (B, C, H, W), e.g. `Tensor.randn(shape, generator:)`; the state keeps its dtype.
    ///   - positive: prompt tokens with the target rewards s⁺ (default in the pipeline: all 1).
    ///   - negative: negative text (the empty-prompt embedding in `MiroPipeline`, or the same caption
    ///     as in the paper) with s⁻ (default all 0). A batch-1 negative is repeated to B rows.
    public init(model: MIROModel, noise: Tensor, positive: MIROConditioning, negative: MIROConditioning,
                steps: Int = 50, guidanceScale: Double = 7, guidanceType: GuidanceType = .constant,
                guidanceStartStep: Int = 0, guidanceEndStep: Int? = nil, scheduler: LinearScheduler = LinearScheduler()) throws {
        guard steps >= 1 else { throw MIROModelError.invalidInput("the sampler needs at least one step, got \(steps)") }
        let b = noise.size(0)
        var pos = try positive.expanded(to: b), neg = try negative.expanded(to: b)
        let length = Swift.max(pos.text.size(1), neg.text.size(1))
        pos = try pos.paddingText(to: length)
        neg = try neg.paddingText(to: length)
        let schedule = EulerSampler.guidanceSchedule(steps: steps, scale: guidanceScale, type: guidanceType,
                                                     start: guidanceStartStep, end: guidanceEndStep)
        func prepare(_ c: MIROConditioning) throws -> MIROConditioning {
            let trimmed = try c.trimmingPadding()
            return model.network.training ? trimmed : try model.network.encoding(trimmed)
        }
        guidedBatch = schedule.contains { $0 != nil } ? try prepare(.stacked(pos, neg)) : nil
        unguidedBatch = schedule.contains { $0 == nil } ? try prepare(pos) : nil
        self.model = model
        self.noise = noise
        self.positive = pos
        self.negative = neg
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.guidanceType = guidanceType
        self.guidanceStartStep = guidanceStartStep
        self.guidanceEndStep = guidanceEndStep
        self.scheduler = scheduler
    }

    /// The pipeline's form (`MiroPipeline.__call__`): reward targets by name, unnamed ones 1.0 in the
    /// positive branch and 0.0 in the negative one; unknown names throw.
    ///
    /// - Parameters:
    ///   - text / textMask: the prompt tokens (B, n, label_dim) and mask (B, n).
    ///   - negativeText / negativeTextMask: the negative branch's text, batch B or 1 — the empty-prompt
    ///     embedding with an all-true mask as `MiroPipeline` does, or the prompt itself (the paper's
    ///     pure reward contrast).
    public init(model: MIROModel, noise: Tensor, text: Tensor, textMask: Tensor, negativeText: Tensor,
                negativeTextMask: Tensor, rewardTargets: [String: Double] = [:],
                negativeRewardTargets: [String: Double] = [:], steps: Int = 50, guidanceScale: Double = 7,
                guidanceType: GuidanceType = .constant, guidanceStartStep: Int = 0, guidanceEndStep: Int? = nil,
                scheduler: LinearScheduler = LinearScheduler()) throws {
        let keys = model.config.coherenceKeys
        let b = noise.size(0)
        let positive = try MIROConditioning(
            text: text, textMask: textMask,
            rewards: MIROConditioning.rewards(rewardTargets, keys: keys, default: 1, batchSize: b))
        let negative = try MIROConditioning(
            text: negativeText, textMask: negativeTextMask,
            rewards: MIROConditioning.rewards(negativeRewardTargets, keys: keys, default: 0,
                                              batchSize: negativeText.size(0)))
        try self.init(model: model, noise: noise, positive: positive, negative: negative, steps: steps,
                      guidanceScale: guidanceScale, guidanceType: guidanceType, guidanceStartStep: guidanceStartStep,
                      guidanceEndStep: guidanceEndStep, scheduler: scheduler)
    }

    /// The guidance weight of step i, or nil when the step runs unguided.
    public func guidance(at step: Int) -> Double? {
        Self.guidance(at: step, steps: steps, scale: guidanceScale, type: guidanceType, start: guidanceStartStep,
                      end: guidanceEndStep)
    }

    static func guidance(at step: Int, steps: Int, scale: Double, type: GuidanceType, start: Int, end: Int?) -> Double? {
        // cfg_rate if guidance_type == "constant" else 2 * cfg_rate * (step / num_steps)
        let w = type == .constant ? scale : 2 * scale * (Double(step) / Double(steps))
        guard w > 0, step >= start, end.map({ step <= $0 }) ?? true else { return nil }
        return w
    }

    static func guidanceSchedule(steps: Int, scale: Double, type: GuidanceType, start: Int, end: Int?) -> [Double?] {
        (0..<steps).map { guidance(at: $0, steps: steps, scale: scale, type: type, start: start, end: end) }
    }

    public func makeIterator() -> Iterator { Iterator(sampler: self) }

    /// Runs every step; `progress` sees each one. Returns the final x (in the noise's dtype; the
    /// official sampler returns float32).
    public func run(progress: ((EulerStep) throws -> Void)? = nil) throws -> Tensor {
        var x = noise
        for result in self {
            let step = try result.get()
            try progress?(step)
            x = step.x
        }
        return x
    }

    public struct Iterator: IteratorProtocol {
        let sampler: EulerSampler
        var x: Tensor
        var index = 0
        var latents = Latents.none
        var gammas: [Float]? = nil
        var failed = false

        init(sampler: EulerSampler) {
            self.sampler = sampler
            x = sampler.noise
        }

        public mutating func next() -> Result<EulerStep, any Error>? {
            guard !failed, index < sampler.steps else { return nil }
            do {
                let step = try withoutGrad { try advance() }
                index += 1
                return .success(step)
            } catch {
                failed = true
                return .failure(error)
            }
        }

        private mutating func advance() throws -> EulerStep {
            let grid = try gammas ?? sampler.scheduler.samplingGrid(steps: sampler.steps)
            gammas = grid
            let (now, next) = (grid[index], grid[index + 1])
            let model = sampler.model
            let b = x.size(0)
            let velocity: Tensor
            let weight = sampler.guidance(at: index)
            if let w = weight {
                // stacked batch: y = cat([x, x]), gamma_now.expand(2B), cond rows then uncond rows
                let previous: Tensor? = switch latents {
                case .none: nil
                case .pair(let c, let u): try Tensor.cat([c, u])
                case .single(let z): try Tensor.cat([z, z])  // official: crash; both branches from z⁺
                }
                let out = try model(Tensor.cat([x, x]), gamma: Tensor.full([2 * b], Double(now)),
                                    conditioning: sampler.guidedBatch ?? .stacked(sampler.positive, sampler.negative),
                                    previousLatents: previous)
                let v = try out.prediction.chunked(2)
                let z = try out.latents.chunked(2)
                // denoised_cond * (1 + cfg_rate) - denoised_uncond * cfg_rate
                velocity = try v[0] * (1 + w) - v[1] * w
                latents = .pair(z[0], z[1])
            } else {
                let previous: Tensor? = switch latents {
                case .none: nil
                case .single(let z): z
                case .pair(let c, _): c  // official: crash; the conditional latents continue
                }
                let out = try model(x, gamma: Tensor.full([b], Double(now)), conditioning: sampler.unguidedBatch ?? sampler.positive,
                                    previousLatents: previous)
                velocity = out.prediction
                latents = .single(out.latents)
            }
            // x_next = x_cur - denoised * (gamma_next - gamma_now)   (the difference in float32)
            x = try x - velocity.to(x.dtype, device: x.device) * Double(next - now)
            return EulerStep(index: index, count: sampler.steps, gamma: Double(now), gammaNext: Double(next),
                             guidance: weight, x: x, velocity: velocity)
        }
    }

    /// Self-conditioning state between steps.
    enum Latents {
        case none
        case single(Tensor)
        case pair(Tensor, Tensor)
    }
}

/// One Euler step: x after the step, the velocity used and where on the γ grid it went.
public struct EulerStep: Sendable {
    /// 0-based step index, of `count`.
    public var index: Int
    public var count: Int
    public var gamma: Double
    public var gammaNext: Double
    /// The guidance weight w of this step; nil when it ran unguided.
    public var guidance: Double?
    public var x: Tensor
    public var velocity: Tensor
}
