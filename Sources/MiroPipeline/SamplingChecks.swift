import MiroEngine
import MiroModels
import MiroNN

/// The checks every sampler runs on what it is given and what it produces, so that a bad guidance
/// weight or non-finite weights end in an error naming the cause instead of a black image.
public enum SamplingChecks {
    /// The largest guidance weight accepted (`MIROPipelineConfig.maximumGuidance`).
    public static var maximumGuidance: Double { MIROPipelineConfig.maximumGuidance }

    /// Throws an `InputError` naming `option` unless `w` is finite and in [0, maximumGuidance]: larger
    /// weights only amplify the difference of two predictions until the latents overflow.
    public static func guidance(_ w: Double, option: String = "guidance") throws {
        guard w.isFinite, (0...maximumGuidance).contains(w) else {
            throw InputError("\(option) must be a number in [0, \(Int(maximumGuidance))], got \(w)")
        }
    }

    /// Names of the floating-point parameters and buffers of `module` holding NaN or ±infinity, by
    /// key (at most `limit`).
    public static func nonFiniteTensors(in module: Module, limit: Int = 5) throws -> [String] {
        var bad: [String] = []
        for (name, t) in module.stateDict().sorted(by: { $0.0 < $1.0 }) where t.dtype.isFloatingPoint {
            if try t.isFinite().all().item() == 0 {
                bad.append(name)
                if bad.count >= limit { break }
            }
        }
        return bad
    }

    /// The warning for `nonFiniteTensors` (nil when there are none).
    public static func nonFiniteWarning(_ names: [String], source: String) -> String? {
        guard !names.isEmpty else { return nil }
        return "\(source): weights are not all finite (NaN or infinity in \(names.joined(separator: ", "))"
            + "\(names.count >= 5 ? ", ..." : "")); samples will not be"
    }

    /// Throws an `InputError` when the sampler's output `x` holds NaN or infinity (instead of letting
    /// it decode to a black image); `cause` names what to look at.
    public static func requireFinite(_ x: Tensor, cause: String) throws {
        guard try x.isFinite().all().item() != 0 else {
            throw InputError("the sampled output is not finite (NaN or infinity): \(cause); no image was written")
        }
    }
}
