/// One field line as two ranges into the head's storage. Names keep their received case and
/// values their received bytes, OWS around the value trimmed (RFC 9112 §5.1): a proxy forwards
/// what it got, it does not rewrite it.
public struct HeaderField: Sendable, Hashable {
    public var name: Range<Int>
    public var value: Range<Int>

    public init(name: Range<Int>, value: Range<Int>) {
        self.name = name
        self.value = value
    }
}

/// A field line viewed as byte slices of the head's storage (no copy).
public struct HTTPHeader: Sendable, Hashable {
    public let name: ArraySlice<UInt8>
    public let value: ArraySlice<UInt8>
}

/// The field lines of a head, in received order, duplicates kept as separate entries
/// (Set-Cookie cannot be combined, RFC 9110 §5.3).
public struct HTTPHeaders: Sendable, Hashable, RandomAccessCollection {
    /// The whole head as received; every ``HeaderField`` range points into it.
    public let storage: [UInt8]
    public let fields: [HeaderField]

    public init(storage: [UInt8], fields: [HeaderField]) {
        self.storage = storage
        self.fields = fields
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { fields.count }

    public subscript(position: Int) -> HTTPHeader {
        let f = fields[position]
        return HTTPHeader(name: storage[f.name], value: storage[f.value])
    }

    @inlinable
    func nameMatches(_ i: Int, _ name: String) -> Bool {
        ASCII.equalsCaseInsensitive(storage[fields[i].name], name)
    }

    /// The value of the first field named `name` (compared case-insensitively).
    public func firstValue(_ name: String) -> [UInt8]? {
        for i in fields.indices where nameMatches(i, name) {
            return Array(storage[fields[i].value])
        }
        return nil
    }

    /// The values of all fields named `name`, in order.
    public func values(_ name: String) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for i in fields.indices where nameMatches(i, name) {
            out.append(Array(storage[fields[i].value]))
        }
        return out
    }

    /// Whether a field named `name` has a value for which `predicate` holds; the values are
    /// viewed in place, not copied.
    public func containsValue(_ name: String, where predicate: (ArraySlice<UInt8>) -> Bool) -> Bool {
        for i in fields.indices where nameMatches(i, name) && predicate(storage[fields[i].value]) { return true }
        return false
    }

    /// Whether a field named `name` is present.
    public func contains(_ name: String) -> Bool {
        fields.indices.contains { nameMatches($0, name) }
    }
}
