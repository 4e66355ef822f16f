/// References for the shared link, deliberately simple and slow: water-filling from scratch, and a
/// brute-force fluid simulation that recomputes every rate after every event. Used by the tests and
/// by `make validate` to check `SharedLink`'s incremental algorithm.
public enum MaxMinReference {
    /// Water-filling from scratch: the reference for max-min fairness with caps.
    public static func waterFill(capacity: Double, caps: [Double]) -> [Double] {
        var rates = [Double](repeating: 0, count: caps.count)
        var remaining = capacity
        var open = caps.indices.sorted { caps[$0] < caps[$1] }
        while !open.isEmpty {
            let share = remaining / Double(open.count)
            if caps[open[0]] <= share {
                rates[open[0]] = caps[open[0]]
                remaining -= caps[open[0]]
                open.removeFirst()
            } else {
                for i in open { rates[i] = share }
                break
            }
        }
        return rates
    }

    /// Brute force: after every start or finish, recompute every rate by water-filling and step to
    /// the next event. Returns each flow's finish time.
    public static func bruteForce(capacity: Double, starts: [Double], bits: [Double], caps: [Double]) -> [Double] {
        // A constant cap is one that never changes.
        bruteForce(capacity: capacity, starts: starts, bits: bits, capChanges: caps.map { [(at: -Double.infinity, cap: $0)] })
    }

    /// Brute force with caps that change: flow i's cap is `capChanges[i][j].cap` from time
    /// `capChanges[i][j].at` on (the first entry at or before its start). After every start,
    /// finish or cap change, every rate is recomputed by water-filling. Returns each flow's finish time.
    public static func bruteForce(capacity: Double, starts: [Double], bits: [Double], capChanges: [[(at: Double, cap: Double)]]) -> [Double] {
        var finish = [Double](repeating: .nan, count: starts.count)
        var left = bits
        var now = 0.0
        var active: [Int] = []
        var pending = starts.indices.sorted { starts[$0] < starts[$1] || (starts[$0] == starts[$1] && $0 < $1) }
        func cap(_ i: Int, at t: Double) -> Double { capChanges[i].last { $0.at <= t }?.cap ?? capChanges[i][0].cap }
        while !pending.isEmpty || !active.isEmpty {
            let rates = waterFill(capacity: capacity, caps: active.map { cap($0, at: now) })
            var next = pending.first.map { starts[$0] } ?? .infinity
            for (k, i) in active.enumerated() {
                next = min(next, now + left[i] / rates[k])
                if let change = capChanges[i].first(where: { $0.at > now }) { next = min(next, change.at) }
            }
            for (k, i) in active.enumerated() { left[i] -= rates[k] * (next - now) }
            now = next
            var still: [Int] = []
            for i in active {
                if left[i] <= 1e-9 * bits[i] + 1e-12 { finish[i] = now } else { still.append(i) }
            }
            active = still
            while let p = pending.first, starts[p] <= now {
                active.append(p)
                pending.removeFirst()
            }
        }
        return finish
    }
}
