import OutpostCore
import Testing
@testable import OutpostRuntime

@Suite("Config errors name file:line:column and the key path")
struct ConfigErrorTests {
    func errors(_ toml: String, environment: [String: String] = [:]) -> [ConfigError] {
        do {
            _ = try OutpostConfiguration.parse(toml, file: "outpost.toml", environment: environment)
            return []
        } catch let errors as ConfigErrors {
            return errors.errors
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    let validInput = """
        [[input.simulated]]
        name = "a"

        """

    @Test("a syntax error carries TOML's own line and column")
    func syntax() throws {
        let found = errors("[detect]\nsigma = = 3\n")
        let error = try #require(found.first)
        #expect(error.code == .syntax)
        #expect(error.location?.line == 2)
        #expect(error.location?.column ?? 0 > 1)
    }

    @Test("a typo in a key is an unknown key at its line and column, with a suggestion")
    func unknownKey() throws {
        let found = errors(validInput + """
            [[input.file]]
            name = "soil"
              pth = "/sys/bus/w1/devices/28-1/w1_slave"
            """)
        #expect(found.count == 2, "the typo, and the then-missing `path`")
        let typo = try #require(found.first { $0.code == .unknownKey })
        #expect(typo.location == ConfigLocation(file: "outpost.toml", line: 5, column: 3))
        #expect(typo.path?.description == "input.file[#1].pth")
        #expect(typo.message.contains("did you mean `path`?"))
        #expect(typo.description.hasPrefix("outpost.toml:5:3: error[unknown-key]: input.file[#1].pth: "))
    }

    @Test("a wrong type says what was expected and found, and is not called missing")
    func wrongType() throws {
        let found = errors(validInput + """
            [detect]
            sigma = "three"
            """)
        let error = try #require(found.first)
        #expect(error.code == .wrongType)
        #expect(error.message == "expected a number, found a string")
        #expect(error.location?.line == 4)
    }

    @Test("an integer is accepted where a number or a duration is expected")
    func integersAccepted() {
        #expect(errors(validInput + "interval = 30\n[detect]\nsigma = 3\nquiet_period = 30\n").isEmpty)
    }

    @Test("bad values: durations, sizes, choices, ranges")
    func invalidValues() throws {
        let found = errors("""
            [detect]
            quiet_period = "5 parsecs"
            method = "median"
            resolve_sigma = 9.0

            [[input.simulated]]
            name = "a"
            interval = "-1s"
            """)
        #expect(found.map(\.code) == [.invalidValue, .invalidValue, .invalidValue, .invalidValue])
        #expect(found.map { $0.location?.line ?? 0 } == [2, 3, 4, 8])
        #expect(found[0].message.contains("not a duration"))
        #expect(found[1].message.contains("\"ewma\", \"window\""))
        #expect(found[3].path?.description == "input.simulated[#1].interval")
    }

    @Test("a missing required key names the table and what to add")
    func missingKey() throws {
        let found = errors("[[input.file]]\nname = \"x\"\n")
        let error = try #require(found.first)
        #expect(error.code == .missingKey)
        #expect(error.location?.line == 1)
        #expect(error.message.contains("`path`"))
    }

    @Test("${VAR} expands; an unset variable is an error naming it; ${VAR:-default} falls back")
    func environment() throws {
        let toml = """
            [gateway]
            id = "${SITE}-${NODE:-01}"
            state_dir = "${MISSING}"

            [[input.simulated]]
            name = "a"
            """
        let found = errors(toml, environment: ["SITE": "farm"])
        #expect(found.count == 1)
        #expect(found.first?.code == .undefinedVariable)
        #expect(found.first?.message.contains("`MISSING`") == true)
        #expect(found.first?.location?.line == 3)
        let configuration = try OutpostConfiguration.parse(
            toml, file: "x.toml", environment: ["SITE": "farm", "NODE": "7", "MISSING": "/srv/outpost"])
        #expect(configuration.gateway.id == "farm-7")
        #expect(configuration.gateway.stateDirectory == "/srv/outpost")
    }

    @Test("several errors are reported together, in file order")
    func severalAtOnce() {
        let found = errors("""
            [gatway]
            id = "x"

            [detect]
            sigma = -1
            windw = 10

            [[input.simulated]]
            name = "a"
            signal = "square"
            """)
        #expect(found.count == 4)
        #expect(found.map { $0.location?.line ?? 0 } == [1, 5, 6, 10])
    }

    @Test("keys in a per-sensor detect table are checked too")
    func perSensorDetect() throws {
        let found = errors("""
            [[input.simulated]]
            name = "a"
              [input.simulated.detect]
              sigmaa = 4
            """)
        let error = try #require(found.first)
        #expect(error.path?.description == "input.simulated[#1].detect.sigmaa")
        #expect(error.location == ConfigLocation(file: "outpost.toml", line: 4, column: 3))
    }

    @Test("an unknown input kind is an unknown key under [input]")
    func unknownKind() {
        let found = errors(validInput + "[[input.nosuchkind]]\nname = \"x\"\n")
        #expect(found.first?.code == .unknownKey)
        #expect(found.first?.path?.description == "input.nosuchkind")
    }

    @Test("no inputs at all is an error that lists the kinds")
    func noInputs() {
        let found = errors("[detect]\nsigma = 3\n")
        #expect(found.first?.message.contains("host, file, exec, simulated, replay") == true)
    }
}

@Suite("Config quantities")
struct ConfigQuantitiesTests {
    @Test("durations", arguments: [
        ("250ms", Duration.milliseconds(250)), ("5s", .seconds(5)), ("1m30s", .seconds(90)), ("2h", .seconds(7200)),
        ("1.5s", .milliseconds(1500)), ("7d", .seconds(604_800)),
    ])
    func durations(text: String, expected: Duration) {
        #expect(ConfigQuantities.duration(text) == expected)
    }

    @Test("sizes", arguments: [("64MiB", Int64(67_108_864)), ("512KB", 512_000), ("4096", 4096), ("1GiB", 1 << 30)])
    func sizes(text: String, expected: Int64) {
        #expect(ConfigQuantities.size(text) == expected)
    }

    @Test("nonsense is rejected", arguments: ["", "5", "s", "5 parsecs", "1m-3s"])
    func rejects(text: String) {
        #expect(ConfigQuantities.duration(text) == nil)
    }
}

@Suite("Every config error kind has a line and a column")
struct ConfigErrorLocationTests {
    @Test("error kind at its exact position", arguments: [
        ("[detect]\nsigma = = 3\n", ConfigError.Code.syntax, 2, 9),
        ("[[input.simulated]]\nname = \"a\"\n  noize = 1\n", .unknownKey, 3, 3),
        ("[[input.simulated]]\nname = \"a\"\n  base = \"warm\"\n", .wrongType, 3, 3),
        ("[[input.simulated]]\nname = \"a\"\n\n[[input.file]]\nname = \"x\"\n", .missingKey, 4, 1),
        ("[[input.simulated]]\nname = \"a\"\n    interval = \"soon\"\n", .invalidValue, 3, 5),
        ("[gateway]\n  id = \"${NOPE}\"\n[[input.simulated]]\nname = \"a\"\n", .undefinedVariable, 2, 3),
    ])
    func located(toml: String, code: ConfigError.Code, line: Int, column: Int) throws {
        do {
            _ = try OutpostConfiguration.parse(toml, file: "site.toml", environment: [:])
            Issue.record("expected \(code)")
        } catch let errors as ConfigErrors {
            let error = try #require(errors.errors.first)
            #expect(error.code == code)
            #expect(error.location == ConfigLocation(file: "site.toml", line: line, column: column), "\(error)")
            #expect(error.description.hasPrefix("site.toml:\(line):\(column): error[\(code.rawValue)]"))
        }
    }
}
