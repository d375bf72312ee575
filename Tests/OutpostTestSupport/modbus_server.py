"""A real Modbus server (pymodbus) with a known register map, for Outpost's tests and benchmarks.

    modbus_server.py tcp PORT [options]            PORT 0: a free port, printed on the first line of stdout
    modbus_server.py rtu DEVICE BAUD PARITY [options]

Options:
    --units 1,2          unit ids served (default 1); any other id gets no answer (rtu) or exception 0x0B (tcp)
    --exception FC:ADDR:CODE   answer function FC at address ADDR with exception CODE (repeatable)
    --delay SECONDS      answer every request this late
    --count-requests     print one line "request UNIT FC ADDR COUNT [PORT]" per request on stdout
    --devices N          benchmark: N servers on free ports (printed comma-separated on the first line), each with
                         units 1 and 2 holding 20 float32 (ABCD) in registers 0..39

The test map (every unit), encoded here with struct.pack, independently of Outpost's decoder:
    holding 0      uint16  51234            holding 1       int16   -1234
    holding 2-3    uint32  3000000000 ABCD  holding 4-5     int32   -123456789 CDAB
    holding 6-7    float32 21.5 ABCD        holding 8-9     float32 -3.25 CDAB
    holding 10-11  float32 1013.25 BADC     holding 12-13   float32 0.125 DCBA
    holding 14-17  int64   -9000000000 ABCD holding 18-21   uint64  12345678901 DCBA
    holding 22-25  float64 2.718281828 ABCD holding 26-29   float64 -1234.5678 CDAB
    holding 30-33  float64 6.02e23 BADC     holding 34-37   float64 -0.001 DCBA
    holding 38     0x0024 (bits 2 and 5)    holding 40      int16   -2 BADC
    holding 100-101 float32 230.5 (41-99 do not exist: a read touching them gets exception 0x02)
    input          the Eastron SDM120 map, float32 ABCD (see SDM120 below)
    coils 0-7      1 0 1 1 0 0 0 1          discrete 0-3    0 1 0 1
"""
import argparse
import asyncio
import socket
import struct
import sys

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

FORMATS = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f",
           "int64": ">q", "uint64": ">Q", "float64": ">d"}


def words(kind, value, order="ABCD"):
    """The registers of `value` as a device with byte and word order `order` sends them."""
    raw = struct.pack(FORMATS[kind], value)
    registers = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if order in ("CDAB", "DCBA"):
        registers.reverse()
    if order in ("BADC", "DCBA"):
        registers = [r[::-1] for r in registers]
    return [int.from_bytes(r, "big") for r in registers]


def test_holding():
    table = {}

    def put(address, kind, value, order="ABCD"):
        for offset, word in enumerate(words(kind, value, order)):
            table[address + offset] = word

    put(0, "uint16", 51234)
    put(1, "int16", -1234)
    put(2, "uint32", 3000000000)
    put(4, "int32", -123456789, "CDAB")
    put(6, "float32", 21.5)
    put(8, "float32", -3.25, "CDAB")
    put(10, "float32", 1013.25, "BADC")
    put(12, "float32", 0.125, "DCBA")
    put(14, "int64", -9000000000)
    put(18, "uint64", 12345678901, "DCBA")
    put(22, "float64", 2.718281828)
    put(26, "float64", -1234.5678, "CDAB")
    put(30, "float64", 6.02e23, "BADC")
    put(34, "float64", -0.001, "DCBA")
    table[38] = 0x0024
    table[39] = 0
    put(40, "int16", -2, "BADC")
    put(100, "float32", 230.5)
    return [SimData(address, values=word, datatype=DataType.REGISTERS) for address, word in sorted(table.items())]


# The Eastron SDM120 map (input registers, float32 ABCD): unused addresses up to 79 read 0; 80-341 do not exist.
SDM120 = ((0x00, 230.1), (0x06, 14.2), (0x0C, 3266.4), (0x12, 3290.0), (0x18, 400.0), (0x1E, 0.993),
          (0x24, 7.0), (0x46, 50.0), (0x48, 1234.5), (0x4A, 12.25), (0x4C, 300.5), (0x4E, 3.5), (0x156, 1246.75),
          (0x158, 304.0))


def test_input():
    table = {address: 0 for address in range(0, 80)}
    for address, value in SDM120:
        for offset, word in enumerate(words("float32", value)):
            table[address + offset] = word
    return [SimData(address, values=word, datatype=DataType.REGISTERS) for address, word in sorted(table.items())]


def bench_holding():
    values = []
    for index in range(20):
        values += words("float32", 20.0 + index * 0.5)
    return [SimData(0, values=values, datatype=DataType.REGISTERS)]


def bits(address, pattern):
    return [SimData(address + i, values=bool(bit), datatype=DataType.BITS) for i, bit in enumerate(pattern)]


def device(unit, args, holding, inputs, tag=""):
    async def action(function_code, start_address, address, count, registers, set_values):
        if args.count_requests:
            print(f"request {unit} {function_code} {address} {count}{tag}", flush=True)
        if args.delay:
            await asyncio.sleep(args.delay)
        for fc, at, code in args.exception:
            if fc == function_code and address <= at < address + count:
                return ExcCodes(code)
        return None

    coils = bits(0, [1, 0, 1, 1, 0, 0, 0, 1])
    discrete = bits(0, [0, 1, 0, 1])
    return SimDevice(id=unit, simdata=(coils, discrete, holding, inputs), action=action)


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["tcp", "rtu"])
    parser.add_argument("where")
    parser.add_argument("baud", nargs="?", type=int, default=19200)
    parser.add_argument("parity", nargs="?", default="N")
    parser.add_argument("--units", default="1")
    parser.add_argument("--exception", action="append", default=[],
                        type=lambda text: tuple(int(part, 0) for part in text.split(":")))
    parser.add_argument("--delay", type=float, default=0)
    parser.add_argument("--count-requests", action="store_true")
    parser.add_argument("--devices", type=int, default=0)
    return parser.parse_args()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def bench(args):
    servers, ports = [], []
    for _ in range(args.devices):
        port = free_port()
        devices = [device(unit, args, bench_holding(), test_input(), tag=f" {port}") for unit in (1, 2)]
        servers.append(ModbusTcpServer(devices, framer=FramerType.SOCKET, address=("127.0.0.1", port)))
        ports.append(port)
    print(",".join(map(str, ports)), flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


async def main():
    args = parse()
    if args.devices:
        await bench(args)
        return
    devices = [device(int(unit), args, test_holding(), test_input()) for unit in args.units.split(",")]
    if args.transport == "tcp":
        port = int(args.where) or free_port()
        server = ModbusTcpServer(devices, framer=FramerType.SOCKET, address=("127.0.0.1", port))
        print(port, flush=True)
    else:
        # A unit id no device has gets no answer at all, as on a real RS-485 bus (pymodbus would answer for it
        # with exception 0x04): its answer is dropped on the way out.
        served = {device.id for device in devices}

        def only_served_units(sending, packet):
            return b"" if sending and packet and packet[0] not in served else packet

        server = ModbusSerialServer(devices, framer=FramerType.RTU, port=args.where, baudrate=args.baud,
                                    parity=args.parity, stopbits=1, bytesize=8, trace_packet=only_served_units)
        print(args.where, flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
