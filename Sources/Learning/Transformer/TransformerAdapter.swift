import LoRA
import Numerics

/// Where an adapted projection sits: its block and which projection.
public struct TransformerAdapterSite: Sendable, Equatable {
    /// The block index.
    public let layer: Int
    /// The projection.
    public let module: TransformerModule

    /// PEFT's module name for a Llama model, e.g. `base_model.model.model.layers.0.self_attn.q_proj`.
    public var name: String { "base_model.model.model.layers.\(layer).\(module.peftPath)" }
}

/// LoRA adapters on a transformer: an ordered list of (name, A, B), layer by layer and within a
/// layer in PEFT's module order (q, k, v, o, gate, up, down), so it maps one to one onto a
/// PEFT `adapter_model.safetensors` and onto the codec's adapter type. The adapted projection is
/// `W + (alpha / r) · B · A`. Also the shape of a LoRA gradient. The tensors are the project's one
/// adapter type (`LoRAAdapter`, layers named by PEFT's module names), so the codecs, the wire format
/// and safetensors files carry them as they are.
public struct TransformerAdapter: Sendable, Equatable {
    /// Which projections, rank and alpha.
    public let lora: TransformerLoRAConfig
    /// The factors, one layer per adapted projection, in order.
    public var adapter: LoRAAdapter
    /// Where each of `adapter.layers` sits.
    public let sites: [TransformerAdapterSite]
    /// The adapted projections, in order (`adapter.layers`, in place).
    public var entries: [LoRALayer] {
        _read { yield adapter.layers }
        _modify { yield &adapter.layers }
    }
    /// `slot[layer * 7 + module index]` = the entry's index, or -1.
    let slots: [Int]

    /// PEFT's start: A Kaiming-uniform as PEFT (`U(−1/√d_in, 1/√d_in)`, as `LoRAAdapter.initialised`),
    /// drawn entry by entry, row by row from the stream `lora.init` of `seed`; B zero, so the adapted
    /// model equals the base.
    /// - Precondition: `lora.validate(for: config)` passes.
    public init(config: TransformerConfig, lora: TransformerLoRAConfig, seed: UInt64) {
        let stream = RandomStream(seed: seed, purpose: "lora.init")
        self.init(config: config, lora: lora) { shape in
            let bound = Float(1 / Double(shape.in).squareRoot())
            return Matrix(rows: lora.rank, cols: shape.in) { _, _ in Float(stream.uniform() * 2 - 1) * bound }
        }
    }

    /// All factors zero (a gradient accumulator).
    init(zeros config: TransformerConfig, lora: TransformerLoRAConfig) {
        self.init(config: config, lora: lora) { .zeros(rows: lora.rank, cols: $0.in) }
    }

    private init(config: TransformerConfig, lora: TransformerLoRAConfig, a: ((out: Int, in: Int)) -> Matrix) {
        self.lora = lora
        var layers: [LoRALayer] = [], sites: [TransformerAdapterSite] = []
        var slots = [Int](repeating: -1, count: config.layers * TransformerModule.allCases.count)
        for layer in 0..<config.layers {
            for (m, module) in TransformerModule.allCases.enumerated() where lora.targets.contains(module) {
                let shape = module.shape(config)
                let site = TransformerAdapterSite(layer: layer, module: module)
                slots[layer * TransformerModule.allCases.count + m] = layers.count
                layers.append(LoRALayer(shape: LoRALayerShape(name: site.name, inFeatures: shape.in, outFeatures: shape.out, rank: lora.rank),
                                        a: a(shape), b: .zeros(rows: shape.out, cols: lora.rank)))
                sites.append(site)
            }
        }
        adapter = LoRAAdapter(layers: layers)
        self.sites = sites
        self.slots = slots
    }

    /// The entry index of `module` in `layer`, or nil when it is not adapted.
    public func index(layer: Int, module: TransformerModule) -> Int? {
        guard let m = TransformerModule.allCases.firstIndex(of: module) else { return nil }
        let i = layer * TransformerModule.allCases.count + m
        guard i >= 0, i < slots.count, slots[i] >= 0 else { return nil }
        return slots[i]
    }

    /// The tensors as PEFT names them, in order: for each entry, `lora_A.weight` then `lora_B.weight`.
    public var namedTensors: [(name: String, tensor: Matrix)] {
        entries.flatMap { [($0.shape.tensorName(.a), $0.a), ($0.shape.tensorName(.b), $0.b)] }
    }

    /// Trainable parameters, Σ r · (d_in + d_out).
    public var parameterCount: Int { adapter.parameterCount }

    /// `self − other`, factor by factor (a client's update). - Precondition: same shapes.
    public func subtracting(_ other: TransformerAdapter) -> TransformerAdapter {
        var out = self
        out.adapter = adapter.subtracting(other.adapter)
        return out
    }

    /// Every factor buffer, A then B per entry, for optimisers.
    mutating func forEachBuffer(_ body: (_ index: Int, _ buffer: inout [Float]) -> Void) {
        for i in entries.indices {
            body(2 * i, &entries[i].a.storage)
            body(2 * i + 1, &entries[i].b.storage)
        }
    }

    /// Whether every factor is finite.
    public var isFinite: Bool { adapter.isFinite }
}
