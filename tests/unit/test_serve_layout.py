from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from modelserve.serve.errors import (
    AddressError,
    CacheNotAvailableError,
    PathNotWritableError,
    PortInUseError,
    RepositoryError,
)
from modelserve.serve.layout import prepare_backend_dir
from modelserve.serve.locate import TritonDistribution, locate_triton
from modelserve.serve.ports import check_free, free_port, resolve
from modelserve.serve.preflight import check_can_start, check_writable_dir
from modelserve.serve.server import EmbeddedTriton, Endpoints, build_command, server_environment
from modelserve.serve.settings import ServerSettings
from modelserve.serve.stub_env import StubEnvironment


def _fake_dist(tmp_path: Path) -> TritonDistribution:
    root = tmp_path / "wheel"
    (root / "backends" / "python").mkdir(parents=True)
    (root / "backends" / "python" / "libtriton_python.so").write_bytes(b"so")
    (root / "backends" / "python" / "triton_python_backend_utils.py").write_text("# utils")
    (root / "stub").write_bytes(b"stub")
    return TritonDistribution(
        root=root,
        binary=root / "tritonserver",
        python_backend_dir=root / "backends" / "python",
        stub=root / "stub",
        libs_dir=tmp_path / "libs",
        cache_dir=root / "caches",
    )


def test_backend_dir_holds_real_copies_not_links(tmp_path):
    backend = prepare_backend_dir(_fake_dist(tmp_path), tmp_path / "backends")
    expected = (
        "python/libtriton_python.so",
        "python/triton_python_backend_utils.py",
        "python/triton_python_backend_stub",
        "onnxruntime/model.py",
        "onnxruntime/modelserve_ort_runner.py",
        "onnxruntime/modelserve_host_staging.py",
    )
    for rel in expected:
        path = backend / rel
        assert path.is_file() and not path.is_symlink(), rel
    assert os.access(backend / "python" / "triton_python_backend_stub", os.X_OK)


def test_backend_dir_refresh_is_idempotent_and_picks_up_changes(tmp_path):
    dist = _fake_dist(tmp_path)
    backend = prepare_backend_dir(dist, tmp_path / "backends")
    (dist.python_backend_dir / "triton_python_backend_utils.py").write_text("# new")
    prepare_backend_dir(dist, backend)
    assert (backend / "python" / "triton_python_backend_utils.py").read_text() == "# new"


def test_the_installed_wheel_is_located():
    dist = locate_triton()
    assert (
        dist.binary.is_file()
        and dist.stub.parent.name == f"{sys.version_info.major}.{sys.version_info.minor}"
    )


def test_environment_puts_the_stub_environment_first_and_the_bundled_libs_on_the_loader_path(tmp_path):
    dist = _fake_dist(tmp_path)
    stub = StubEnvironment(tmp_path / "stub-runtime")
    env = server_environment(dist, stub, {"PATH": "/usr/bin", "PYTHONPATH": "/x"})
    assert env["PATH"].split(os.pathsep)[:2] == [str(stub.bin_dir), str(Path(sys.executable).parent)]
    assert str(dist.libs_dir) in env["LD_LIBRARY_PATH"].split(os.pathsep)
    assert "PYTHONPATH" not in env


def test_command_chooses_explicit_control_and_per_model_readiness(tmp_path):
    settings = ServerSettings(repository=tmp_path, load_models=("a", "b"))
    endpoints = Endpoints(host="127.0.0.1", http_port=1, grpc_port=2, metrics_port=3)
    cmd = build_command(_fake_dist(tmp_path), settings, endpoints, tmp_path / "b", "pfx_")
    assert "--model-control-mode=explicit" in cmd and "--strict-readiness=false" in cmd
    assert "--load-model=a" in cmd and "--load-model=b" in cmd
    assert "--backend-config=python,shm-region-prefix-name=pfx_" in cmd
    assert "--http-port=1" in cmd and "--grpc-port=2" in cmd and "--metrics-port=3" in cmd
    assert not any(a.startswith("--cache") for a in cmd)


def test_command_points_triton_at_the_wheels_cache_library_when_a_cache_is_configured(tmp_path):
    dist = _fake_dist(tmp_path)
    settings = ServerSettings(repository=tmp_path, cache_config=("local,size=1048576",))
    endpoints = Endpoints(host="127.0.0.1", http_port=1, grpc_port=2, metrics_port=3)
    cmd = build_command(dist, settings, endpoints, tmp_path / "b", "pfx_")
    assert f"--cache-directory={dist.cache_dir}" in cmd and "--cache-config=local,size=1048576" in cmd


def test_the_installed_wheel_ships_the_local_response_cache():
    dist = locate_triton()
    assert "local" in dist.caches()
    assert (dist.cache_dir / "local" / "libtritoncache_local.so").is_file()


def test_a_cache_the_wheel_does_not_ship_is_refused_before_start(tmp_path):
    settings = ServerSettings(repository=tmp_path, cache_config=("redis,host=localhost",))
    with pytest.raises(CacheNotAvailableError, match="'redis' is not shipped.*available: local"):
        EmbeddedTriton(settings).start()


def test_a_malformed_cache_config_is_refused_with_an_example(tmp_path):
    with pytest.raises(ValueError, match="not <cache>,<key>=<value>"):
        ServerSettings(repository=tmp_path, cache_config=("local",))


def test_settings_refuse_bad_values(tmp_path):
    with pytest.raises(ValueError, match="http_port=70000"):
        ServerSettings(repository=tmp_path, http_port=70000)
    with pytest.raises(ValueError, match="explicit, poll or none"):
        ServerSettings(repository=tmp_path, model_control="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ports must differ"):
        ServerSettings(repository=tmp_path, http_port=8000, grpc_port=8000)
    assert ServerSettings(repository=tmp_path, http_port=0, grpc_port=0, metrics_port=0).grpc_port == 0


def test_preflight_names_a_taken_port_and_an_unusable_path_without_writing(tmp_path):
    import socket

    settings = ServerSettings(
        repository=tmp_path, http_port=0, grpc_port=0, metrics_port=0, work_dir=tmp_path / "w"
    )
    check_can_start(settings)  # all free, nothing written
    assert not (tmp_path / "w").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"metrics port {port}"):
            check_can_start(replace(settings, metrics_port=port))
    (tmp_path / "file").write_text("x")
    with pytest.raises(PathNotWritableError, match="work directory .*file is a file, not a directory"):
        check_can_start(replace(settings, work_dir=tmp_path / "file" / "w"))
    check_writable_dir(tmp_path / "new" / "deeper", "model repository")  # creatable: fine
    assert not (tmp_path / "new").exists()


def test_taken_port_is_named(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"HTTP port {port}"):
            check_free("127.0.0.1", port, "HTTP")
    assert resolve("127.0.0.1", 0, "HTTP", set()) > 0 and free_port() > 0
    with pytest.raises(AddressError, match="API address 'bad host!' is not usable"):
        check_free("bad host!", 8080, "API")
    with pytest.raises(AddressError, match="cannot listen on 192.0.2.1:8080"):  # not this machine's
        check_free("192.0.2.1", 8080, "API")


def test_missing_repository_is_a_clear_error(tmp_path):
    with pytest.raises(RepositoryError, match="does not exist"):
        EmbeddedTriton(ServerSettings(repository=tmp_path / "nope")).start()
