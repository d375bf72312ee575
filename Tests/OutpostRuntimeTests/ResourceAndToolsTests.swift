import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

@Suite("OTLP resource attributes")
struct ResourceAttributeTests {
    @Test("defaults < [resource] < OTEL_RESOURCE_ATTRIBUTES < OTEL_SERVICE_NAME")
    func precedence() throws {
        let configuration = try OutpostConfiguration.parse("""
            [gateway]
            id = "gw-1"
            [resource]
            site = "north"
            "deployment.environment.name" = "staging"
            [[input.simulated]]
            name = "a"
            """, file: "t.toml", environment: [
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod, team=ops%20east,broken",
                "OTEL_SERVICE_NAME": "greenhouse-agent",
            ])
        let resource = configuration.resource
        #expect(resource["service.name"] == .string("greenhouse-agent"))
        #expect(resource["service.version"] == .string(OutpostVersion.current))
        #expect(resource["outpost.gateway.id"] == .string("gw-1"))
        #expect(resource["os.type"] == .string("linux"))
        #expect(resource["host.arch"] != nil)
        #expect(resource["site"] == .string("north"))
        #expect(resource["deployment.environment.name"] == .string("prod"))
        #expect(resource["team"] == .string("ops east"))
        #expect(resource["broken"] == nil)
    }
}

@Suite("Batch limits across uplinks")
struct BatchLimitTests {
    @Test("the batcher splits to fit the smallest uplink's max_batch_bytes")
    func smallestLimitWins() throws {
        let configuration = try OutpostConfiguration.parse("""
            [batch]
            max_bytes = "512KiB"
            [[uplink.otlp_http]]
            name = "big"
            [[uplink.otlp_http]]
            name = "small"
            max_batch_bytes = "64KiB"
            [[input.simulated]]
            name = "a"
            """, file: "t.toml", environment: [:])
        #expect(configuration.batch.maxBytes == 64 * 1024)
        #expect(configuration.uplinks.map(\.name) == ["big", "small"])
    }

    @Test("two uplinks with one name are a config error")
    func uniqueNames() {
        #expect(throws: ConfigErrors.self) {
            try OutpostConfiguration.parse("""
                [[uplink.otlp_http]]
                name = "x"
                [[uplink.otlp_http]]
                name = "x"
                [[input.simulated]]
                name = "a"
                """, file: "t.toml", environment: [:])
        }
    }
}
