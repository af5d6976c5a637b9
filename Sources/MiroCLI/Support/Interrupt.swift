import Foundation

/// Ctrl-C handling for long commands: the first SIGINT asks the running loop to stop at the next
/// step boundary (so training saves a checkpoint and exits cleanly); a second one exits at once.
enum Interrupt {
    nonisolated(unsafe) private static var count: Int32 = 0

    static var requested: Bool { count > 0 }

    static func install() {
        signal(SIGINT) { _ in
            Interrupt.count += 1
            if Interrupt.count > 1 { _exit(130) }
            let message = "\ninterrupted: finishing the current step and saving (Ctrl-C again to quit now)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
        }
    }
}
