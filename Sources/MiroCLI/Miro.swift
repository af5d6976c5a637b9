import ArgumentParser
import Logging
import MiroEngine
import MiroEval

/// The `miro` command: one root with subcommands, as swift-argument-parser tools are laid out.
@main
struct Miro: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "miro",
        abstract: "MIRO: multi-reward conditioned text-to-image training and sampling, in Swift over libtorch.",
        version: "miro-swift \(version) (libtorch \(Engine.torchVersion))",
        subcommands: [Demo.self, Train.self, Sample.self, TextEmbed.self, VAECommand.self, Export.self, Bins.self, Eval.self, Experiment.self,
                      Inspect.self, Convert.self, Bench.self, Annotate.self, Prepare.self]
    )
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Log debug details.")
    var verbose = false

    /// Bootstraps swift-log once (only the executable does this; libraries take a `Logger`).
    func makeLogger(_ label: String) -> Logger {
        LoggingBootstrap.once(level: verbose ? .debug : .info)
        return Logger(label: label)
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) private static var done = false

    static func once(level: Logger.Level) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
