import Foundation

/// Runs the built `miro` executable (it sits beside the test bundle in the build directory: `swift test`
/// builds every product first) and collects its exit status and output.
struct CLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var output: String { stdout + stderr }
    }

    static var executable: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = bundle.deletingLastPathComponent()
        // On Linux the tests run as `<build>/miro-swiftPackageTests.xctest`; elsewhere from inside a bundle.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("miro").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("miro")
    }

    /// `miro args...` in `directory`, with `environment` added; quiet logging unless asked otherwise.
    @discardableResult
    static func run(_ args: [String], in directory: URL? = nil, environment: [String: String] = [:],
                    stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = args
        if let directory { process.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = env["OMP_NUM_THREADS"] ?? "1"
        env.merge(environment) { _, new in new }
        process.environment = env
        // Output goes to files, not pipes: a pipe that is not drained while the child runs can block it.
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("miro-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: capture, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: capture) }
        let outURL = capture.appendingPathComponent("out"), errURL = capture.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        let stdinPipe = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : stdinPipe
        try process.run()
        if let stdin {
            stdinPipe.fileHandleForWriting.write(Data(stdin.utf8))
            try stdinPipe.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// A fresh scratch directory.
    static func scratch(_ name: String = #function) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("miro-cli-\(ProcessInfo.processInfo.processIdentifier)")
            .appendingPathComponent(name.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Arguments of a tiny, fast Shapes run (a few steps of a micro network).
    static func tinyTrain(run: URL, steps: Int, extra: [String] = []) -> [String] {
        ["train", "--run", run.path, "--steps", String(steps), "--batch-size", "4", "--dataset-size", "16",
         "--warmup", "1", "--sample-every", "0", "--log-every", "1", "--seed", "5", "--threads", "1",
         "--network", #"{"data_dim": 16, "num_latents": 8, "latents_dim": 32, "num_blocks": 1, "num_processing_layers": 1, "read_write_heads": 2, "compute_heads": 2}"#]
            + extra
    }
}
