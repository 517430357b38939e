extension ProcessStats {
    /// One L4 route (TLS passed through to a farm by SNI): connections, and the bytes the
    /// kernel spliced or userspace copied.
    public struct L4Route: Codable, Sendable, Equatable {
        public var name: String
        public var listener: String
        public var farm: String
        public var connections: UInt64 = 0
        public var active: Int = 0
        public var spliced: UInt64 = 0
        /// Connections copied in userspace although splicing was on.
        public var fallbacks: UInt64 = 0
        public var splicedBytesToMember: UInt64 = 0
        public var splicedBytesToClient: UInt64 = 0
        public var copiedBytes: UInt64 = 0
        public var memberFailures: UInt64 = 0
        public var noMember: UInt64 = 0
        public var idleClosed: UInt64 = 0

        enum CodingKeys: String, CodingKey {
            case name, listener, farm, connections, active, spliced, fallbacks
            case splicedBytesToMember = "spliced_bytes_to_member", splicedBytesToClient = "spliced_bytes_to_client"
            case copiedBytes = "copied_bytes", memberFailures = "member_failures", noMember = "no_member", idleClosed = "idle_closed"
        }

        public init(name: String, listener: String, farm: String) {
            (self.name, self.listener, self.farm) = (name, listener, farm)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.value(.name, or: "?")
            listener = try c.value(.listener, or: "?")
            farm = try c.value(.farm, or: "?")
            connections = try c.value(.connections, or: 0)
            active = try c.value(.active, or: 0)
            spliced = try c.value(.spliced, or: 0)
            fallbacks = try c.value(.fallbacks, or: 0)
            splicedBytesToMember = try c.value(.splicedBytesToMember, or: 0)
            splicedBytesToClient = try c.value(.splicedBytesToClient, or: 0)
            copiedBytes = try c.value(.copiedBytes, or: 0)
            memberFailures = try c.value(.memberFailures, or: 0)
            noMember = try c.value(.noMember, or: 0)
            idleClosed = try c.value(.idleClosed, or: 0)
        }
    }
}
