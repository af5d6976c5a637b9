import Foundation
import MiroData
import MiroDataPrep
import MiroEngine
import MiroFormats
import MiroImage
import MiroT5
import MiroTokenizers
import MiroVAE
import Testing

/// `Preparer` on the tiny random T5 (D = 32) and VAE (×4 downsampling) of scripts/make_pipeline_fixtures.py, read
/// from the source tree.
@Suite(.serialized) struct PreparerTests {
    static let components = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MiroPipelineTests/Fixtures/pipeline/miro_tiny")
    static let models = Preparer.Models.folders(textEncoder: components.appendingPathComponent("text_encoder"),
                                                vae: components.appendingPathComponent("vae"))

    func preparer(_ inputs: [URL], _ out: URL, rewards: [RewardSpec], transform: VAEImageTransform = .cropOnly) -> Preparer {
        var options = Preparer.Options()
        options.rewards = rewards
        options.batchSize = 3
        options.imageSize = 16
        return Preparer(inputs: inputs, output: out, models: Self.models, options: options, transform: transform, logger: PrepFixtures.logger)
    }

    /// Members, dtypes and shapes of the official layout; the T5 rows are the encoder's output for the caption
    /// alone (float16), the VAE statistics those of the image alone; the trainer's sample decoder reads every sample;
    /// wids-index.json and the bins cache are written.
    @Test func writesTheEnrichedLayout() throws {
        let dir = try PrepFixtures.scratch()
        let tars = try PrepFixtures.tarDataset(in: dir.appendingPathComponent("in"), shards: 2, perShard: 4, side: 16)
        let out = dir.appendingPathComponent("out")
        let report = try preparer(tars, out, rewards: [TestReward.spec("a_score", .long, counter: Counter())]).run()
        #expect(report.written == 8 && report.skippedCount == 0)
        let members = try PrepFixtures.members(out.appendingPathComponent("shard-000.tar"))
        #expect(members.prefix(7).map(\.name) == ["00000000.flan_t5_xl_embeddings.npy", "00000000.json", "00000000.png",
                                                  "00000000.synthetic_flan_t5_xl_embeddings.npy", "00000000.txt",
                                                  "00000000.vae_embeddings_mean_16.npy", "00000000.vae_embeddings_std_16.npy"])
        let text = try NPYArray(data: Data(members[0].data))
        #expect(text.dtype == .f2 && text.shape.count == 2 && text.shape[1] == 32)
        let mean = try NPYArray(data: Data(members[5].data))
        #expect(mean.dtype == .f2 && mean.shape == [4, 4, 4])

        // The caption alone through the tokenizer and encoder: same rows (float16).
        let tokenizer = try T5Tokenizer.load(folder: Self.components.appendingPathComponent("text_encoder").path)
        let encoder = try T5Encoder.load(folder: Self.components.appendingPathComponent("text_encoder"))
        let ids = tokenizer.encode("caption number 0")
        #expect(text.shape[0] == ids.count)
        let alone = try withoutGrad { try encoder(ids: try Tensor(ids.map(Int64.init), shape: [1, ids.count])) }
        let want = try alone.squeezed(0).to(.float16).to(.float32).floats()
        let got = try TensorFilesBridge.floats(text)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 2e-3, "max |Δ| \(worst)")
        // The VAE statistics of the image alone.
        let vae = try AutoencoderKL.load(Self.components.appendingPathComponent("vae"))
        let image = try PNGReader.decode(Data(members[2].data)).rgbImage
        var pixels = [Float](repeating: 0, count: 3 * 16 * 16)
        for c in 0..<3 { for p in 0..<256 { pixels[c * 256 + p] = (image.pixels[3 * p + c] - 0.5) / 0.5 } }
        let posterior = try withoutGrad { try vae.encode(try Tensor(pixels, shape: [1, 3, 16, 16])) }
        let wantMean = try posterior.mean.to(.float16).to(.float32).floats()
        let gotMean = try TensorFilesBridge.floats(mean)
        #expect(zip(gotMean, wantMean).map { abs($0 - $1) }.max() ?? .infinity <= 2e-3)

        // The trainer's decoder reads every sample.
        var config = EnrichedSampleConfig()
        config.rewardNames = ["a_score"]
        config.vaeMeanName = "vae_embeddings_mean_16"
        config.vaeStdName = "vae_embeddings_std_16"
        config.latentShape = [4, 4, 4]
        config.textDim = 32
        config.minImageSize = 0
        config.syntheticProb = 0.5
        let reader = try EnrichedShardReader(url: out.appendingPathComponent("shard-001.tar"), config: config, bins: nil)
        #expect(reader.count == 4)
        for i in 0..<reader.count {
            if case .failure(let skip) = reader.sample(i) { Issue.record("\(skip)") }
        }
        let index = try WIDSIndex.read(out.appendingPathComponent(WIDSIndex.fileName))
        #expect(index.shardlist.map(\.nsamples) == [4, 4] && index.shardlist.map(\.url) == ["shard-000.tar", "shard-001.tar"])
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path)
        #expect(names.contains { $0.hasPrefix("coherence_bins_64_bins_a_score") }, "\(names)")
    }

    /// A crash in the VAE stage (the image transform fails on the 7th image), then a rerun: finished shards keep
    /// their markers, and everything equals an uninterrupted run.
    @Test func resumesTheEncodingStage() throws {
        let dir = try PrepFixtures.scratch()
        let tars = try PrepFixtures.tarDataset(in: dir.appendingPathComponent("in"), shards: 3, perShard: 3, side: 16)
        let reference = dir.appendingPathComponent("reference")
        _ = try preparer(tars, reference, rewards: []).run()
        let out = dir.appendingPathComponent("out")
        let calls = Counter()
        let failing = VAEImageTransform { image, size in
            calls.add("n")
            if calls.get("n") > 6 { throw PrepFixtures.Crash() }
            return try VAEImageTransform.cropOnly.apply(image, size)
        }
        #expect(throws: (any Error).self) { _ = try preparer(tars, out, rewards: [], transform: failing).run() }
        let markers = out.appendingPathComponent(".miro-prepare/done")
        #expect(try FileManager.default.contentsOfDirectory(atPath: markers.path).sorted() == ["shard-000.tar", "shard-001.tar"])
        let stamp = try FileManager.default.attributesOfItem(atPath: markers.appendingPathComponent("shard-000.tar").path)[.modificationDate] as? Date
        Thread.sleep(forTimeInterval: 0.05)
        let report = try preparer(tars, out, rewards: []).run()
        #expect(report.computedShards == 1 && report.written == 9)
        let after = try FileManager.default.attributesOfItem(atPath: markers.appendingPathComponent("shard-000.tar").path)[.modificationDate] as? Date
        #expect(stamp != nil && stamp == after)
        #expect(try PrepFixtures.files(out) == PrepFixtures.files(reference))
    }
}

/// `.npy` float16 payload → floats.
enum TensorFilesBridge {
    static func floats(_ array: NPYArray) throws -> [Float] {
        let n = array.data.count / 2
        return (0..<n).map { i in
            let bits = UInt16(array.data[array.data.startIndex + 2 * i]) | UInt16(array.data[array.data.startIndex + 2 * i + 1]) << 8
            return Float(Float16(bitPattern: bits))
        }
    }
}
