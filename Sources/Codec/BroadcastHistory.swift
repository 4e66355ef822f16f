import LoRA

/// What the server remembers of past broadcasts so that a client that missed rounds can catch up
/// (FEDSRD.md, stale clients): the supports of the last `capacity` delta broadcasts.
///
/// A stale client downloads min(merged sparse deltas since its version, the full dense adapter);
/// beyond `capacity` rounds behind, the dense adapter. Codecs that broadcast the full adapter
/// (`lora`, `ffa-lora`) always cost their broadcast.
public struct BroadcastHistory: Sendable {
    /// Rounds of history kept.
    public let capacity: Int
    /// Broadcasts recorded so far: the version a client in sync holds.
    public private(set) var version = 0
    private var supports: [[Int: [UInt32]?]] = []  // per broadcast: tensor key → indices (nil = dense)
    private var fullBroadcastBytes: Int?
    private let shapes: [LoRALayerShape]

    /// An empty history for an adapter of `shapes`.
    public init(shapes: [LoRALayerShape], capacity: Int) {
        self.shapes = shapes
        self.capacity = max(0, capacity)
    }

    /// Records the broadcast of the round that just closed from the codec's result, without decoding
    /// it again (the codec decoded it once to build the new global adapter).
    public mutating func record(_ result: AggregationResult) {
        record(result.decodedBroadcast, byteCount: result.broadcast.count)
    }

    /// Records an encoded broadcast, decoding it (for a broadcast that did not come with its codec's result).
    public mutating func record(broadcast: [UInt8]) throws {
        let message: WireMessage
        do { message = try WireMessage.decode(broadcast, shapes: shapes) } catch { throw CodecError.wire(error) }
        record(message, byteCount: broadcast.count)
    }

    /// Records a decoded broadcast of `byteCount` bytes on the wire.
    mutating func record(_ message: WireMessage, byteCount: Int) {
        version += 1
        if message.kind == .full {
            fullBroadcastBytes = byteCount
            supports.removeAll()
            return
        }
        var entry: [Int: [UInt32]?] = [:]
        for t in message.tensors { entry[t.layer * 2 + Int(t.matrix.rawValue)] = t.indices }
        supports.append(entry)
        if supports.count > capacity { supports.removeFirst(supports.count - capacity) }
    }

    /// Bytes a client holding `clientVersion` downloads to reach `version` under `codec`.
    public func catchUpBytes(from clientVersion: Int, codec: any Codec) -> Int {
        let behind = version - clientVersion
        guard behind > 0 else { return 0 }
        if let full = fullBroadcastBytes { return full }
        let dense = codec.denseAdapterBytes(shapes: shapes)
        guard let merged = merged(behind: behind) else { return dense }
        let plan = merged.keys.sorted().map { key -> TensorPlan in
            let layer = key / 2, matrix: LoRAMatrix = key % 2 == 0 ? .a : .b
            let d = shapes[layer].dimensions(matrix)
            let kept = (merged[key] ?? nil)?.count ?? d.rows * d.cols
            return TensorPlan(layer: layer, matrix: matrix, rows: d.rows, cols: d.cols, kept: kept)
        }
        return min(type(of: codec).messageBytes(plan, valueType: codec.options.valueType), dense)
    }

    /// The kept fractions of A and B in the merged deltas of the last `k` broadcasts, as measured
    /// on their real supports: per matrix kind, Σ |union of the supports| / Σ entries over the
    /// tensors of that kind the broadcasts carried (a tensor sent dense in any of them counts whole).
    /// What a client `k` broadcasts behind downloads, as fractions a catalogue model's size
    /// function can price (`Codec.payloadBytes(shapes:keptFraction:)`); `k = 1` gives the latest
    /// broadcast's own fractions. Supports of successive broadcasts overlap, so this is well below
    /// the 1 − (1 − f)^k independent supports would give.
    ///
    /// `nil` when the client downloads the dense adapter instead: `k` exceeds the broadcasts kept
    /// (`capacity`, or those recorded so far), or the codec broadcasts the full adapter. (0, 0) for
    /// `k ≤ 0`: a client in sync downloads nothing.
    public func mergedKeptFractions(behind k: Int) -> (a: Double, b: Double)? {
        guard k > 0 else { return (0, 0) }
        guard fullBroadcastBytes == nil, let merged = merged(behind: k) else { return nil }
        return fractions(merged)
    }

    /// `mergedKeptFractions(behind:)` for k = 1 … `capacity` (nil entries: the dense adapter),
    /// merging each broadcast once, newest first.
    public var mergedKeptFractionsByDepth: [(a: Double, b: Double)?] {
        guard fullBroadcastBytes == nil else { return Array(repeating: nil, count: capacity) }
        var merged: [Int: Set<UInt32>?] = [:], out: [(a: Double, b: Double)?] = []
        for entry in supports.reversed() {
            Self.merge(entry, into: &merged)
            out.append(fractions(merged))
        }
        return out + Array(repeating: nil, count: max(0, capacity - out.count))
    }

    /// Per tensor key (layer · 2 + matrix), the union of the supports of the last `behind`
    /// broadcasts (`.some(nil)`: dense in at least one of them); nil beyond the history.
    private func merged(behind: Int) -> [Int: Set<UInt32>?]? {
        guard behind <= supports.count else { return nil }
        var merged: [Int: Set<UInt32>?] = [:]
        for entry in supports.suffix(behind) { Self.merge(entry, into: &merged) }
        return merged
    }

    /// Adds one broadcast's supports to `merged`.
    private static func merge(_ entry: [Int: [UInt32]?], into merged: inout [Int: Set<UInt32>?]) {
        for (key, indices) in entry {
            if let indices, case .some(.some(var existing)) = merged[key] {
                merged[key] = nil
                existing.formUnion(indices)
                merged[key] = .some(existing)
            } else if let indices, merged[key] == nil {
                merged[key] = .some(Set(indices))
            } else {
                merged[key] = .some(nil)  // dense in some round: dense when merged
            }
        }
    }

    /// Per matrix kind, Σ kept / Σ entries over the merged tensors.
    private func fractions(_ merged: [Int: Set<UInt32>?]) -> (a: Double, b: Double) {
        var kept = [0, 0], entries = [0, 0]
        for (key, support) in merged {
            let d = shapes[key / 2].dimensions(key % 2 == 0 ? .a : .b)
            entries[key % 2] += d.rows * d.cols
            kept[key % 2] += support?.count ?? d.rows * d.cols
        }
        func fraction(_ m: Int) -> Double { entries[m] == 0 ? 1 : Double(kept[m]) / Double(entries[m]) }
        return (fraction(0), fraction(1))
    }
}
