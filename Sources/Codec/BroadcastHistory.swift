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
        guard behind <= supports.count else { return dense }
        var merged: [Int: Set<UInt32>?] = [:]
        for entry in supports.suffix(behind) {
            for (key, indices) in entry {
                if let indices, case .some(.some(let existing)) = merged[key] {
                    merged[key] = .some(existing.union(indices))
                } else if let indices, merged[key] == nil {
                    merged[key] = .some(Set(indices))
                } else {
                    merged[key] = .some(nil)  // dense in some round: dense when merged
                }
            }
        }
        let plan = merged.keys.sorted().map { key -> TensorPlan in
            let layer = key / 2, matrix: LoRAMatrix = key % 2 == 0 ? .a : .b
            let d = shapes[layer].dimensions(matrix)
            let kept = (merged[key] ?? nil)?.count ?? d.rows * d.cols
            return TensorPlan(layer: layer, matrix: matrix, rows: d.rows, cols: d.cols, kept: kept)
        }
        return min(type(of: codec).messageBytes(plan, valueType: codec.options.valueType), dense)
    }
}
