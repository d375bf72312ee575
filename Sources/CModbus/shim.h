#ifndef OUTPOST_CMODBUS_SHIM_H
#define OUTPOST_CMODBUS_SHIM_H
// libmodbus 3.1 (Debian's libmodbus-dev): pkg-config puts its folder on the include path.
#include <modbus.h>
#endif
