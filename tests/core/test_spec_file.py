"""One versioned spec file format for every family: round trip, wrong family, newer version, pickles
and size bombs refused before anything is inflated."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from rig_dojo.envs.spec_file import HEADER, read_spec, write_spec
from rig_dojo.errors import RigDojoError


def test_a_spec_round_trips_with_its_family_and_metadata(tmp_path):
    arrays = {"points": np.arange(12.0).reshape(4, 3), "ids": np.array([1, 2, 3])}
    write_spec(tmp_path / "s.npz", "camera", {"fps": 24, "name": "Cam"}, arrays)
    meta, back = read_spec(tmp_path / "s.npz", "camera")
    assert meta == {"fps": 24, "name": "Cam"}
    assert set(back) == {"points", "ids"} and np.array_equal(back["points"], arrays["points"])


def test_another_familys_spec_is_refused_by_name(tmp_path):
    write_spec(tmp_path / "s.npz", "physics", {}, {"a": np.zeros(2)})
    with pytest.raises(RigDojoError, match="is a physics spec, not a camera one"):
        read_spec(tmp_path / "s.npz", "camera")


def test_a_newer_version_says_to_update(tmp_path):
    header = {"format": "rig_dojo.spec", "version": 99, "family": "camera", "meta": {}}
    np.savez(tmp_path / "s.npz", **{HEADER: np.array(json.dumps(header))})
    with pytest.raises(RigDojoError, match="version 99.*Update Rig Dojo"):
        read_spec(tmp_path / "s.npz", "camera")


def test_a_pickled_array_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.savez(tmp_path / "s.npz", **{HEADER: np.array(json.dumps({"format": "rig_dojo.spec", "version": 1,
                                                                  "family": "camera", "meta": {}})),
                                    "evil": np.array([Payload()], dtype=object)})
    with pytest.raises(RigDojoError, match="not a Rig Dojo camera shot file"):
        read_spec(tmp_path / "s.npz", "camera")
    assert not marker.exists()


def test_declared_sizes_are_checked_before_inflating(tmp_path):
    path = tmp_path / "bomb.npz"
    buf = io.BytesIO()
    np.save(buf, np.zeros(16))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{HEADER}.npy", buf.getvalue())
    # claim a member of 4 GB in the central directory
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).infolist()[0]
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (0xFFFFFFF0).to_bytes(4, "little")  # the uncompressed size field
    path.write_bytes(bytes(data))
    assert info.file_size > 0
    with pytest.raises(RigDojoError, match="declare more than"):
        read_spec(path, "camera")


def test_a_missing_or_foreign_file_is_one_clear_error(tmp_path):
    with pytest.raises(RigDojoError, match="no such spec file"):
        read_spec(tmp_path / "absent.npz", "camera")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(RigDojoError, match="not a Rig Dojo camera shot file"):
        read_spec(tmp_path / "text.npz", "camera")
