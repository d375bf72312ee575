/// The configuration `outpost run` uses when given none: simulated greenhouse sensors with injected faults plus
/// the host's own health, tuned so a newcomer sees readings at once and alerts within a minute.
package enum BuiltInConfiguration {
    package static let origin = "built-in default"

    package static let text = """
    # Outpost's built-in default: demo sensors plus host health, no hardware needed.
    # Print it with `outpost check --show-default`; copy it to start your own config.

    [log]
    readings_interval = "10s"

    [detect]
    warmup = 30            # learn 30 samples (30 s at 1 Hz) before alerting
    quiet_period = "10s"
    level_shift_after = "2m"

    # A workstation's CPU, memory and network are bursty by nature; watch them with thresholds instead.
    [[detect.override]]
    series = "system.*"
    enabled = false

    [[detect.threshold]]
    series = "system.filesystem.utilization"
    above = 0.95
    name = "disk almost full"

    [[detect.threshold]]
    series = "outpost.rpi.under_voltage"
    above = 0.5
    severity = "error"
    name = "under-voltage"

    [[detect.threshold]]
    series = "demo.*.battery"
    below = 20.0
    hysteresis = 2.0
    name = "battery low"

    [input.host]
    interval = "10s"

    # Air temperature: a slow sine with noise; a 3 s spike of +2.5 °C at 35 s and every 2 minutes after.
    [[input.simulated]]
    name = "demo.greenhouse.temperature"
    unit = "Cel"
    sensor_id = "sim-temp-1"
    location = "greenhouse"
    signal = "sine"
    base = 22.0
    amplitude = 1.0
    period = "1h"
    noise = 0.08
    resolution = 0.0625
    interval = "1s"
    seed = 7

    [[input.simulated.inject]]
    kind = "spike"
    at = "35s"
    every = "2m"
    duration = "3s"
    size = 2.5

    # Relative humidity: a random walk that drops 6 % for good at 75 s (accepted as the new normal after 2 min);
    # it also stops reporting for 10 s at 3 min, which the staleness rule notices.
    [[input.simulated]]
    name = "demo.greenhouse.humidity"
    unit = "%"
    sensor_id = "sim-hum-1"
    location = "greenhouse"
    signal = "random_walk"
    base = 62.0
    step = 0.01
    noise = 0.15
    interval = "1s"
    seed = 12

    # A per-sensor override: a wandering series gets a wider band than [detect]'s default.
    [input.simulated.detect]
    sigma = 3.5

    [[input.simulated.inject]]
    kind = "level_shift"
    at = "75s"
    size = -6.0

    [[input.simulated.inject]]
    kind = "dropout"
    at = "3m"
    duration = "10s"

    # A battery-powered node draining past the 20 % threshold at 50 s.
    [[input.simulated]]
    name = "demo.node1.battery"
    unit = "%"
    sensor_id = "sim-node-1"
    signal = "constant"
    base = 24.0
    noise = 0.05
    interval = "5s"
    seed = 3

    [input.simulated.detect]
    enabled = false

    [[input.simulated.inject]]
    kind = "level_shift"
    at = "50s"
    size = -7.0
    """
}
