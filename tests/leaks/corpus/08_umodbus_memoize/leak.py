"""A Modbus server that memoizes every request PDU it has decoded.

Rebuilt from AdvancedClimateSystems/uModbus#129: ``umodbus.utils.memoize`` keeps
results in a dict in the decorator's closure, and it decorated the functions
that build a ModbusFunction from a PDU. A server receiving frequent, varying
requests (other addresses, other values) cached one decoded function object per
distinct PDU and never expired any of them.
"""

import functools
import itertools
import struct


def memoize(f):
    """Cache results of ``f`` by its arguments (uModbus's helper)."""
    cache = {}

    @functools.wraps(f)
    def wrapper(*args):
        if args not in cache:
            cache[args] = f(*args)
        return cache[args]

    return wrapper


class ModbusFunction:
    function_code = None


class ReadHoldingRegisters(ModbusFunction):
    function_code = 3

    def __init__(self, starting_address, quantity):
        self.starting_address = starting_address
        self.quantity = quantity
        self.data = [0] * quantity


class WriteMultipleRegisters(ModbusFunction):
    function_code = 16

    def __init__(self, starting_address, values):
        self.starting_address = starting_address
        self.values = list(values)


@memoize
def create_function_from_request_pdu(pdu):
    function_code = pdu[0]
    if function_code == 3:
        start, quantity = struct.unpack(">HH", pdu[1:5])
        return ReadHoldingRegisters(start, quantity)
    if function_code == 16:
        start, quantity, _ = struct.unpack(">HHB", pdu[1:6])
        values = struct.unpack(">%dH" % quantity, pdu[6:6 + 2 * quantity])
        return WriteMultipleRegisters(start, values)
    raise ValueError(function_code)


def handle_request(pdu):
    function = create_function_from_request_pdu(pdu)
    return type(function).__name__, function.starting_address


_ticks = itertools.count()


def request(i):
    """A SCADA client writes a setpoint block that changes every poll."""
    tick = next(_ticks)
    values = [(tick * 7 + n) % 65536 for n in range(24)]
    pdu = struct.pack(">BHHB", 16, 100, len(values), 2 * len(values)) + struct.pack(">24H", *values)
    return handle_request(pdu)


def main(requests=4000):
    last = None
    for i in range(requests):
        last = request(i)
    return last


if __name__ == "__main__":
    main()
    print("served requests; decoded PDUs cached:",
          len(create_function_from_request_pdu.__closure__[0].cell_contents))
