// swift-tools-version: 6.1
// miro-swift: MIRO (multi-reward conditioned pretraining) in Swift over libtorch.
//
// Modules, bottom to top (`graph` below; scripts/check-module-graph.sh checks every import against it):
//   CTorch        the C shim over libtorch
//   CJPEG, CJPEGShim  Debian's libjpeg-turbo (system library) and the setjmp error handler around it (C)
//   MiroFormats   safetensors, .npy, tar, the Python-dialect JSON value (pure Swift)
//   MiroEngine    Tensor, autograd, Generator
//   MiroNN        Module tree, layers, state dicts       MiroOptim  AdamW, LAMB, EMA, schedules
//   MiroIO        tensors ⇄ files, the checkpoint file format
//   MiroImage     RGBImage, PNG, grids                   MiroRewards  the RewardModel protocol, reward bins
//   MiroTokenizers  SentencePiece (T5), CLIP BPE and BERT WordPiece tokenizers, pure Swift
//   MiroT5        the T5 text encoder (FLAN-T5-XL)       MiroVAE    the SDXL VAE and TAESDXL
//   MiroRewardModels  the neural rewards: CLIP (+ aesthetic MLP), PickScore, SciScore, HPSv2, ImageReward
//   MiroModels    the MIRO network, preconditioning, loss, sampler
//   MiroData      webdataset shards: readers, epoch plans, cursors, the bins-cache builder
//   MiroShapes    the built-in Shapes world: generator, detector, its four rewards, text encoder, ShapesEval
//   MiroDataPrep  `miro annotate` / `miro prepare`: raw image–caption data → scored, encoded, enriched shards
//   MiroPipeline  text → image (Shapes runs and official folders), run configs, input validation, export
//   MiroTraining  the train step, the trainer, training data, sessions          (never imported by MiroPipeline)
//   MiroEval      evaluations, sweeps, the convergence experiment, probes, benchmarks
//   miro          the CLI
//
// The engine, first found wins:
//   1. LIBTORCH=/path/to/libtorch (a libtorch folder, or a PyTorch wheel's `torch/`, e.g. with CUDA on a GPU machine)
//   2. .deps/torch-2.15.0/torch, which scripts/setup.sh downloads (PyTorch 2.15's CPU libraries)
//   3. Debian's libtorch-dev 1.13 under /usr (kept as a fallback; the shim's #ifs say what differs)
import Foundation
import PackageDescription

let env = ProcessInfo.processInfo.environment
let localTorch = Context.packageDirectory + "/.deps/torch-2.15.0/torch"
let torchRoot: String? = env["LIBTORCH"]
    ?? (FileManager.default.fileExists(atPath: localTorch + "/lib/libtorch_cpu.so") ? localTorch : nil)
let torchIncludes = torchRoot.map { ["\($0)/include", "\($0)/include/torch/csrc/api/include"] }
    ?? ["/usr/include/torch/csrc/api/include"]
let torchLibDirs = torchRoot.map { ["\($0)/lib"] } ?? []
let torchCUDA = torchRoot.map { FileManager.default.fileExists(atPath: "\($0)/lib/libtorch_cuda.so") } ?? false
// ATen 2.x needs C++20; Debian's 1.13 headers do not compile as C++20.
let torch2 = torchRoot.map { FileManager.default.fileExists(atPath: "\($0)/include/torch/headeronly/version.h")
    || FileManager.default.fileExists(atPath: "\($0)/include/ATen/ops") } ?? false

var shimFlags: [String] = torchIncludes.flatMap { ["-isystem", $0] }
shimFlags += ["-O2", "-Wno-deprecated-declarations"]
if torchCUDA { shimFlags += ["-DMT_WITH_CUDA=1"] }
// PyTorch's pip wheels up to 2.5 are built with the pre-C++11 std::string ABI: TORCH_CXX11_ABI=0.
if env["TORCH_CXX11_ABI"] == "0" { shimFlags += ["-D_GLIBCXX_USE_CXX11_ABI=0"] }
// Only the CPU libraries are linked (a wheel's libtorch.so would pull in the whole CUDA set). A wheel's
// libtorch_cpu.so finds its CUDA runtime stubs through its own RPATH ($ORIGIN/../../nvidia/cu13/lib).
var shimLinker: [LinkerSetting] = [.linkedLibrary("torch_cpu"), .linkedLibrary("c10")]
if !torchLibDirs.isEmpty {
    shimLinker.append(.unsafeFlags(torchLibDirs.flatMap { ["-L\($0)", "-Xlinker", "-rpath", "-Xlinker", $0] }))
}
if torchCUDA || torchRoot == nil { shimLinker.append(.linkedLibrary("torch")) }
if torchCUDA { shimLinker += [.linkedLibrary("torch_cuda"), .linkedLibrary("c10_cuda")] }

/// The project modules each target depends on: one line per target, checked by scripts/check-module-graph.sh.
let graph: [String: [String]] = [
    "MiroFormats": [],
    "MiroEngine": ["CTorch"],
    "MiroNN": ["MiroEngine"],
    "MiroOptim": ["MiroEngine", "MiroNN"],
    "MiroIO": ["MiroEngine", "MiroNN", "MiroFormats"],
    "CJPEGShim": ["CJPEG"],
    "MiroImage": ["MiroFormats", "CJPEG", "CJPEGShim"],
    "MiroTokenizers": ["MiroFormats"],
    "MiroT5": ["MiroEngine", "MiroNN", "MiroFormats", "MiroIO"],
    "MiroVAE": ["MiroEngine", "MiroNN", "MiroFormats", "MiroIO"],
    "MiroModels": ["MiroEngine", "MiroNN"],
    "MiroRewards": ["MiroImage", "MiroFormats"],
    "MiroRewardModels": ["MiroEngine", "MiroNN", "MiroFormats", "MiroIO", "MiroImage", "MiroTokenizers", "MiroRewards"],
    "MiroData": ["MiroFormats", "MiroEngine", "MiroRewards"],
    "MiroShapes": ["MiroRewards", "MiroImage", "MiroData"],
    "MiroDataPrep": ["MiroEngine", "MiroNN", "MiroFormats", "MiroIO", "MiroImage", "MiroRewards", "MiroData", "MiroTokenizers", "MiroT5", "MiroVAE"],
    "MiroPipeline": ["MiroEngine", "MiroNN", "MiroFormats", "MiroModels", "MiroIO", "MiroImage", "MiroRewards", "MiroData", "MiroShapes",
                     "MiroTokenizers", "MiroT5", "MiroVAE"],
    "MiroTraining": ["MiroEngine", "MiroNN", "MiroFormats", "MiroOptim", "MiroModels", "MiroIO", "MiroImage", "MiroRewards", "MiroData", "MiroShapes", "MiroPipeline"],
    "MiroEval": ["MiroEngine", "MiroNN", "MiroFormats", "MiroOptim", "MiroModels", "MiroIO", "MiroImage", "MiroRewards", "MiroData", "MiroShapes", "MiroPipeline", "MiroTraining", "MiroT5", "MiroVAE",
                 "MiroRewardModels"],
]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
/// Targets that log take a `Logger` (only the executable bootstraps logging).
let logs: Set<String> = ["MiroNN", "MiroData", "MiroDataPrep", "MiroRewardModels", "MiroPipeline", "MiroTraining", "MiroEval"]

func library(_ name: String) -> Target {
    .target(name: name, dependencies: graph[name, default: []].map { .target(name: $0) } + (logs.contains(name) ? [logging] : []),
            path: "Sources/\(name)")
}

func tests(_ name: String, _ dependencies: [String], fixtures: Bool = false) -> Target {
    .testTarget(name: name, dependencies: dependencies.map { .target(name: $0) } + [logging], path: "Tests/\(name)",
                resources: fixtures ? [.copy("Fixtures")] : nil)
}

let libraries = ["MiroFormats", "MiroEngine", "MiroNN", "MiroOptim", "MiroIO", "MiroImage", "MiroTokenizers", "MiroT5", "MiroVAE",
                 "MiroModels", "MiroRewards", "MiroRewardModels",
                 "MiroData", "MiroDataPrep", "MiroShapes", "MiroPipeline", "MiroTraining", "MiroEval"]

let package = Package(
    name: "miro-swift",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "miro", targets: ["miro"])] + libraries.map { .library(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(
            name: "CTorch",
            path: "Sources/CTorch",
            cxxSettings: [.unsafeFlags(shimFlags)],
            linkerSettings: shimLinker
        ),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", providers: [.apt(["libjpeg62-turbo-dev"])]),
        // The modulemap's `link "jpeg"` only reaches the linker through a Swift import; the C code links it itself.
        .target(name: "CJPEGShim", dependencies: ["CJPEG"], path: "Sources/CJPEGShim", linkerSettings: [.linkedLibrary("jpeg")]),
    ] + libraries.map(library) + [
        .executableTarget(
            name: "miro",
            dependencies: libraries.map { .target(name: $0) } + [
                .product(name: "ArgumentParser", package: "swift-argument-parser"), logging,
            ],
            path: "Sources/MiroCLI"
        ),
        // Helpers shared by several test targets (test targets cannot depend on one another).
        .target(name: "MiroTestSupport", dependencies: ["MiroModels", "MiroPipeline", "MiroShapes", "MiroTraining", logging],
                path: "Tests/MiroTestSupport"),
        tests("MiroFormatsTests", ["MiroFormats"], fixtures: true),
        tests("MiroEngineTests", ["MiroEngine", "MiroNN", "MiroFormats"]),
        tests("MiroNNTests", ["MiroEngine", "MiroNN", "MiroOptim", "MiroFormats", "MiroIO"], fixtures: true),
        tests("MiroModelsTests", ["MiroEngine", "MiroNN", "MiroModels", "MiroIO"], fixtures: true),
        tests("MiroImageTests", ["MiroImage", "MiroFormats"], fixtures: true),
        tests("MiroT5Tests", ["MiroEngine", "MiroNN", "MiroFormats", "MiroIO", "MiroT5"], fixtures: true),
        tests("MiroVAETests", ["MiroEngine", "MiroNN", "MiroFormats", "MiroIO", "MiroVAE"], fixtures: true),
        tests("MiroRewardModelsTests", ["MiroEngine", "MiroNN", "MiroFormats", "MiroIO", "MiroImage", "MiroTokenizers", "MiroRewards",
                                        "MiroRewardModels"], fixtures: true),
        tests("MiroDataPrepTests", ["MiroEngine", "MiroFormats", "MiroIO", "MiroImage", "MiroRewards", "MiroData", "MiroDataPrep",
                                    "MiroTokenizers", "MiroT5", "MiroVAE"]),
        tests("MiroTokenizersTests", ["MiroTokenizers", "MiroFormats"], fixtures: true),
        tests("MiroDataTests", ["MiroFormats", "MiroImage", "MiroRewards", "MiroData", "MiroShapes"], fixtures: true),
        tests("MiroPipelineTests", ["MiroEngine", "MiroNN", "MiroIO", "MiroFormats", "MiroModels", "MiroImage", "MiroShapes",
                                    "MiroPipeline", "MiroTraining", "MiroTestSupport"], fixtures: true),
        tests("MiroTrainingTests", ["MiroEngine", "MiroOptim", "MiroModels", "MiroIO", "MiroImage", "MiroRewards", "MiroData",
                                    "MiroShapes", "MiroPipeline", "MiroTraining", "MiroTestSupport"]),
        tests("MiroEvalTests", ["MiroEngine", "MiroFormats", "MiroModels", "MiroImage", "MiroRewards", "MiroData", "MiroShapes", "MiroPipeline", "MiroTraining",
                                "MiroEval", "MiroTestSupport"]),
        // Runs the built `miro` executable (it needs the product built beside it; the support target only for
        // editing checkpoint files).
        tests("MiroCLITests", ["MiroTestSupport", "MiroImage", "MiroData", "MiroEngine", "MiroIO", "MiroVAE", "MiroFormats",
                               "MiroRewardModels", "MiroTokenizers"]),
    ],
    cxxLanguageStandard: torch2 ? .cxx20 : .cxx17
)
