import Foundation

/// The long flags the user typed (`--steps 10`, `--steps=10`), so that a command can tell an explicit value
/// from a default: ArgumentParser fills both in the same way.
enum GivenFlags {
    static func from(_ arguments: [String] = CommandLine.arguments) -> Set<String> {
        var out = Set<String>()
        for argument in arguments.dropFirst() {
            if argument == "--" { break }
            guard argument.hasPrefix("--") else { continue }
            out.insert(String(argument.split(separator: "=", maxSplits: 1)[0]))
        }
        return out
    }
}
