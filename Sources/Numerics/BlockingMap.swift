import Dispatch
import Foundation

/// Slots written by concurrent workers, each slot by exactly one worker; read in slot order.
public final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    public init(count: Int) { slots = [T?](repeating: nil, count: count) }
    public func set(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    /// Every slot's value (all must have been set).
    public func values() -> [T] {
        lock.lock(); defer { lock.unlock() }
        return slots.map { $0! }
    }
}

/// `body(0) … body(count − 1)` on `threads` threads of their own, each taking the next index
/// when it is free, returned in index order — for work that blocks (waiting on another process),
/// which the dispatch pool would run only as many at once as there are cores. While the workers
/// run, `poll` is called on the calling thread about once a second (progress, say).
public func blockingMap<T>(_ count: Int, threads: Int, poll: () -> Void = {}, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    guard count > 0 else { return [] }
    let workers = max(1, min(threads, count))
    let results = ResultSlots<T>(count: count)
    let next = NextIndex()
    let done = DispatchSemaphore(value: 0)
    for _ in 0..<workers {
        Thread {
            defer { done.signal() }
            while let k = next.take(below: count) { results.set(k, body(k)) }
        }.start()
    }
    var running = workers
    while running > 0 {
        if done.wait(timeout: .now() + 1) == .success { running -= 1 }
        poll()
    }
    return results.values()
}

/// The next index for `blockingMap`'s workers.
private final class NextIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func take(below n: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < n else { return nil }
        value += 1
        return value - 1
    }
}
