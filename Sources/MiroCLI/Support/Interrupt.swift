import Foundation

/// Ctrl-C handling for long commands: the first SIGINT asks the running loop to stop at the next
/// step boundary (so training saves a checkpoint and exits cleanly); a second one exits at once.
/// Child processes registered with `forward(to:)` get each SIGINT too: Foundation starts children in
/// their own process groups, out of reach of the terminal's Ctrl-C.
enum Interrupt {
    nonisolated(unsafe) private static var count: Int32 = 0
    /// Read by the signal handler, so a fixed buffer rather than an array that may reallocate.
    nonisolated(unsafe) private static var children = [pid_t](repeating: 0, count: 16)
    nonisolated(unsafe) private static var childCount = 0

    static var requested: Bool { count > 0 }

    static func install() {
        signal(SIGINT) { _ in
            Interrupt.count += 1
            for i in 0..<Interrupt.childCount { kill(Interrupt.children[i], SIGINT) }
            if Interrupt.count > 1 { _exit(130) }
            let message = "\ninterrupted: finishing the current step and saving (Ctrl-C again to quit now)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
        }
    }

    /// Passes later SIGINTs on to `pid` (up to 16 children).
    static func forward(to pid: pid_t) {
        guard childCount < children.count else { return }
        children[childCount] = pid
        childCount += 1
    }
}
