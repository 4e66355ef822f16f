import Numerics

/// How the training set is split among clients.
public enum Partition: Sendable, Equatable {
    /// Shuffled and dealt out evenly.
    case iid
    /// Per class, the class's samples are split among clients in proportions drawn from
    /// Dirichlet(β, …, β) (Hsu, Qi & Brown 2019): small β, few classes per client.
    case dirichlet(beta: Double)
    /// Sorted by label, cut into `perClient × clients` shards, `perClient` random shards each
    /// (McMahan et al. 2017).
    case shards(perClient: Int)

    /// The most shards `shards` may cut (2³¹; each is an 8-byte index while dealing).
    public static let maximumShards = 1 << 31

    /// Throws (at `keyPath`) for a partition `assign` cannot make for `clients` clients: more
    /// than `maximumShards` shards in all, or a non-positive count.
    public func check(clients: Int, keyPath: String = "workload.train.partition") throws {
        guard clients >= 0 else { throw InputError(.invalidValue(expected: "a non-negative number of clients", found: "\(clients)"), at: keyPath) }
        if case let .shards(perClient) = self {
            let (total, overflow) = perClient.multipliedReportingOverflow(by: clients)
            guard perClient >= 1, !overflow, total <= Partition.maximumShards else {
                throw InputError(.invalidValue(expected: "at most \(Partition.maximumShards) shards in all (shards per client × clients)",
                                               found: "\(perClient) × \(clients) clients"), at: keyPath)
            }
        }
    }

    /// Sample indices of each of `clients` clients (some may be empty under Dirichlet), from the
    /// stream `partition` of `seed`.
    public func assign(_ data: Dataset, clients: Int, seed: UInt64) -> [[Int]] {
        let stream = RandomStream(seed: seed, purpose: "partition")
        var out = [[Int]](repeating: [], count: clients)
        switch self {
        case .iid:
            var order = Array(0..<data.count)
            stream.shuffle(&order)
            for (k, i) in order.enumerated() { out[k % clients].append(i) }
        case let .dirichlet(beta):
            for var members in data.indicesByClass {
                stream.shuffle(&members)
                let p = stream.dirichlet([Double](repeating: beta, count: clients))
                // Cut points at the cumulative proportions.
                var start = 0, cumulative = 0.0
                for c in 0..<clients {
                    cumulative += p[c]
                    // Clamped before the conversion: a NaN or out-of-range proportion (β so small
                    // that every draw underflows) cannot trap.
                    let cut = (cumulative * Double(members.count)).rounded()
                    let end = c == clients - 1 ? members.count : (cut >= 0 ? min(members.count, Int(min(cut, Double(members.count)))) : 0)
                    if end > start { out[c].append(contentsOf: members[start..<end]) }
                    start = max(start, end)
                }
            }
            for c in 0..<clients { out[c].sort() }
        case let .shards(perClient):
            let order = data.labels.indices.sorted { (data.labels[$0], $0) < (data.labels[$1], $1) }
            let (shardCount, overflow) = perClient.multipliedReportingOverflow(by: clients)
            precondition(!overflow && shardCount <= Partition.maximumShards, "shards × clients beyond Partition.maximumShards: check(clients:) first")
            var shards = Array(0..<shardCount)
            stream.shuffle(&shards)
            for (k, shard) in shards.enumerated() {
                let lo = shard * order.count / shardCount, hi = (shard + 1) * order.count / shardCount
                out[k / perClient].append(contentsOf: order[lo..<hi])
            }
            for c in 0..<clients { out[c].sort() }
        }
        return out
    }
}
