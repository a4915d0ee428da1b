/* bcryptprimitives.dll for wine 8, which lacks ProcessPrng: Rust's std (1.78 and later) imports
 * it to seed its hash maps, so every Rust program exits with code 53 before main without it.
 * This exports ProcessPrng on top of RtlGenRandom (advapi32's SystemFunction036), which wine
 * has. Only scripts/windows-wine.sh builds and installs it, into a wine prefix of its own. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
