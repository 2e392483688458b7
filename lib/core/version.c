/*
 * version.c - the run-time library version.
 */
#include "../util/util.h"

uint32_t cm_version_hex(void)
{
    return (uint32_t)CM_VERSION_HEX;
}
const char *cm_version_string(void)
{
    return CM_VERSION_STRING;
}
