import Foundation

/// Runs several commands at once as child processes — how `miro experiment convergence` trains its two
/// models side by side. The tiny model's ops are too short to keep two cores busy from one process: two
/// processes with one thread each (libtorch and OpenBLAS) trained 1.6–1.9× as many steps per second on two
/// cores as one process using both (docs/benchmarks.md, "Two models at once"). Processes rather than
/// threads, because libtorch's intra-op thread count and OpenBLAS's pool are per process.
public enum ChildProcesses {
    public struct Job: Sendable {
        /// Prefix of its forwarded lines ("name | …").
        public var name: String
        public var arguments: [String]
        /// Everything the child writes (stdout and stderr, unprefixed) is also appended here.
        public var log: URL
        /// Variables set on top of this process's environment.
        public var environment: [String: String]

        public init(name: String, arguments: [String], log: URL, environment: [String: String] = [:]) {
            self.name = name
            self.arguments = arguments
            self.log = log
            self.environment = environment
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        /// Job name → exit status (or terminating signal, negated) of every job that did not exit with 0.
        public var statuses: [String: Int32]
        public var logs: [String: URL]

        public var description: String {
            statuses.sorted { $0.key < $1.key }.map { name, s in
                let how = s < 0 ? "was killed by signal \(-Int(s))" : "exited with status \(s)"
                return "\(name) \(how)" + (logs[name].map { "; its output is in \($0.path)" } ?? "")
            }.joined(separator: "; ")
        }
    }

    /// Starts every job at once (`executable` with the job's arguments), hands each complete output line
    /// to `forward` as "name | line" and waits for all of them; throws `Failure` naming every job that failed.
    /// `started` gets each child's process id (e.g. to pass Ctrl-C on: the children have their own process groups).
    public static func run(executable: URL, jobs: [Job], started: (Int32) -> Void = { _ in },
                           forward: @escaping @Sendable (String) -> Void) throws {
        var running: [(Job, Process)] = []
        let readers = DispatchGroup()
        defer {
            // A launch error must not leave the jobs already started running behind us.
            for (_, process) in running where process.isRunning { process.terminate() }
        }
        for job in jobs {
            try FileManager.default.createDirectory(at: job.log.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: job.log.path, contents: nil)  // FileHandle below reports failures
            let log = try FileHandle(forWritingTo: job.log)
            let pipe = Pipe()
            let process = Process()
            process.executableURL = executable
            process.arguments = job.arguments
            process.environment = ProcessInfo.processInfo.environment.merging(job.environment) { $1 }
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            running.append((job, process))
            started(process.processIdentifier)
            let reader = pipe.fileHandleForReading
            let prefix = "\(job.name) | "
            readers.enter()
            DispatchQueue.global().async {
                var pending = Data()
                while true {
                    let chunk = reader.availableData  // blocks; empty at end of file
                    if chunk.isEmpty { break }
                    log.write(chunk)
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        if !line.isEmpty { forward(prefix + line) }
                        pending.removeSubrange(pending.startIndex...newline)
                    }
                }
                if !pending.isEmpty { forward(prefix + String(decoding: pending, as: UTF8.self)) }
                try? log.close()
                readers.leave()
            }
        }
        var failed: [String: Int32] = [:], logs: [String: URL] = [:]
        for (job, process) in running {
            process.waitUntilExit()
            let status = process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
            if status != 0 { failed[job.name] = status; logs[job.name] = job.log }
        }
        running.removeAll()
        readers.wait()
        if !failed.isEmpty { throw Failure(statuses: failed, logs: logs) }
    }
}
