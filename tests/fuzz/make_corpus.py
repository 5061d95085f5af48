"""Write the fuzz seed corpus (``tests/fuzz/corpus/<target>/``) from ``shared/recordings`` and generated files.

Seeds are small (a few kB): heads of the real recordings cut at a chosen byte
count (third-party data, so they are cut by this script, not hand-copied), and
files written by evstream's own writers or built from the byte layouts of
``shared/spec/formats.md`` for formats without a real recording (AEDAT 3.1,
EVT 2.1, HDF5, NumPy, CSV, wire messages). Run ``python -m tests.fuzz.make_corpus``
from the repository root; it replaces the corpus.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

import evstream.io as eio
from tests.conftest import RECORDINGS
from tests.fuzz.targets import TARGETS, join_frames
from tests.io.naive_decoders import aedat3_file

CORPUS = Path(__file__).resolve().parent / "corpus"
HEADS = {
    "aedat2": [("bad/aedat2-dvs128-header-then-text-garbage.aedat", 2000)],
    "aedat4": [("aedat4/dvs128-redpob-2024_06_13_16_16_25.aedat4", 8000)],
    "evt2": [("evt2/gen3-expelliarmus-evt2_sample.raw", 4000)],
    "evt3": [("evt3/gen41-expelliarmus-evt3_sample.raw", 6000)],
    "dat": [("dat/ncars-tonic-sample.dat", 3400)],
    "nmnist": [("nmnist/nmnist-tonic-sample.bin", 3000)],
}
"""Target -> (recording, bytes kept from its start)."""
EVENTS = "aedat4/dvxplorer-tonic-sample.aedat4"
"""Recording whose first events feed the generated seeds (320 x 240 pixels)."""


def _events(n: int) -> np.ndarray:
    return eio.read(RECORDINGS / EVENTS)[:n]


def _written(folder: Path, name: str, events: np.ndarray, **options) -> bytes:
    path = folder / name
    eio.write(path, events, width=320, height=240, **options)
    return path.read_bytes()


def _aedat2_head(rel: str, chip: bytes) -> bytes:
    """AEDAT 2.0: the version and AEChip lines (real headers run to 175 kB of preferences),
    then the first 500 records of the recording ``rel``."""
    path = RECORDINGS / rel
    offset = eio.open(path).metadata["data_offset"]
    with open(path, "rb") as fh:
        fh.seek(offset)
        records = fh.read(4000)
    return b"#!AER-DAT2.0\r\n# AEChip: " + chip + b"\r\n" + records


def _aedat3() -> bytes:
    """AEDAT 3.1: polarity packets of real events (with a timestamp overflow) and an IMU packet between."""
    ev = _events(200)
    words = np.empty(2 * len(ev), np.uint32)
    words[0::2] = (ev["x"].astype(np.uint32) << 17) | (ev["y"].astype(np.uint32) << 2) | (ev["p"] << 1) | 1
    words[1::2] = ev["t"] & 0x7FFFFFFF
    imu = np.arange(16, dtype=np.uint32)
    return aedat3_file([(1, 0, words[:200]), (3, 0, imu), (1, 1, words[200:])], source="DAVIS346")


def _evt21(legacy: bool) -> bytes:
    """EVT 2.1 built from the real EVT 2.0 words: TIME_HIGH kept, each CD word with a 1- or 3-bit mask."""
    path = RECORDINGS / HEADS["evt2"][0][0]
    rec = eio.open(path)
    words = np.frombuffer(path.read_bytes()[rec.metadata["data_offset"]:][:2000], "<u4").astype(np.uint64)
    masks = np.where(np.arange(len(words)) % 3 == 0, 0b101, 1).astype(np.uint64)
    masks[(words >> np.uint64(28)) == 8] = 0
    wide = (words << np.uint64(32)) | masks
    if legacy:
        wide = (wide << np.uint64(32)) | (wide >> np.uint64(32))
    head = b"% format EVT21;height=480;width=640" + (b";endianness=legacy" if legacy else b"") + b"\n% end\n"
    return head + wide.astype("<u8").tobytes()


def _wire() -> dict[str, bytes]:
    from evstream.events import EventPacket
    from evstream.packets import FramePacket, LabelPacket, TensorPacket
    from evstream.transport.wire import encode, encode_eos

    ev = _events(40)
    t0, t1 = np.array([0, 10], np.int64), np.array([10, 20], np.int64)
    packets = {
        "events": EventPacket(ev, 320, 240, int(ev["t"][0]), int(ev["t"][-1]) + 1, 3),
        "frames": FramePacket(np.ones((2, 2, 4, 4), np.float32), t0, t1, 4),
        "tensor": TensorPacket(np.arange(6, dtype=np.int16).reshape(2, 3), t0, t1, 5),
        "labels": LabelPacket(np.array([1, 2]), np.array([0.5, 0.25], np.float32), t0, t1, 6, ("a", "b", "c")),
    }
    seeds = {f"{k}.msg": join_frames([bytes(f) for f in encode(p, "cam", "9f3c", 7, 123)]) for k, p in packets.items()}
    seeds["eos.msg"] = join_frames(encode_eos("cam", "9f3c", 8, 124))
    return seeds


def build(corpus: Path = CORPUS) -> dict[str, int]:
    """Write every target's seeds under ``corpus``; returns bytes per target."""
    seeds: dict[str, dict[str, bytes]] = {name: {} for name in TARGETS}
    for target, heads in HEADS.items():
        for rel, size in heads:
            seeds[target][f"{Path(rel).stem}-head{Path(rel).suffix}"] = (RECORDINGS / rel).read_bytes()[:size]
    seeds["aedat2"]["davis240-head.aedat"] = _aedat2_head("aedat2/davis240c-pyaedattools-IMU_translBoxes.aedat",
                                                          b"eu.seebetter.ini.chips.davis.DAVIS240C")
    seeds["aedat2"]["dvs128-head.aedat"] = _aedat2_head("aedat2/dvs128-alexouyang-neal_walking.aedat",
                                                        b"ch.unizh.ini.jaer.chip.retina.DVS128")
    seeds["aedat3"]["generated.aedat"] = _aedat3()
    seeds["evt21"]["generated.raw"] = _evt21(False)
    seeds["evt21"]["generated-legacy.raw"] = _evt21(True)
    seeds["bs2"]["nmnist-middle.bs2"] = (RECORDINGS / HEADS["nmnist"][0][0]).read_bytes()[5000:8000]
    seeds["wire"] = _wire()
    ev = _events(300)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for compression in ("lz4", "zstd", "none"):
            seeds["aedat4"][f"evstream-{compression}.aedat4"] = _written(folder, f"{compression}.aedat4", ev[:120],
                                                                         compression=compression)
        seeds["evt2"]["evstream.raw"] = _written(folder, "a.evt2", ev)
        seeds["evt3"]["evstream.raw"] = _written(folder, "a.raw", ev)
        seeds["hdf5"]["evstream.h5"] = _written(folder, "a.h5", ev)
        seeds["npy"]["evstream.npy"] = _written(folder, "a.npy", ev)
        np.save(folder / "tonic.npy", np.rec.fromarrays([ev["x"].astype(np.int16), ev["y"].astype(np.int16),
                                                         ev["t"], ev["p"].astype(bool)], names="x,y,t,on"))
        seeds["npy"]["tonic-layout.npy"] = (folder / "tonic.npy").read_bytes()
        seeds["npz"]["evstream.npz"] = _written(folder, "a.npz", ev)
        np.savez(folder / "cols.npz", t=ev["t"], x=ev["x"], y=ev["y"], p=ev["p"])
        seeds["npz"]["columns.npz"] = (folder / "cols.npz").read_bytes()
        seeds["csv"]["faery-header.csv"] = _written(folder, "a.csv", ev[:100])
        seeds["csv"]["headerless.csv"] = b"".join(b"%d,%d,%d,%d\n" % tuple(int(e[k]) for k in "txyp") for e in ev[:60])
    shutil.rmtree(corpus, ignore_errors=True)
    sizes = {}
    for target, files in seeds.items():
        (corpus / target).mkdir(parents=True)
        for name, data in files.items():
            (corpus / target / name).write_bytes(data)
        sizes[target] = sum(len(d) for d in files.values())
    return sizes


if __name__ == "__main__":
    sizes = build()
    for target, size in sizes.items():
        print(f"{target:8s} {size:7d} bytes")
    print(f"total    {sum(sizes.values()):7d} bytes in {CORPUS}")
