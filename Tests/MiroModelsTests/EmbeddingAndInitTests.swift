import Foundation
import Testing
import MiroEngine
import MiroIO
import MiroModels
import MiroNN

/// A small configuration of the released family for fast CPU tests.
func testConfig(rewards: [String] = ["a_score", "b_score", "c_score"]) -> MIROConfig {
    MIROConfig(dataSize: 8, dataDim: 16, numInputChannels: 3, numLatents: 8, latentsDim: 32, labelDim: 12,
               numProcessingLayers: 1, numBlocks: 2, patchSize: 2, readWriteHeads: 2, computeHeads: 4,
               numTextRegisters: 2, coherenceKeys: rewards)
}

func testConditioning(batch b: Int, config c: MIROConfig, seed: UInt64 = 7) throws -> MIROConditioning {
    let g = try Generator(seed: seed)
    let text = try Tensor.randn([b, 4, c.labelDim], generator: g)
    let lengths = [4, 2, 3, 1]
    let mask = try Tensor((0..<b).flatMap { i in (0..<4).map { $0 < lengths[i % 4] } }, shape: [b, 4])
    return try MIROConditioning(text: text, textMask: mask, rewards: Tensor.rand([b, c.numRewards], generator: g))
}

@Suite struct EmbeddingAndInitTests {
    /// Same numbers as `torch.manual_seed(0); FourierEmbedding(8)` and its forward (printed with torch 1.13.1).
    @Test func fourierEmbeddingMatchesTorchReferenceValues() throws {
        let f = try FourierEmbedding(channels: 8, generator: Generator(seed: 0))
        let freqs: [Float] = [9.682364463806152, -1.8436682224273682, -13.689737319946289, 3.571558952331543,
                              -6.814255237579346, -8.78763484954834, 2.5343029499053955, 5.265474796295166]
        let phases: [Float] = [4.383574962615967, 5.026619911193848, 1.0117779970169067, 1.7735458612442017,
                               4.282672882080078, 5.750333309173584, 2.4950523376464844, 5.492483615875244]
        #expect(try f.freqs.floats() == freqs)
        #expect(try f.phases.floats() == phases)
        let y = try f(Tensor([Float(0.25), 0.8])).floats()
        let want: [Float] = [1.2265920639038086, -0.2067023068666458, -1.0529522895812988, -1.2575483322143555,
                             -1.1963303089141846, -1.295969843864441, -1.4140946865081787, 1.2232798337936401,
                             1.2813711166381836, -1.2969523668289185, -1.2306166887283325, -0.11526600271463394,
                             0.5534094572067261, 0.4057818055152893, -0.26693984866142273, -1.3591041564941406]
        #expect(zip(y, want).allSatisfy { abs($0 - $1) <= 1e-6 })
        #expect(f.namedParameters().isEmpty && f.namedBuffers().map(\.0) == ["freqs", "phases"])
    }

    /// Fourier features are state: a saved model reloads with the same features, never resampled.
    @Test func fourierBuffersAreSavedAndLoadedNotResampled() throws {
        let c = testConfig()
        let a = try MIROModel(network: c, generator: Generator(seed: 1))
        let b = try MIROModel(network: c, generator: Generator(seed: 2))
        let key = "network.coherence_embedder.b_score_coherence.encode_time.freqs"
        let stateA = Dictionary(uniqueKeysWithValues: a.stateDict())
        let stateB = Dictionary(uniqueKeysWithValues: b.stateDict())
        #expect(try stateA[key]!.floats() != stateB[key]!.floats())
        for k in ["network.time_embedder.encode_time.phases", "preconditioning.logvar_proj.0.freqs", key] {
            #expect(a.namedBuffers().contains { $0.0 == k } && !a.namedParameters().contains { $0.0 == k })
        }

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("miro-fourier-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try TensorFiles.saveSafeTensors(a.stateDict(), to: url)
        let report = try b.load(safetensors: url)
        #expect(report.isClean)
        for (k, t) in a.namedBuffers() where t.dtype != .bool {
            let loaded = try #require(Dictionary(uniqueKeysWithValues: b.namedBuffers())[k])
            #expect(try loaded.floats() == t.floats(), "\(k)")
        }
        a.eval(); b.eval()
        let cond = try testConditioning(batch: 2, config: c)
        let x = try Tensor.randn([2, 3, 8, 8], generator: Generator(seed: 3))
        let gamma = try Tensor([Float(0.2), 0.7])
        let (ya, yb) = try withoutGrad {
            (try a(x, gamma: gamma, conditioning: cond, returnLogvar: true), try b(x, gamma: gamma, conditioning: cond, returnLogvar: true))
        }
        #expect(try ya.prediction.floats() == yb.prediction.floats())
        #expect(try ya.logvar!.floats() == yb.logvar!.floats())
    }

    /// TimeEmbedder standardises its Fourier features over the channels with torch.std (unbiased).
    @Test func timeEmbedderStandardisesWithUnbiasedStd() throws {
        let e = try TimeEmbedder(dim: 6, generator: Generator(seed: 4))
        try e.to(.float64)
        let t = try Tensor([0.1, 0.9])
        let f = try e.encodeTime(t).doubles()
        var standardised: [Double] = []
        for row in 0..<2 {
            let v = Array(f[row * 6..<(row + 1) * 6])
            let mean = v.reduce(0, +) / 6
            let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5).squareRoot()
            standardised += v.map { ($0 - mean) / std }
        }
        let manual = try e.mapTimeOutput(e.mapTimeInput(Tensor(standardised, shape: [2, 6])).silu())
        #expect(try maxAbsError(e(t), manual) < 1e-12)
    }

    @Test func initialisationFollowsMethodSection53() throws {
        let c = testConfig()
        let n1 = try MIRONetwork(config: c, generator: Generator(seed: 5))
        let n2 = try MIRONetwork(config: c, generator: Generator(seed: 5))
        let n3 = try MIRONetwork(config: c, generator: Generator(seed: 6))
        let s1 = n1.stateDict(), s2 = n2.stateDict(), s3 = n3.stateDict()
        #expect(try zip(s1, s2).allSatisfy { try $0.1.to(.float64).doubles() == $1.1.to(.float64).doubles() })
        #expect(try s1.first { $0.0 == "latents" }!.1.floats() != s3.first { $0.0 == "latents" }!.1.floats())
        for table in [n1.dataPosEmbedding, n1.latents, n1.coherencePositionalEmbedding, n1.textRegisters] {
            #expect(try table.abs().amax().item() <= 0.04 && table.abs().amax().item() > 0)
        }
        for (name, module) in n1.namedModules() {
            guard let linear = module as? Linear else { continue }
            let bound = (6.0 / Double(linear.inFeatures + linear.outFeatures)).squareRoot() * (1 + 1e-6)
            #expect(try linear.weight.abs().amax().item() <= bound, "\(name)")
            if let bias = linear.bias { #expect(try bias.abs().amax().item() == 0, "\(name)") }
        }
        #expect(try n1.lnPrevious2!.weight!.abs().sum().item() == 0 && n1.lnPrevious2!.bias!.abs().sum().item() == 0)
        #expect(try n1.lnPrevious1!.weight!.floats().allSatisfy { $0 == 1 })
        #expect(try n1.textTransformer[1].layerScale2!.floats().allSatisfy { $0 == Float(0.1) })
        #expect(n1.registersCoherenceMask.shape == [5] && n1.condMask.shape == [6])

        // with ln_previous_2 = 0 the self-conditioning path is a no-op at initialisation
        n1.eval()
        let cond = try testConditioning(batch: 2, config: c)
        let x = try Tensor.randn([2, 3, 8, 8], generator: Generator(seed: 8))
        let gamma = try Tensor([Float(0.3), 0.6])
        let prev = try Tensor.randn([2, 8, 32], generator: Generator(seed: 9))
        let (withPrev, noPrev) = try withoutGrad {
            (try n1(x, gamma: gamma, conditioning: cond, previousLatents: prev).output,
             try n1(x, gamma: gamma, conditioning: cond).output)
        }
        #expect(try withPrev.floats() == noPrev.floats())
    }

    /// Missing rewards: eval mode gives a zero embedding (only the position embedding remains);
    /// training mode embeds the value 0. So eval with NaN ≠ eval with 0, but train with NaN = train with 0.
    @Test func missingRewardSemantics() throws {
        let c = testConfig()
        let net = try MIRONetwork(config: c, generator: Generator(seed: 10))
        let cond = try testConditioning(batch: 1, config: c)
        let nan = try Tensor([Float(0.5), .nan, 1]).unsqueezed(0)
        let zero = try Tensor([Float(0.5), 0, 1]).unsqueezed(0)
        func tokens(_ r: Tensor) throws -> [Float] {
            try withoutGrad { try net.conditionTokens(text: cond.text, textMask: cond.textMask, rewards: r).floats() }
        }
        net.eval()
        let evalNaN = try tokens(nan), evalZero = try tokens(zero)
        #expect(evalNaN != evalZero && evalNaN.allSatisfy { $0.isFinite })
        net.train()
        #expect(try tokens(nan) == tokens(zero))
    }
}
