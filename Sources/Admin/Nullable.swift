/// An optional field written as `null` rather than left out. The key is part of the
/// document's shape: scripts and the dashboard test `x === null` (or Python's `is None`)
/// and would read a missing key as a different, older document.
///
/// Reading, a missing key and `null` are the same: nothing.
@propertyWrapper
public struct Nullable<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// A missing key is `nil` too (what synthesized `Decodable` would otherwise refuse).
    public func decode<Value>(_ type: Nullable<Value>.Type, forKey key: Key) throws -> Nullable<Value> {
        try decodeIfPresent(type, forKey: key) ?? Nullable(wrappedValue: nil)
    }

    /// The value at `key`, or `fallback` when the key is missing or `null`. The stats models
    /// read with it: a saved file or a reply from an older edgesplit lacks the figures added
    /// since, and shows them as zero rather than being refused as a whole.
    func value<Value: Decodable>(_ key: Key, or fallback: Value) throws -> Value {
        try decodeIfPresent(Value.self, forKey: key) ?? fallback
    }
}
