/// A binary min-heap of (key, id, generation) with lazy deletion: an entry is live only while its
/// generation matches the owner's current one. Used for the shared link's ordered sets.
struct LazyHeap {
    struct Entry {
        var key: Double
        var id: Int
        var generation: UInt32
    }

    private(set) var entries: [Entry] = []
    /// Negate keys to get a max-heap.
    let isMax: Bool

    init(max isMax: Bool = false) { self.isMax = isMax }

    var count: Int { entries.count }

    @inline(__always) private func less(_ a: Entry, _ b: Entry) -> Bool {
        isMax ? (a.key > b.key || (a.key == b.key && a.id < b.id)) : (a.key < b.key || (a.key == b.key && a.id < b.id))
    }

    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(entries[i], entries[parent]) else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    /// The top live entry, discarding dead ones on the way.
    mutating func top(isLive: (Entry) -> Bool) -> Entry? {
        while let first = entries.first {
            if isLive(first) { return first }
            pop()
        }
        return nil
    }

    mutating func pop() {
        guard !entries.isEmpty else { return }
        let last = entries.removeLast()
        guard !entries.isEmpty else { return }
        entries[0] = last
        var i = 0
        let n = entries.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < n && less(entries[l], entries[best]) { best = l }
            if r < n && less(entries[r], entries[best]) { best = r }
            if best == i { break }
            entries.swapAt(i, best)
            i = best
        }
    }

    /// Drops dead entries and rebuilds (O(n)), when they dominate.
    mutating func compact(isLive: (Entry) -> Bool) {
        entries.removeAll { !isLive($0) }
        let sorted = entries.sorted { less($0, $1) }
        entries = sorted  // a sorted array is a valid heap
    }
}
