import Foundation
import Numerics

/// `body(0) … body(count − 1)` spread over `threads` workers (each taking every `threads`-th
/// index), with single-threaded BLAS, returned in index order: the same result whatever `threads`.
func parallelMap<T>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
    parallelMap(count, threads: threads, scratch: { () }) { _, k in body(k) }
}

/// `parallelMap` whose workers each own a scratch value, made by `scratch` when the worker starts
/// and handed to every `body` call of that worker (e.g. a workspace reused across its indices).
/// Results must not depend on the scratch's earlier contents, so they stay the same whatever `threads`.
func parallelMap<S, T>(_ count: Int, threads: Int, scratch: @Sendable () -> S, _ body: @Sendable (inout S, Int) -> T) -> [T] {
    guard count > 0 else { return [] }
    let workers = max(1, min(threads, count))
    let results = ResultSlots<T>(count: count)
    BLASThreads.singleThreaded {
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var state = scratch()
            for k in stride(from: worker, to: count, by: workers) { results.set(k, body(&state, k)) }
        }
    }
    return results.values()
}
