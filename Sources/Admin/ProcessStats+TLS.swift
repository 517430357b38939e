extension ProcessStats {
    /// One certificate a listener serves: whose it is, when it expires, who signs with its
    /// key and its OCSP staple.
    public struct Certificate: Codable, Sendable, Equatable {
        public var listener: String
        public var subject: String
        public var names: [String] = []
        /// ISO 8601.
        public var notValidAfter: String = ""
        public var daysLeft: Int = 0
        /// `BoringSSL`, or the host's OpenSSL for RSA keys.
        public var signer: String = ""
        /// `none` (no OCSP file), `stapled`, or why no staple is sent.
        public var ocsp: String = "none"
        /// ISO 8601, empty without a staple.
        public var ocspNextUpdate: String = ""

        enum CodingKeys: String, CodingKey {
            case listener, subject, names, signer, ocsp
            case notValidAfter = "not_valid_after", daysLeft = "days_left", ocspNextUpdate = "ocsp_next_update"
        }

        public init(listener: String, subject: String) {
            (self.listener, self.subject) = (listener, subject)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            listener = try c.value(.listener, or: "?")
            subject = try c.value(.subject, or: "?")
            names = try c.value(.names, or: [])
            notValidAfter = try c.value(.notValidAfter, or: "")
            daysLeft = try c.value(.daysLeft, or: 0)
            signer = try c.value(.signer, or: "")
            ocsp = try c.value(.ocsp, or: "none")
            ocspNextUpdate = try c.value(.ocspNextUpdate, or: "")
        }
    }

    /// One TLS listener's handshakes, summed over its certificates and the workers.
    public struct ListenerTLS: Codable, Sendable, Equatable {
        public var listener: String
        public var handshakes: UInt64
        public var resumed: UInt64
        /// resumed / handshakes, 0 before the first handshake.
        public var resumptionRate: Double

        enum CodingKeys: String, CodingKey {
            case listener, handshakes, resumed
            case resumptionRate = "resumption_rate"
        }

        public init(listener: String, handshakes: UInt64, resumed: UInt64, resumptionRate: Double) {
            (self.listener, self.handshakes, self.resumed, self.resumptionRate) = (listener, handshakes, resumed, resumptionRate)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            listener = try c.value(.listener, or: "?")
            handshakes = try c.value(.handshakes, or: 0)
            resumed = try c.value(.resumed, or: 0)
            resumptionRate = try c.value(.resumptionRate, or: 0)
        }
    }

    /// Session ticket keys: how often they rotate and how old the current one is.
    public struct SessionTickets: Codable, Sendable, Equatable {
        public var rotations: Int
        public var currentKeyAgeSeconds: Double
        public var rotateSeconds: Double

        enum CodingKeys: String, CodingKey {
            case rotations
            case currentKeyAgeSeconds = "current_key_age_seconds", rotateSeconds = "rotate_seconds"
        }

        public init(rotations: Int, currentKeyAgeSeconds: Double, rotateSeconds: Double) {
            (self.rotations, self.currentKeyAgeSeconds, self.rotateSeconds) = (rotations, currentKeyAgeSeconds, rotateSeconds)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rotations = try c.value(.rotations, or: 0)
            currentKeyAgeSeconds = try c.value(.currentKeyAgeSeconds, or: 0)
            rotateSeconds = try c.value(.rotateSeconds, or: 0)
        }
    }
}
