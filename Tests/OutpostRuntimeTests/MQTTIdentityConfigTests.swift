import Foundation
import OutpostCore
import OutpostTestSupport
import Testing

@testable import OutpostRuntime

@Suite("MQTT identity: client ids clones cannot share, topics devices cannot break")
struct MQTTIdentityConfigTests {
    func files(_ machineID: String, serial: String?) throws -> [String] {
        let folder = try temporaryStateDirectory()
        try "\(machineID)\n".write(toFile: folder + "/machine-id", atomically: true, encoding: .utf8)
        var paths = [folder + "/machine-id"]
        if let serial {
            try "\(serial)\u{0}".write(toFile: folder + "/serial-number", atomically: true, encoding: .utf8)
            paths.append(folder + "/serial-number")
        }
        return paths
    }

    @Test("two gateways with one host name (a cloned card) get different default client ids from their board serials")
    func clonesDiffer() throws {
        let clone = "0f3c9e0b5d2a4f6e8a1b2c3d4e5f6a7b"
        let first = try #require(MachineIdentity.suffix(files: try files(clone, serial: "10000000a1b2c3d4")))
        let second = try #require(MachineIdentity.suffix(files: try files(clone, serial: "10000000e5f60718")))
        #expect(first != second)
        #expect(first.count == 8 && second.count == 8)
        #expect(MachineIdentity.suffix(files: try files(clone, serial: "10000000a1b2c3d4")) == first, "stable")
        #expect(MQTTConfiguration.defaultClientID(gateway: "raspberrypi", machine: first)
            == "outpost-raspberrypi-\(first)")
        #expect(MachineIdentity.suffix(files: ["/nonexistent/machine-id"]) == nil)
    }

    @Test("the default client id carries this machine's suffix; client_id and max_packet_size are read")
    func configured() throws {
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            id = "gw"
            [mqtt.brokers.a]
            url = "mqtt://127.0.0.1:1883"
            [mqtt.brokers.b]
            url = "mqtt://127.0.0.1:1884"
            client_id = "mine"
            max_packet_size = "2KiB"
            [[input.simulated]]
            name = "x"
            """, file: "t.toml", environment: [:])
        #expect(configuration.mqtt.brokers["a"]?.clientID
            == MQTTConfiguration.defaultClientID(gateway: "gw", machine: MachineIdentity.suffix()))
        #expect(configuration.mqtt.brokers["b"]?.clientID == "mine")
        #expect(configuration.mqtt.brokers["b"]?.maximumPacketSize == 2048)
        #expect(configuration.mqtt.brokers["a"]?.maximumPacketSize == nil)
    }

    @Test("a gateway id or topic template holding MQTT wildcards or control characters is a config error",
          arguments: ["[gateway]\nid = \"gw+1\"", "[mqtt]\ntopic_prefix = \"a/#\"",
                      "[alerts]\nmqtt_topic = \"x/{series}/+\""])
    func invalidTopicParts(toml: String) {
        #expect(throws: ConfigErrors.self) {
            try OutpostConfiguration.parse(toml + "\n[[input.simulated]]\nname = \"x\"\n", file: "t.toml",
                                           environment: [:])
        }
    }
}
