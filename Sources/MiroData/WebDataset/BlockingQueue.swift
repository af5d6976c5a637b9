// Port of miro/data/text_wids_dataset.py (miro-t2i 0.1.4; method.md §2.5): the hand-off between the reader
// threads, the batch-assembly thread and the trainer (the role of the DataLoader's worker queues and
// `prefetch_factor` in the official loader).
import Foundation

/// A bounded FIFO between threads: `push` blocks while full, `pop` while empty, and `cancel` wakes everyone so
/// threads can exit (after a cancel, `push` drops and `pop` returns nil).
final class BlockingQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    /// Popped slots are set to nil at once, so the queue never keeps a consumed element (or its memory) alive.
    private var items: [Element?] = []
    private var head = 0
    private var cancelled = false
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Appends, waiting for room. Returns false (and drops the element) once the queue is cancelled.
    @discardableResult
    func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(element)
        condition.broadcast()
        return true
    }

    /// Removes the oldest element, waiting for one. nil once the queue is cancelled.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.count == head && !cancelled { condition.wait() }
        if cancelled { return nil }
        let e = items[head].take()!
        head += 1
        if head > 1024 && head * 2 > items.count {  // compact now and then instead of shifting on every pop
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return e
    }

    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }
}
