// swift-tools-version: 6.1
// miro-swift: MIRO (multi-reward conditioned pretraining) in Swift over libtorch.
//
// Layers, bottom to top:  CTorch (C shim over libtorch) → MiroEngine (Tensor, autograd, RNG)
//   → MiroNN (modules, layers, state dicts) → MiroOptim (AdamW, LAMB, schedules, EMA)
//   → MiroIO (tensors ⇄ safetensors / .npy files, checkpoints)
//   → MiroModels (the MIRO network, preconditioning, loss, sampler) and MiroData (Shapes world, rewards,
//     reward bins, PNG; pure Swift) → training / CLI.
//   → models / training / sampling / data (later) → miro (the CLI).
// MiroFormats (safetensors, .npy) is pure Swift and depends on nothing.
//
// Building against another libtorch (e.g. PyTorch 2.x with CUDA on a GPU machine):
//   LIBTORCH=/path/to/libtorch swift build -c release
import Foundation
import PackageDescription

let env = ProcessInfo.processInfo.environment
let torchRoot = env["LIBTORCH"]  // nil: Debian's libtorch-dev under /usr
let torchIncludes = torchRoot.map { ["\($0)/include", "\($0)/include/torch/csrc/api/include"] }
    ?? ["/usr/include/torch/csrc/api/include"]
let torchLibDirs = torchRoot.map { ["\($0)/lib"] } ?? []
let torchCUDA = torchRoot.map { FileManager.default.fileExists(atPath: "\($0)/lib/libtorch_cuda.so") } ?? false

var shimFlags: [String] = torchIncludes.flatMap { ["-isystem", $0] }
shimFlags += ["-O2", "-Wno-deprecated-declarations"]
if torchCUDA { shimFlags += ["-DMT_WITH_CUDA=1"] }
// PyTorch's pip wheels up to 2.5 are built with the pre-C++11 std::string ABI: TORCH_CXX11_ABI=0.
if env["TORCH_CXX11_ABI"] == "0" { shimFlags += ["-D_GLIBCXX_USE_CXX11_ABI=0"] }
var shimLinker: [LinkerSetting] = [.linkedLibrary("torch_cpu"), .linkedLibrary("c10"), .linkedLibrary("torch")]
if !torchLibDirs.isEmpty {
    shimLinker.append(.unsafeFlags(torchLibDirs.flatMap { ["-L\($0)", "-Xlinker", "-rpath", "-Xlinker", $0] }))
}
if torchCUDA { shimLinker += [.linkedLibrary("torch_cuda"), .linkedLibrary("c10_cuda")] }

let package = Package(
    name: "miro-swift",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "miro", targets: ["miro"]),
        .library(name: "MiroEngine", targets: ["MiroEngine"]),
        .library(name: "MiroNN", targets: ["MiroNN"]),
        .library(name: "MiroOptim", targets: ["MiroOptim"]),
        .library(name: "MiroFormats", targets: ["MiroFormats"]),
        .library(name: "MiroIO", targets: ["MiroIO"]),
    ],
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
        .target(name: "MiroFormats", path: "Sources/MiroFormats"),
        .target(name: "MiroEngine", dependencies: ["CTorch"], path: "Sources/MiroEngine"),
        .target(
            name: "MiroNN",
            dependencies: ["MiroEngine", .product(name: "Logging", package: "swift-log")],
            path: "Sources/MiroNN"
        ),
        .target(name: "MiroIO", dependencies: ["MiroEngine", "MiroNN", "MiroFormats"], path: "Sources/MiroIO"),
        // Pure Swift: the built-in Shapes world, reward scorers, reward bins, PNG.
        .target(name: "MiroData", dependencies: ["MiroFormats", .product(name: "Logging", package: "swift-log")],
                path: "Sources/MiroData"),
        .target(name: "MiroModels", dependencies: ["MiroEngine", "MiroNN"], path: "Sources/MiroModels"),
        .target(
            name: "MiroTraining",
            dependencies: ["MiroEngine", "MiroNN", "MiroOptim", "MiroIO", "MiroFormats", "MiroModels", "MiroData",
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/MiroTraining"
        ),
        .target(name: "MiroOptim", dependencies: ["MiroEngine", "MiroNN"], path: "Sources/MiroOptim"),
        // Official MIRO checkpoint folders (config.json + model.safetensors + uncond_embedding.npy), both ways.
        .target(name: "MiroRelease",
                dependencies: ["MiroEngine", "MiroNN", "MiroOptim", "MiroIO", "MiroFormats", "MiroModels", "MiroData",
                               "MiroTraining", .product(name: "Logging", package: "swift-log")],
                path: "Sources/MiroRelease"),
        .executableTarget(
            name: "miro",
            dependencies: [
                "MiroEngine", "MiroNN", "MiroOptim", "MiroFormats", "MiroIO", "MiroData", "MiroModels", "MiroTraining",
                "MiroRelease",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/MiroCLI"
        ),
        .testTarget(name: "MiroFormatsTests", dependencies: ["MiroFormats"], path: "Tests/MiroFormatsTests",
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "MiroEngineTests", dependencies: ["MiroEngine", "MiroNN", "MiroFormats"],
                    path: "Tests/MiroEngineTests"),
        .testTarget(name: "MiroDataTests", dependencies: ["MiroData", .product(name: "Logging", package: "swift-log")],
                    path: "Tests/MiroDataTests",
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "MiroModelsTests", dependencies: ["MiroEngine", "MiroNN", "MiroModels", "MiroIO"],
                    path: "Tests/MiroModelsTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "MiroTrainingTests",
                    dependencies: ["MiroEngine", "MiroModels", "MiroData", "MiroTraining", .product(name: "Logging", package: "swift-log")],
                    path: "Tests/MiroTrainingTests"),
        .testTarget(name: "MiroReleaseTests",
                    dependencies: ["MiroEngine", "MiroNN", "MiroIO", "MiroFormats", "MiroModels", "MiroTraining", "MiroRelease",
                                   .product(name: "Logging", package: "swift-log")],
                    path: "Tests/MiroReleaseTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "MiroNNTests", dependencies: ["MiroEngine", "MiroNN", "MiroOptim", "MiroFormats", "MiroIO"],
                    path: "Tests/MiroNNTests", resources: [.copy("Fixtures")]),
    ],
    cxxLanguageStandard: .cxx17
)
