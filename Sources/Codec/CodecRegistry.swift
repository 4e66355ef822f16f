/// The codecs FedSim knows, by name. A new codec is one file plus one line here.
public enum CodecRegistry {
    /// Every codec, in the order listings show them.
    public static let all: [any Codec.Type] = [
        LoRACodec.self,
        FedSRDCodec.self,
        FedSRDECodec.self,
        TopKCodec.self,
        FFALoRACodec.self,
    ]

    /// Names of all codecs.
    public static var names: [String] { all.map { $0.name } }

    /// The codec called `name`, configured with `options`.
    public static func make(_ name: String, options: CodecOptions = CodecOptions()) throws -> any Codec {
        guard let type = all.first(where: { $0.name == name }) else { throw CodecError.unknownCodec(name, valid: names) }
        return type.init(options: options)
    }
}
