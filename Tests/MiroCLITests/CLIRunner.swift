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

/// A `miro` process running in the background, its output going to files.
final class BackgroundMiro {
    let process = Process()
    let log: URL

    init(_ args: [String], log: URL) throws {
        self.log = log
        process.executableURL = CLI.executable
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = "1"
        process.environment = env
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    /// Waits for the process to end (at most `timeout` seconds, then kills it); returns its status.
    @discardableResult
    func wait(timeout: Double = 120) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits until `predicate` holds (polling every 20 ms, at most `timeout` seconds); false when it never did.
    static func poll(timeout: Double = 60, _ predicate: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate() { return true }
            usleep(20_000)
        }
        return false
    }
}
