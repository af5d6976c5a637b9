import Foundation
import Testing
import MiroEngine
import MiroModels
import MiroNN

/// The `.miro` preset builds exactly the released architecture: every state-dict entry of the
/// official miro-t2i 0.1.4 model (key, shape, dtype, parameter/mask/buffer) and 360,411,664
/// trainable parameters. Builds the full model once (~1.4 GB in float32).
@Suite(.serialized)
struct ReleasedArchitectureTests {
    struct Entry: Equatable, CustomStringConvertible {
        var shape: [Int]
        var dtype: String
        var kind: String
        var description: String { "\(shape) \(dtype) \(kind)" }
    }

    func releasedEntries() throws -> [String: Entry] {
        let text = try String(contentsOf: Fixtures.releasedKeysURL(), encoding: .utf8)
        var out: [String: Entry] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t").map(String.init)
            guard f.count >= 4 else { continue }
            let shape = f[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
                .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            out[f[0]] = Entry(shape: shape, dtype: f[2], kind: f[3])
        }
        return out
    }

    @Test func releasedModelMatchesOfficialStateDictAndParameterCount() throws {
        let model = try MIROModel(network: .miro, generator: Generator(seed: 0))
        let parameters = model.namedParameters()
        var ours: [String: Entry] = [:]
        for (k, t) in parameters { ours[k] = Entry(shape: t.shape, dtype: t.dtype.description, kind: "param") }
        for (k, t) in model.namedBuffers() {
            ours[k] = Entry(shape: t.shape, dtype: t.dtype.description, kind: t.dtype == .bool ? "mask" : "buffer")
        }
        let theirs = try releasedEntries()
        #expect(theirs.count > 500)
        let missing = Set(theirs.keys).subtracting(ours.keys).sorted()
        let extra = Set(ours.keys).subtracting(theirs.keys).sorted()
        #expect(missing.isEmpty, "keys the port lacks: \(missing.prefix(10))")
        #expect(extra.isEmpty, "keys the official model lacks: \(extra.prefix(10))")
        let differing = theirs.compactMap { k, v in ours[k].flatMap { $0 == v ? nil : "\(k): ours \($0), official \(v)" } }
        #expect(differing.isEmpty, "\(differing.prefix(10))")

        let networkCount = model.network.parameterCount
        print("released MIRO network: \(networkCount) parameters; preconditioner \(model.preconditioning.parameterCount)")
        #expect(networkCount == 360_411_664)
        #expect(model.network.trainableParameters().reduce(0) { $0 + $1.1.count } == 360_411_664)
        #expect(parameters.allSatisfy { $0.1.requiresGrad && $0.1.dtype == .float32 })
        #expect(model.preconditioning.parameterCount == 129)

        // initialisation facts of method §5.3 on the real sizes
        let net = model.network
        #expect(try net.lnPrevious2!.weight!.abs().amax().item() == 0)
        #expect(try net.latents.abs().amax().item() <= 0.04)
        let std = try net.latents.std().item()
        #expect(std > 0.015 && std < 0.02)  // N(0, 0.02²) truncated at 2σ: std ≈ 0.0176
        let w = try #require(net.rinBlocks[0].processors[0].attention.qkv?.weight)
        #expect(try w.abs().amax().item() <= (6.0 / Double(1024 + 3072)).squareRoot() * (1 + 1e-6))  // float32 rounding
        #expect(try net.rinBlocks[0].processors[0].attention.out.bias!.abs().amax().item() == 0)
    }
}
