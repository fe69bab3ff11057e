"""Host staging buffers: page alignment, pinning through a CUDA runtime, and failure to pin."""

from __future__ import annotations

import numpy as np

from modelserve.serve.backend.modelserve_host_staging import HostStaging, aligned_zeros, loaded_cudart


class FakeCudart:
    """Stands in for libcudart: records registrations; fails from the ``fail_at``-th call."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.registered: dict[int, int] = {}
        self.calls = 0
        self.fail_at = fail_at

    def cudaHostRegister(self, ptr: int, size: int, flags: int) -> int:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            return 2  # cudaErrorMemoryAllocation
        assert flags == 1  # portable: pinned for every context in the process
        self.registered[ptr] = size
        return 0

    def cudaHostUnregister(self, ptr: int) -> int:
        del self.registered[ptr]
        return 0


SHAPES = {"x": ((3, 8, 8), np.float32), "mask": ((5,), np.int64)}


def test_buffers_are_page_aligned_zeroed_and_sized_per_bucket():
    a = aligned_zeros((3, 5), np.float32)
    assert a.ctypes.data % 4096 == 0 and a.flags.c_contiguous and not a.any()
    staging = HostStaging(SHAPES, (1, 4), pin=False)
    views = staging.views(4)
    assert views is not None and views["x"].shape == (4, 3, 8, 8) and views["mask"].dtype == np.int64
    assert staging.views(3) is None and staging.sizes == (1, 4) and not staging.pinned


def test_pinning_registers_every_buffer_and_close_unregisters():
    cudart = FakeCudart()
    staging = HostStaging(SHAPES, (1, 2, 4), pin=True, cudart=cudart)
    assert staging.pinned and len(cudart.registered) == 6
    views = staging.views(2)
    assert views is not None and cudart.registered[views["x"].ctypes.data] == 2 * 3 * 8 * 8 * 4
    staging.close()
    assert cudart.registered == {} and not staging.pinned


def test_a_failed_registration_unpins_everything_and_keeps_plain_buffers():
    cudart = FakeCudart(fail_at=3)
    staging = HostStaging(SHAPES, (1, 2, 4), pin=True, cudart=cudart)
    assert not staging.pinned and cudart.registered == {}
    assert staging.views(4) is not None  # still usable, just pageable


def test_no_cuda_runtime_in_this_process_means_no_pinning(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 00000000 00:00 0  /usr/lib/libc.so.6\n")
    assert loaded_cudart(maps) is None
    assert loaded_cudart(tmp_path / "missing") is None
