"""The model repository on disk: ``ModelRepository`` owns it (configs, versions, contracts, labels,
the index, the lifecycle state); the modules here are its parts."""

from modelserve.repository.errors import (
    ConfigValidationError,
    RepositoryError,
    RepositoryReadError,
    RepositoryWriteError,
    UnknownParameterError,
    VersionExistsError,
)
from modelserve.repository.lifecycle import LifecycleState
from modelserve.repository.repository import CONFIG_NAME, ModelRepository, RepositoryModel
from modelserve.repository.spec import (
    DynamicBatching,
    InstanceGroup,
    ModelEntry,
    TensorConfig,
    VersionPolicy,
    check_model_name,
)
from modelserve.repository.version import WrittenVersion

__all__ = [
    "CONFIG_NAME",
    "ConfigValidationError",
    "DynamicBatching",
    "InstanceGroup",
    "LifecycleState",
    "ModelEntry",
    "ModelRepository",
    "RepositoryError",
    "RepositoryModel",
    "RepositoryReadError",
    "RepositoryWriteError",
    "TensorConfig",
    "UnknownParameterError",
    "VersionExistsError",
    "VersionPolicy",
    "WrittenVersion",
    "check_model_name",
]
