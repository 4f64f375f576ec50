# Draws Roost's placeholder icon (a rounded square with a perch bar and a bird-ish circle) as an
# RGBA PNG, without any imaging library.
import struct, zlib, sys, math
def png(path, size):
    rows = []
    r = size * 0.2
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            # rounded square mask
            dx = max(r - x, 0, x - (size - 1 - r)); dy = max(r - y, 0, y - (size - 1 - r))
            inside = dx*dx + dy*dy <= r*r
            if not inside:
                row += bytes([0, 0, 0, 0]); continue
            col = (37, 99, 235, 255)
            cx, cy = size*0.5, size*0.42
            if (x-cx)**2 + (y-cy)**2 <= (size*0.2)**2:
                col = (250, 250, 250, 255)
            if abs(y - size*0.72) <= size*0.04 and size*0.2 <= x <= size*0.8:
                col = (251, 191, 36, 255)
            row += bytes(col)
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)
png(sys.argv[1], int(sys.argv[2]))
