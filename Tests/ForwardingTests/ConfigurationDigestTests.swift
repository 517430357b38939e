import Forwarding
import XCTest

final class ConfigurationDigestTests: XCTestCase {
    /// The digest every host shows: SHA-256 of the configuration text, so any byte counts.
    func testConfigurationDigestIsTheSHA256OfTheText() {
        XCTAssertEqual(
            RuntimeConfiguration.digest(of: "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertNotEqual(RuntimeConfiguration.digest(of: "instance: a\n"), RuntimeConfiguration.digest(of: "instance: a \n"))
    }
}
