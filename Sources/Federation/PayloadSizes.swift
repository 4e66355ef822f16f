import Codec
import Foundation
import LoRA

/// The bytes an arm's messages take on the scenario's modelled model, from the codec's exact size
/// function (no tensors are built).
///
/// A client `k` broadcasts behind catches up with the merged sparse deltas, or the dense adapter if
/// that is smaller or `k` exceeds the codec's history (`history_rounds`); codecs whose broadcast is
/// the full adapter (`lora`, `ffa-lora`) cost their broadcast whatever `k`. A client in sync
/// (`k = 0`, e.g. everyone in the first round, when the initial adapter is known) downloads nothing.
///
/// The merged deltas are priced at the merged kept fractions `BroadcastHistory` measures on the
/// proxy's real broadcasts when the run trains (|union of the last k supports| / entries, per
/// matrix kind: successive supports overlap); only where nothing is measured (time-only runs) at
/// 1 − (1 − f)^k, the supports of successive broadcasts taken as independent — an upper bound in
/// practice.
public struct PayloadSizes: Sendable {
    public let upload: Int
    /// The full dense adapter as a broadcast.
    public let dense: Int
    /// Index k − 1: bytes to catch up k broadcasts, for k = 1 … history (+1).
    private let catchUp: [Int]

    /// Sizes at `keptFraction` (default: the codec's nominal 1 − α; a run with training passes the
    /// fractions measured on the proxy's real messages). `mergedKept`, when given, holds for
    /// k = 1, 2, … the measured merged kept fractions of the last k broadcasts
    /// (`BroadcastHistory.mergedKeptFractionsByDepth`; nil: the client downloads the dense adapter);
    /// without it, k broadcasts are priced at 1 − (1 − f)^k.
    public init(codec: any Codec, shapes: [LoRALayerShape], keptFraction: KeptFraction? = nil,
                mergedKept: [(a: Double, b: Double)?]? = nil) {
        let nominal = keptFraction ?? KeptFraction.nominal(codec.options)
        let sizes = codec.payloadBytes(shapes: shapes, keptFraction: nominal)
        upload = sizes.upload
        let denseBytes = codec.denseAdapterBytes(shapes: shapes)
        dense = denseBytes
        let full = codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: nominal.uploadA, uploadB: nominal.uploadB, downloadA: 1, downloadB: 1)).download
        if full == sizes.download {
            catchUp = [sizes.download]   // a full broadcast: the same whatever k
        } else {
            let history = max(1, codec.options.historyRounds)
            catchUp = (1...history).map { k in
                let f: (a: Double, b: Double)
                if let mergedKept {
                    guard k <= mergedKept.count, let measured = mergedKept[k - 1] else { return denseBytes }
                    f = measured
                } else {
                    f = (1 - pow(1 - nominal.downloadA, Double(k)), 1 - pow(1 - nominal.downloadB, Double(k)))
                }
                let merged = codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: nominal.uploadA, uploadB: nominal.uploadB,
                                                                                           downloadA: f.a, downloadB: f.b)).download
                return min(merged, denseBytes)
            } + [denseBytes]
        }
    }

    /// Bytes to download for a client `k` broadcasts behind.
    public func download(stale k: Int) -> Int {
        if k <= 0 { return 0 }
        return catchUp[min(k, catchUp.count) - 1]
    }

    /// Download bytes one round behind.
    public var inSync: Int { download(stale: 1) }
}
